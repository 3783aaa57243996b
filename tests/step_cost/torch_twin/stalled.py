"""The tiny model, stalled: its first training step sleeps an hour, so that its run is still
running whenever a test cancels it (tests/test_slurm.py)."""

import time

from tests.tiny_model.torch_twin.tiny import TinyNet as Tiny

STALL_S = 3600.0


class TinyNet(Tiny):
    def forward(self, images):
        if self.training:  # the shared initial weights and the parity check run it in eval mode
            time.sleep(STALL_S)
        return super().forward(images)
