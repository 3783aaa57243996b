"""The tiny model, and 5 ms more in every forward pass: a fixed cost per step."""

import time

from tests.tiny_model.torch_twin.tiny import TinyNet as Tiny

SLEEP_S = 5e-3


class TinyNet(Tiny):
    def forward(self, images):
        time.sleep(SLEEP_S)
        return super().forward(images)
