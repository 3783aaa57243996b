"""The keras-io "Simple MNIST convnet" as a Keras 3 model (runs on TensorFlow, JAX and PyTorch).

Twin of `torch_convnet.py`: same class, arguments and attribute names, so that its weights
port by name. Input: channels-last images (B, 28, 28, 1). Output: logits (B, num_classes).
"""

import keras


@keras.saving.register_keras_serializable(package="examples")
class ConvNet(keras.Model):
    """[Conv2D 3×3 → ReLU → MaxPool 2×2] with 32, then 64 filters → Flatten → Dropout → Dense.

    Args:
        num_classes: number of output logits.
        dropout_rate: dropout before the classifier, 0.5 as in the keras-io example.
    """

    def __init__(self, num_classes: int = 10, dropout_rate: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"`num_classes` must be a positive integer. Received: num_classes={num_classes!r}")
        if not 0 <= dropout_rate < 1:
            raise ValueError(f"`dropout_rate` must be a float in [0, 1). Received: dropout_rate={dropout_rate!r}")
        self.num_classes, self.dropout_rate = num_classes, dropout_rate
        # "valid" padding, Keras' default and torch's padding=0: each 3×3 convolution trims a pixel per side.
        self.conv_1 = keras.layers.Conv2D(32, 3, activation="relu")
        self.pool_1 = keras.layers.MaxPooling2D(2)
        self.conv_2 = keras.layers.Conv2D(64, 3, activation="relu")
        self.pool_2 = keras.layers.MaxPooling2D(2)
        self.flatten = keras.layers.Flatten()  # (h, w, c) order: torch's Flatten gives (c, h, w)
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.head = keras.layers.Dense(num_classes)

    def build(self, input_shape):
        self.conv_1.build(input_shape)  # (B, 28, 28, 1)
        self.conv_2.build((None, 13, 13, 32))
        self.head.build((None, 5 * 5 * 64))

    def call(self, images, training=None):
        x = self.pool_1(self.conv_1(images))  # (B, 28, 28, 1) → (B, 26, 26, 32) → (B, 13, 13, 32)
        x = self.pool_2(self.conv_2(x))  # (B, 11, 11, 64) → (B, 5, 5, 64)
        x = self.dropout(self.flatten(x), training=training)  # (B, 1600)
        return self.head(x)  # (B, num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "dropout_rate": self.dropout_rate}
