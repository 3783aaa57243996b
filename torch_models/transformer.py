"""Vision-transformer classifier for MNIST (pre-LayerNorm encoder blocks), plain PyTorch.

Twin of `keras_models/transformer.py`: same classes, arguments and attribute names.
Input: channels-first images (B, 1, 28, 28). Output: logits (B, num_classes).

Framework defaults set explicitly so the twins are the same model:
- LayerNorm(eps=1e-5) (torch's default; Keras' is 1e-3).
- GELU is exact (erf), torch's default; `keras.ops.gelu` defaults to tanh.
- Linear weights, attention projections and the position embedding start from
  trunc_normal(std=0.02, cut at ±2σ), biases from zeros, on both sides.
"""

import torch
import torch.nn.functional as F
from torch import nn

import twin_arguments
from torch_models.inputs import check_images

LN_EPSILON = 1e-5
INIT_STD = 0.02


def init_normal_(weight: torch.Tensor) -> None:
    # Keras' TruncatedNormal(stddev) redraws beyond 2σ; torch takes absolute bounds.
    nn.init.trunc_normal_(weight, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)


@torch.no_grad()
def init_transformer_(module: nn.Module) -> None:
    """trunc_normal(0.02) for Linear and attention weights, zeros for their biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            init_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.MultiheadAttention):
            init_normal_(layer.in_proj_weight)
            nn.init.zeros_(layer.in_proj_bias)


class PatchEmbedding(nn.Module):
    """Cut an image into non-overlapping patches, project each, add positions.

    Args:
        image_size: height and width of the square, one-channel input images.
        patch_size: height and width of each patch (must divide image_size).
        d_model: width of each token.
    """

    def __init__(self, image_size: int = 28, patch_size: int = 7, d_model: int = 64):
        super().__init__()
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.patch_size = twin_arguments.positive_int("patch_size", patch_size)
        self.d_model = twin_arguments.positive_int("d_model", d_model)
        twin_arguments.divisible("image_size", image_size, "patch_size", patch_size)
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size**2

        self.proj = nn.Linear(patch_size**2, d_model)
        self.position = nn.Parameter(torch.empty(self.num_patches, d_model))
        with torch.no_grad():
            init_normal_(self.position)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        g, p = self.grid_size, self.patch_size
        x = images.reshape(-1, g, p, g, p)  # (B, gh, p, gw, p), channel dropped
        x = x.permute(0, 1, 3, 2, 4)  # (B, gh, gw, p, p)
        x = x.reshape(-1, g * g, p * p)  # (B, T, p*p), patches in row-major order
        return self.proj(x) + self.position  # (B, T, C)


class EncoderBlock(nn.Module):
    """Pre-LN transformer encoder block.

        x = x + Dropout(MultiheadAttention(LN(x)))
        x = x + Dropout(Linear(GELU(Linear(LN(x)))))

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
    ):
        super().__init__()
        self.d_model = twin_arguments.positive_int("d_model", d_model)
        self.num_heads = twin_arguments.positive_int("num_heads", num_heads)
        self.ff_dim = twin_arguments.positive_int("ff_dim", ff_dim)
        self.dropout_rate = twin_arguments.rate("dropout_rate", dropout_rate)
        twin_arguments.divisible("d_model", d_model, "num_heads", num_heads)

        self.ln_1 = nn.LayerNorm(d_model, eps=LN_EPSILON)
        # Attention-weight dropout is off in both twins; dropout acts on the branch.
        self.attn = nn.MultiheadAttention(d_model, num_heads, dropout=0.0, batch_first=True)
        self.ln_2 = nn.LayerNorm(d_model, eps=LN_EPSILON)
        self.ff_1 = nn.Linear(d_model, ff_dim)
        self.ff_2 = nn.Linear(ff_dim, d_model)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)  # (B, T, C)
        x = x + self.dropout(self.attn(h, h, h, need_weights=False)[0])
        h = F.gelu(self.ff_1(self.ln_2(x)), approximate="none")  # (B, T, ff_dim), exact GELU
        return x + self.dropout(self.ff_2(h))  # (B, T, C)


class TransformerClassifier(nn.Module):
    """PatchEmbedding → EncoderBlock × num_blocks → LN → mean over tokens → Linear.

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
    ):
        super().__init__()
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.num_blocks = twin_arguments.positive_int("num_blocks", num_blocks)

        self.patch_embed = PatchEmbedding(image_size, patch_size, d_model)
        self.blocks = nn.ModuleList(EncoderBlock(d_model, num_heads, ff_dim, dropout_rate) for _ in range(num_blocks))
        self.ln_f = nn.LayerNorm(d_model, eps=LN_EPSILON)
        self.head = nn.Linear(d_model, num_classes)
        init_transformer_(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=1, size=self.patch_embed.image_size)
        x = self.patch_embed(images)  # (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        x = self.ln_f(x).mean(dim=1)  # (B, C)
        return self.head(x)  # (B, num_classes)
