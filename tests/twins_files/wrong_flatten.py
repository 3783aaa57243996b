"""The example convnet with a deliberately wrong port for its classifier: the Dense after the
Flatten takes torch's weight transposed, rows left in torch's (c, h, w) order. Shapes fit;
only parity can catch it, and check-twins must."""

import sys
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "mnist_convnet"))
from keras_convnet import ConvNet  # noqa: E402
from torch_convnet import ConvNet as TorchConvNet  # noqa: E402

from compare import Twins  # noqa: E402
from compare.porting import register_port  # noqa: E402
from compare.porting.port_keras import assign, with_bias  # noqa: E402


class UnpermutedDense(keras.layers.Dense):
    pass


def to_torch(layer, where):
    return {"weight": keras.ops.convert_to_numpy(layer.kernel).T, "bias": keras.ops.convert_to_numpy(layer.bias)}


def from_torch(layer, arrays, where):
    assign(layer.kernel, arrays["weight"].T, "weight", where)  # the classic bug: no row permutation
    assign(layer.bias, arrays["bias"], "bias", where)


register_port(UnpermutedDense, with_bias, to_torch, from_torch)


class UnpermutedConvNet(ConvNet):
    def __init__(self, num_classes: int = 10, dropout_rate: float = 0.5, **kwargs):
        super().__init__(num_classes, dropout_rate, **kwargs)
        self.head = UnpermutedDense(num_classes)


twins = Twins(name="unpermuted", keras=UnpermutedConvNet, torch=TorchConvNet)
