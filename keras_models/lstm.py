"""LSTM classifier reading an MNIST image row by row, Keras 3.

Twin of `torch_models/lstm.py`: same class, arguments and attribute names.
Input: channels-last images (B, 28, 28, 1). Output: logits (B, num_classes).

The framework's own LSTM layer is used, so each backend can pick its fused
kernel (cuDNN on TensorFlow needs exactly these default activations). Keras'
LSTM keeps ONE bias vector of 4×units; torch's keeps two (bias_ih and
bias_hh) that are only ever added together, so the torch twin has 4×units more
parameters for the same function. Gate order is the same in both: i, f, c/g, o.
"""

import keras
from keras import ops

import twin_arguments
from keras_models.inputs import check_images


@keras.saving.register_keras_serializable(package="keras_models")
class LSTMClassifier(keras.Model):
    """28 rows as 28 time steps of 28 features → LSTM → last hidden state → Dense.

    Args:
        num_classes: number of output logits.
        image_size: height and width of the square, one-channel input images.
        units: size of the LSTM's hidden state.
    """

    def __init__(self, num_classes: int = 10, image_size: int = 28, units: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.units = twin_arguments.positive_int("units", units)

        # Keras' defaults, stated because torch initializes every LSTM weight
        # and both biases from uniform(±1/sqrt(units)). unit_forget_bias adds 1
        # to the forget gate's bias so the cell starts out remembering.
        self.lstm = keras.layers.LSTM(
            units,
            kernel_initializer="glorot_uniform",
            recurrent_initializer="orthogonal",
            bias_initializer="zeros",
            unit_forget_bias=True,
            name="lstm",
            dtype=self.dtype_policy,  # sub-layers compute in the model's dtype policy
        )
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            name="head",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.lstm.build((None, self.image_size, self.image_size))
        self.head.build((None, self.units))

    def call(self, images, training=None):
        check_images(images, channels=1, size=self.image_size)
        rows = ops.reshape(images, (-1, self.image_size, self.image_size))  # (B, T=H, W)
        h = self.lstm(rows, training=training)  # (B, units): last hidden state
        return self.head(h)  # (B, num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "units": self.units,
        }
