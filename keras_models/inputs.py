"""Input check shared by the Keras twins (mirror of torch_models/inputs.py)."""

import keras


def check_images(images, channels: int, size: int) -> None:
    """Raise a ValueError unless `images` is a float batch (B, size, size, channels).

    Runs on static shapes, so it costs nothing inside a compiled `fit` step. It
    replaces an `input_spec`, whose message for a missing channel axis names
    only the rank, not the expected shape.
    """
    expected = (size, size, channels)
    dtype = keras.backend.standardize_dtype(images.dtype)
    if len(images.shape) != 4 or tuple(images.shape[1:]) != expected or not dtype.startswith(("float", "bfloat")):
        raise ValueError(
            f"Expected a float batch of channels-last images of shape "
            f"(batch, {size}, {size}, {channels}). Received: shape={tuple(images.shape)}, "
            f"dtype={dtype}. Convert with `images.astype('float32')` and, for NCHW "
            f"arrays, `np.transpose(images, (0, 2, 3, 1))`."
        )
