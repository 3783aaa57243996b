"""The test engine's adapter: torch's, under another name. Imported only by the child that runs it."""

from compare.run.engines import Torch


class SecondTorch(Torch):
    name = "torch-second"
