"""Input check shared by the torch twins (mirror of keras_models/inputs.py)."""

import torch


def check_images(images: torch.Tensor, channels: int, size: int) -> None:
    """Raise a ValueError unless `images` is a float batch (B, channels, size, size).

    Keras checks its inputs against the model's `input_spec`; torch would fail
    later inside a matmul with a message about mat1 and mat2, so check up front.
    """
    expected = (channels, size, size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected or not images.is_floating_point():
        raise ValueError(
            f"Expected a float batch of channels-first images of shape "
            f"(batch, {channels}, {size}, {size}). Received: shape={tuple(images.shape)}, "
            f"dtype={images.dtype}. Convert with `images.float()` and, for NHWC "
            f"arrays, `images.permute(0, 3, 1, 2)`."
        )
