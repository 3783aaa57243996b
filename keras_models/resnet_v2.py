"""ResNetV2 with pre-activation blocks (He et al. 2016), Keras 3.

Twin of `torch_models/resnet_v2.py`: same classes, arguments and attribute names.
Input: channels-last images (B, 28, 28, 1). Output: logits (B, num_classes).

Two framework defaults are overridden so the twins are the same model:
- BatchNormalization(momentum=0.9, epsilon=1e-5): Keras defaults to 0.99/1e-3,
  torch to 0.1/1e-5, and Keras' momentum weighs the *old* statistic
  (new = 0.9 * old + 0.1 * batch), torch's the *new* one; 0.9 here ≡ 0.1 there.
- 3×3 convolutions pad explicitly by 1 on every side. At stride 2 Keras'
  padding="same" pads only bottom/right (it needs one pixel on 28×28), while
  torch's padding=1 pads all four sides; same weights, different outputs.
"""

import keras
from keras import ops

import twin_arguments
from keras_models.inputs import check_images

# Keras' momentum is the weight of the running statistic (torch's is 1 - this).
BN_MOMENTUM = 0.9
# torch's default epsilon; Keras' default is 1e-3.
BN_EPSILON = 1e-5


def batch_norm(name: str, dtype) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name, dtype=dtype)


def conv(filters: int, kernel_size: int, stride: int, name: str, dtype) -> keras.layers.Conv2D:
    # padding="valid": every 3×3 conv gets an explicit symmetric ZeroPadding2D(1)
    # first. Glorot uniform is Keras' default, stated because torch's differs.
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding="valid",
        use_bias=False,
        kernel_initializer="glorot_uniform",
        name=name,
        dtype=dtype,
    )


@keras.saving.register_keras_serializable(package="keras_models")
class PreActBlock(keras.layers.Layer):
    """BN → ReLU → Conv3×3(stride) → BN → ReLU → Conv3×3, plus a shortcut.

    The shortcut is the identity, or, when the shape changes, a 1×1 conv with
    the block's stride applied to the pre-activated input.

    Args:
        in_channels: channels of the input (checked when the block is built).
        out_channels: channels of the output.
        stride: stride of the first 3×3 conv and of the shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.in_channels = twin_arguments.positive_int("in_channels", in_channels)
        self.out_channels = twin_arguments.positive_int("out_channels", out_channels)
        if stride not in (1, 2):
            raise ValueError(f"`stride` must be 1 or 2. Received: stride={stride!r}")
        self.stride = stride

        # Sub-layers compute in the block's own dtype policy (mixed precision included).
        policy = self.dtype_policy
        self.pad = keras.layers.ZeroPadding2D(1, dtype=policy)  # same as torch's padding=1
        self.bn_1 = batch_norm("bn_1", policy)
        self.conv_1 = conv(out_channels, 3, stride, "conv_1", policy)
        self.bn_2 = batch_norm("bn_2", policy)
        self.conv_2 = conv(out_channels, 3, 1, "conv_2", policy)
        needs_projection = stride != 1 or in_channels != out_channels
        self.shortcut = conv(out_channels, 1, stride, "shortcut", policy) if needs_projection else None

    def build(self, input_shape):
        batch, height, width, channels = input_shape
        if channels != self.in_channels:
            raise ValueError(
                f"PreActBlock was created with in_channels={self.in_channels} but "
                f"received input of shape {tuple(input_shape)}."
            )
        self.bn_1.build(input_shape)
        self.conv_1.build((batch, None, None, self.in_channels))
        self.bn_2.build((batch, None, None, self.out_channels))
        self.conv_2.build((batch, None, None, self.out_channels))
        if self.shortcut is not None:
            self.shortcut.build(input_shape)

    def call(self, x, training=None):
        out = ops.relu(self.bn_1(x, training=training))  # (B, H, W, C_in)
        shortcut = x if self.shortcut is None else self.shortcut(out)  # (B, H/s, W/s, C_out)
        out = self.conv_1(self.pad(out))  # (B, H/s, W/s, C_out)
        out = ops.relu(self.bn_2(out, training=training))
        out = self.conv_2(self.pad(out))  # (B, H/s, W/s, C_out)
        return out + shortcut

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        if self.stride == 2:
            height = None if height is None else (height + 1) // 2
            width = None if width is None else (width + 1) // 2
        return (batch, height, width, self.out_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "stride": self.stride,
        }


@keras.saving.register_keras_serializable(package="keras_models")
class ResNetV2(keras.Model):
    """Stem conv + BN → pre-activation blocks → BN → ReLU → global mean → Dense.

    Args:
        num_classes: number of output logits.
        image_size: height and width of the square, one-channel input images.
        stem_channels: output channels of the stem's 3×3 conv.
        block_channels: output channels of each PreActBlock.
        block_strides: stride of each PreActBlock (1 or 2).
    """

    def __init__(
        self,
        num_classes: int = 10,
        image_size: int = 28,
        stem_channels: int = 32,
        block_channels: tuple[int, ...] = (32, 64, 64, 128, 128),
        block_strides: tuple[int, ...] = (1, 2, 1, 2, 1),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.stem_channels = twin_arguments.positive_int("stem_channels", stem_channels)
        self.block_channels = twin_arguments.positive_ints("block_channels", block_channels)
        self.block_strides = twin_arguments.positive_ints(
            "block_strides", block_strides, length=len(self.block_channels)
        )

        policy = self.dtype_policy
        self.pad = keras.layers.ZeroPadding2D(1, dtype=policy)
        self.stem_conv = conv(stem_channels, 3, 1, "stem_conv", policy)
        self.stem_bn = batch_norm("stem_bn", policy)
        in_channels = (stem_channels, *self.block_channels[:-1])
        self.blocks = [
            PreActBlock(c_in, c_out, stride, name=f"block_{i}", dtype=policy)
            for i, (c_in, c_out, stride) in enumerate(zip(in_channels, self.block_channels, self.block_strides))
        ]
        self.final_bn = batch_norm("final_bn", policy)
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            name="head",
            dtype=policy,
        )

    def build(self, input_shape):
        shape = (None, self.image_size, self.image_size, 1)
        self.stem_conv.build(shape)
        shape = (None, self.image_size, self.image_size, self.stem_channels)
        self.stem_bn.build(shape)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.final_bn.build(shape)
        self.head.build((None, self.block_channels[-1]))

    def call(self, images, training=None):
        check_images(images, channels=1, size=self.image_size)
        x = self.stem_bn(self.stem_conv(self.pad(images)), training=training)  # (B, 28, 28, 32)
        for block in self.blocks:
            x = block(x, training=training)  # (B, 7, 7, 128) after the last block
        x = ops.relu(self.final_bn(x, training=training))
        x = ops.mean(x, axis=(1, 2))  # global average pooling: (B, C)
        return self.head(x)  # (B, num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "stem_channels": self.stem_channels,
            "block_channels": list(self.block_channels),
            "block_strides": list(self.block_strides),
        }
