"""The tiny test model in Keras: the image flattened, one Dense layer."""

import keras


class TinyNet(keras.Model):
    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        # Keras' Dense default, written out as in the built-ins; the ported weights replace it.
        self.head = keras.layers.Dense(num_classes, kernel_initializer="glorot_uniform", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.head.build((None, 28 * 28))  # weights in build(), as every Keras twin makes them

    def call(self, images, training=None):
        return self.head(keras.ops.reshape(images, (-1, 28 * 28)))  # (B, 28, 28, 1) → (B, 784) → (B, 10)
