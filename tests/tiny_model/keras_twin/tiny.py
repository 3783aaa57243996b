"""The tiny test model in Keras: the image flattened, one Dense layer."""

import keras


class TinyNet(keras.Model):
    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(num_classes)

    def call(self, x):
        return self.head(self.flatten(x))  # (B, 28, 28, 1) → (B, 784) → (B, 10)
