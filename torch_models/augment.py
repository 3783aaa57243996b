"""Random shifts and rotations of training images, as on-device tensor ops.

Twin of `keras_models/augment.py`: same class and arguments, the same
distribution of transforms. Active only in training mode (`model.train()`);
the identity in eval mode.
Input and output: channels-first images (B, C, H, W).
"""

import torch
import torch.nn.functional as F
from torch import nn

import twin_arguments


class RandomShiftRotate(nn.Module):
    """Rotate by an angle uniform in ±max_degrees, then shift by up to ±max_shift
    of the image side, independently in x and y; empty borders are filled with 0.

    Keras applies its two layers one after the other (two resamplings); here both
    transforms are composed into one affine map and the image is resampled once.

    Args:
        max_degrees: largest rotation, in degrees.
        max_shift: largest shift, as a fraction of the image height and width.
    """

    def __init__(self, max_degrees: float = 10.0, max_shift: float = 0.1):
        super().__init__()
        self.max_degrees = twin_arguments.non_negative_float("max_degrees", max_degrees)
        self.max_shift = twin_arguments.rate("max_shift", max_shift)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return images
        batch = images.shape[0]

        def uniform(*shape: int) -> torch.Tensor:  # uniform in [-1, 1)
            return torch.rand(*shape, device=images.device) * 2 - 1

        angle = torch.deg2rad(uniform(batch) * self.max_degrees)  # (B,)
        # affine_grid measures positions in [-1, 1] across the image: a shift of a
        # fraction f of the side is 2f there.
        shift = uniform(batch, 2, 1) * self.max_shift * 2  # (B, 2, 1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)
        # grid_sample looks each output pixel up in the input: output x reads input
        # R·x + R·s, i.e. the image rotated, then shifted (Keras' order).
        theta = torch.cat([rotation, rotation @ shift], dim=-1)  # (B, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
