"""Two declarations in one file, of classes that need no framework: a reference picks one by name."""

from compare import Twins


class KerasStandIn:
    pass


class TorchStandIn:
    pass


small = Twins(name="small", keras=KerasStandIn, torch=TorchStandIn)
large = Twins(name="large", keras=KerasStandIn, torch=TorchStandIn, args={"width": 2})
