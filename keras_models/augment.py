"""Random shifts and rotations of training images, from Keras 3 preprocessing layers.

Twin of `torch_models/augment.py`: same class and arguments, the same
distribution of transforms. Active only when training (`fit` calls the model
with `training=True`); the identity at inference.
Input and output: channels-last images (B, H, W, C).
"""

import keras

import twin_arguments


@keras.saving.register_keras_serializable(package="keras_models")
class RandomShiftRotate(keras.layers.Layer):
    """Rotate by an angle uniform in ±max_degrees, then shift by up to ±max_shift
    of the image side, independently in x and y; empty borders are filled with 0.

    Args:
        max_degrees: largest rotation, in degrees.
        max_shift: largest shift, as a fraction of the image height and width.
    """

    def __init__(self, max_degrees: float = 10.0, max_shift: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.max_degrees = twin_arguments.non_negative_float("max_degrees", max_degrees)
        self.max_shift = twin_arguments.rate("max_shift", max_shift)
        # RandomRotation's factor is a fraction of a full turn. fill_mode="constant"
        # fills with 0 (the background); Keras' default, "reflect", would mirror
        # strokes into the border. bilinear is the default, written out.
        self.rotate = keras.layers.RandomRotation(
            max_degrees / 360, fill_mode="constant", interpolation="bilinear", name="rotate", dtype=self.dtype_policy
        )
        self.shift = keras.layers.RandomTranslation(
            max_shift, max_shift, fill_mode="constant", interpolation="bilinear", name="shift", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        self.rotate.build(input_shape)
        self.shift.build(input_shape)

    def call(self, images, training=None):
        return self.shift(self.rotate(images, training=training), training=training)  # (B, H, W, C)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_degrees": self.max_degrees, "max_shift": self.max_shift}
