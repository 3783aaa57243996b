"""ResNetV2 with pre-activation blocks (He et al. 2016), plain PyTorch.

Twin of `keras_models/resnet_v2.py`: same classes, arguments and attribute names.
Input: channels-first images (B, 1, 28, 28). Output: logits (B, num_classes).

Two framework defaults are set so the twins are the same model:
- BatchNorm2d(momentum=0.1, eps=1e-5): torch's momentum weighs the *new*
  batch statistic (new = 0.9 * old + 0.1 * batch), the opposite of Keras'
  convention, so 0.1 here ≡ 0.9 there.
- 3×3 convolutions use padding=1, which pads all four sides, also at stride 2
  (Keras' padding="same" would pad only bottom/right there).
"""

import torch
import torch.nn.functional as F
from torch import nn

import twin_arguments
from torch_models.initializers import init_glorot_uniform
from torch_models.inputs import check_images

# torch's momentum is the weight of the batch statistic (Keras' is 1 - this).
BN_MOMENTUM = 0.1
BN_EPSILON = 1e-5


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=BN_MOMENTUM)


def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int) -> nn.Conv2d:
    # padding=1 for 3×3 (symmetric on all sides), 0 for the 1×1 shortcut.
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        bias=False,
    )


class PreActBlock(nn.Module):
    """BN → ReLU → Conv3×3(stride) → BN → ReLU → Conv3×3, plus a shortcut.

    The shortcut is the identity, or, when the shape changes, a 1×1 conv with
    the block's stride applied to the pre-activated input.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first 3×3 conv and of the shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.in_channels = twin_arguments.positive_int("in_channels", in_channels)
        self.out_channels = twin_arguments.positive_int("out_channels", out_channels)
        if stride not in (1, 2):
            raise ValueError(f"`stride` must be 1 or 2. Received: stride={stride!r}")
        self.stride = stride

        self.bn_1 = batch_norm(in_channels)
        self.conv_1 = conv(in_channels, out_channels, 3, stride)
        self.bn_2 = batch_norm(out_channels)
        self.conv_2 = conv(out_channels, out_channels, 3, 1)
        needs_projection = stride != 1 or in_channels != out_channels
        self.shortcut = conv(in_channels, out_channels, 1, stride) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn_1(x))  # (B, C_in, H, W)
        shortcut = x if self.shortcut is None else self.shortcut(out)  # (B, C_out, H/s, W/s)
        out = self.conv_1(out)  # (B, C_out, H/s, W/s)
        out = F.relu(self.bn_2(out))
        out = self.conv_2(out)  # (B, C_out, H/s, W/s)
        return out + shortcut


class ResNetV2(nn.Module):
    """Stem conv + BN → pre-activation blocks → BN → ReLU → global mean → Linear.

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
    ):
        super().__init__()
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.stem_channels = twin_arguments.positive_int("stem_channels", stem_channels)
        self.block_channels = twin_arguments.positive_ints("block_channels", block_channels)
        self.block_strides = twin_arguments.positive_ints(
            "block_strides", block_strides, length=len(self.block_channels)
        )

        self.stem_conv = conv(1, stem_channels, 3, 1)
        self.stem_bn = batch_norm(stem_channels)
        in_channels = (stem_channels, *self.block_channels[:-1])
        self.blocks = nn.ModuleList(
            PreActBlock(c_in, c_out, stride)
            for c_in, c_out, stride in zip(in_channels, self.block_channels, self.block_strides)
        )
        self.final_bn = batch_norm(self.block_channels[-1])
        self.head = nn.Linear(self.block_channels[-1], num_classes)
        # Keras' Conv2D/Dense default, replacing torch's kaiming_uniform(a=sqrt(5)).
        init_glorot_uniform(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=1, size=self.image_size)
        x = self.stem_bn(self.stem_conv(images))  # (B, 32, 28, 28)
        for block in self.blocks:
            x = block(x)  # (B, 128, 7, 7) after the last block
        x = F.relu(self.final_bn(x))
        x = x.mean(dim=(2, 3))  # global average pooling: (B, C)
        return self.head(x)  # (B, num_classes)
