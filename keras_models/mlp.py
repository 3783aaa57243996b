"""MNIST multilayer perceptron, Keras 3 (runs on TensorFlow, JAX and PyTorch).

Twin of `torch_models/mlp.py`: same class, arguments and attribute names.
Input: channels-last images (B, 28, 28, 1). Output: logits (B, num_classes).
"""

import keras
from keras import ops

import twin_arguments
from keras_models.inputs import check_images


@keras.saving.register_keras_serializable(package="keras_models")
class MLP(keras.Model):
    """flatten → [Dense(units) → ReLU → Dropout] per hidden layer → Dense(num_classes).

    Args:
        num_classes: number of output logits.
        image_size: height and width of the square, one-channel input images.
        hidden_units: width of each hidden layer.
        dropout_rate: dropout after each hidden ReLU.
    """

    def __init__(
        self,
        num_classes: int = 10,
        image_size: int = 28,
        hidden_units: tuple[int, ...] = (256, 128),
        dropout_rate: float = 0.2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = twin_arguments.positive_int("num_classes", num_classes)
        self.image_size = twin_arguments.positive_int("image_size", image_size)
        self.hidden_units = twin_arguments.positive_ints("hidden_units", hidden_units)
        self.dropout_rate = twin_arguments.rate("dropout_rate", dropout_rate)

        # Keras' Dense default (glorot_uniform kernel, zero bias), written out
        # because torch's Linear defaults to kaiming_uniform(a=sqrt(5)).
        policy = self.dtype_policy  # sub-layers compute in the model's dtype policy
        self.hidden = [
            keras.layers.Dense(
                units,
                kernel_initializer="glorot_uniform",
                bias_initializer="zeros",
                name=f"hidden_{i}",
                dtype=policy,
            )
            for i, units in enumerate(self.hidden_units)
        ]
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=policy)
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            name="head",
            dtype=policy,
        )

    def build(self, input_shape):
        features = self.image_size * self.image_size
        for dense, units in zip(self.hidden, self.hidden_units):
            dense.build((None, features))
            features = units
        self.head.build((None, features))

    def call(self, images, training=None):
        check_images(images, channels=1, size=self.image_size)
        x = ops.reshape(images, (-1, self.image_size * self.image_size))  # (B, H*W)
        for dense in self.hidden:
            x = self.dropout(ops.relu(dense(x)), training=training)  # (B, units)
        return self.head(x)  # (B, num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "hidden_units": list(self.hidden_units),
            "dropout_rate": self.dropout_rate,
        }
