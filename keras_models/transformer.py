"""Vision-transformer classifier for MNIST (pre-LayerNorm encoder blocks), Keras 3.

Twin of `torch_models/transformer.py`: same classes, arguments and attribute names.
Input: channels-last images (B, 28, 28, 1). Output: logits (B, num_classes).

Framework defaults set explicitly so the twins are the same model:
- LayerNormalization(epsilon=1e-5): Keras' default is 1e-3, torch's 1e-5.
- GELU is exact (erf): `keras.ops.gelu` defaults to the tanh approximation,
  torch's `F.gelu` to the exact form.
- Kernels, attention projections and the position embedding start from
  TruncatedNormal(stddev=0.02) (truncated at 2σ), biases from zeros: the two
  frameworks' defaults differ and so do their glorot fans for the attention's
  per-head kernels, so a shape-independent initializer is used on both sides.
"""

import keras
from keras import ops

import twin_arguments
from keras_models.inputs import check_images

LN_EPSILON = 1e-5  # torch's default; Keras' is 1e-3


def init_normal() -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=0.02)


def dense(units: int, name: str, dtype) -> keras.layers.Dense:
    return keras.layers.Dense(units, kernel_initializer=init_normal(), bias_initializer="zeros", name=name, dtype=dtype)


def layer_norm(name: str, dtype) -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="keras_models")
class PatchEmbedding(keras.layers.Layer):
    """Cut an image into non-overlapping patches, project each, add positions.

    Args:
        image_size: height and width of the square, one-channel input images.
        patch_size: height and width of each patch (must divide image_size).
        d_model: width of each token.
    """

    def __init__(self, image_size: int = 28, patch_size: int = 7, d_model: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.patch_size = twin_arguments.positive_int("patch_size", patch_size)
        self.d_model = twin_arguments.positive_int("d_model", d_model)
        twin_arguments.divisible("image_size", image_size, "patch_size", patch_size)
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size**2

        self.proj = dense(d_model, "proj", self.dtype_policy)

    def build(self, input_shape):
        self.proj.build((None, self.num_patches, self.patch_size**2))
        self.position = self.add_weight(
            shape=(self.num_patches, self.d_model), initializer=init_normal(), name="position"
        )

    def call(self, images):
        g, p = self.grid_size, self.patch_size
        x = ops.reshape(images, (-1, g, p, g, p))  # (B, gh, p, gw, p), channel dropped
        x = ops.transpose(x, (0, 1, 3, 2, 4))  # (B, gh, gw, p, p)
        x = ops.reshape(x, (-1, g * g, p * p))  # (B, T, p*p), patches in row-major order
        return self.proj(x) + self.position  # (B, T, C)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_patches, self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "d_model": self.d_model,
        }


@keras.saving.register_keras_serializable(package="keras_models")
class EncoderBlock(keras.layers.Layer):
    """Pre-LN transformer encoder block.

        x = x + Dropout(MultiHeadAttention(LN(x)))
        x = x + Dropout(Dense(GELU(Dense(LN(x)))))

    Args:
        d_model: width of each token.
        num_heads: attention heads (must divide d_model).
        ff_dim: hidden width of the feed-forward network.
        dropout_rate: dropout on each residual branch.
    """

    def __init__(
        self,
        d_model: int = 64,
        num_heads: int = 4,
        ff_dim: int = 128,
        dropout_rate: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model = twin_arguments.positive_int("d_model", d_model)
        self.num_heads = twin_arguments.positive_int("num_heads", num_heads)
        self.ff_dim = twin_arguments.positive_int("ff_dim", ff_dim)
        self.dropout_rate = twin_arguments.rate("dropout_rate", dropout_rate)
        twin_arguments.divisible("d_model", d_model, "num_heads", num_heads)

        # Sub-layers compute in the block's own dtype policy (mixed precision included).
        policy = self.dtype_policy
        self.ln_1 = layer_norm("ln_1", policy)
        # Attention-weight dropout is off in both twins; dropout acts on the branch.
        self.attn = keras.layers.MultiHeadAttention(
            num_heads,
            key_dim=d_model // num_heads,
            dropout=0.0,
            kernel_initializer=init_normal(),
            bias_initializer="zeros",
            name="attn",
            dtype=policy,
        )
        self.ln_2 = layer_norm("ln_2", policy)
        self.ff_1 = dense(ff_dim, "ff_1", policy)
        self.ff_2 = dense(d_model, "ff_2", policy)
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=policy)

    def build(self, input_shape):
        self.ln_1.build(input_shape)
        self.attn.build(input_shape, input_shape)
        self.ln_2.build(input_shape)
        self.ff_1.build(input_shape)
        self.ff_2.build((*input_shape[:-1], self.ff_dim))

    def call(self, x, training=None):
        h = self.ln_1(x)  # (B, T, C)
        x = x + self.dropout(self.attn(h, h, training=training), training=training)
        h = ops.gelu(self.ff_1(self.ln_2(x)), approximate=False)  # (B, T, ff_dim), exact GELU
        return x + self.dropout(self.ff_2(h), training=training)  # (B, T, C)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout_rate": self.dropout_rate,
        }


@keras.saving.register_keras_serializable(package="keras_models")
class TransformerClassifier(keras.Model):
    """PatchEmbedding → EncoderBlock × num_blocks → LN → mean over tokens → Dense.

    Args:
        num_classes: number of output logits.
        image_size: height and width of the square, one-channel input images.
        patch_size: height and width of each patch.
        d_model: width of each token.
        num_heads: attention heads per block.
        ff_dim: hidden width of each block's feed-forward network.
        num_blocks: number of encoder blocks.
        dropout_rate: dropout on each residual branch.
    """

    def __init__(
        self,
        num_classes: int = 10,
        image_size: int = 28,
        patch_size: int = 7,
        d_model: int = 64,
        num_heads: int = 4,
        ff_dim: int = 128,
        num_blocks: int = 2,
        dropout_rate: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.num_blocks = twin_arguments.positive_int("num_blocks", num_blocks)

        policy = self.dtype_policy
        self.patch_embed = PatchEmbedding(image_size, patch_size, d_model, name="patch_embed", dtype=policy)
        self.blocks = [
            EncoderBlock(d_model, num_heads, ff_dim, dropout_rate, name=f"block_{i}", dtype=policy)
            for i in range(num_blocks)
        ]
        self.ln_f = layer_norm("ln_f", policy)
        self.head = dense(num_classes, "head", policy)

    def build(self, input_shape):
        self.patch_embed.build(input_shape)
        tokens = self.patch_embed.compute_output_shape(input_shape)
        for block in self.blocks:
            block.build(tokens)
        self.ln_f.build(tokens)
        self.head.build((None, tokens[-1]))

    def call(self, images, training=None):
        check_images(images, channels=1, size=self.patch_embed.image_size)
        x = self.patch_embed(images)  # (B, T, C)
        for block in self.blocks:
            x = block(x, training=training)  # (B, T, C)
        x = ops.mean(self.ln_f(x), axis=1)  # (B, C)
        return self.head(x)  # (B, num_classes)

    def get_config(self):
        block = self.blocks[0]
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "image_size": self.patch_embed.image_size,
            "patch_size": self.patch_embed.patch_size,
            "d_model": block.d_model,
            "num_heads": block.num_heads,
            "ff_dim": block.ff_dim,
            "num_blocks": self.num_blocks,
            "dropout_rate": block.dropout_rate,
        }
