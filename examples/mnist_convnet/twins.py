"""The keras-io MNIST convnet as twins, for the harness:

python -m compare check-twins examples/mnist_convnet/twins.py
python -m compare --twins examples/mnist_convnet/twins.py --models convnet
"""

from keras_convnet import ConvNet as KerasConvNet  # this folder is on the path while the harness reads the file
from torch_convnet import ConvNet as TorchConvNet

from compare import Twins

twins = Twins(name="convnet", keras=KerasConvNet, torch=TorchConvNet, inputs="image")
