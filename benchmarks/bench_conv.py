"""asv: training epochs of the convolutional networks of ``conv_bench``
(LeNet-5 on 1x28x28, batch 64; the digits network, batch 32), float32,
8 mini-batches of synthetic data, and the conv kernels of LeNet's first
layer at batch 64."""

import numpy as np

from .conv_bench import WORKLOADS, FnnRunner


class ConvNetwork:
    params = [list(WORKLOADS)]
    param_names = ["network"]
    number = 1

    def setup(self, network):
        self.runner = FnnRunner(network)
        self.runner.epoch()  # compilation and allocation stay out of the timing

    def time_train_epoch(self, network):
        """``Network.fit(X, y, epochs=1)`` over 8 mini-batches."""
        self.runner.epoch()


class ConvKernels:
    """CNN (1), (2)-(3), (4) of a conv 6@5x5 layer on 1x28x28 inputs, batch 64."""

    def setup(self):
        from fnn_numba import conv_kernels as ck

        rng = np.random.default_rng(0)
        self.ck = ck
        self.w = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
        self.b = np.zeros(6, np.float32)
        self.a = np.asfortranarray(rng.standard_normal((784, 64)).astype(np.float32))
        self.z = np.asfortranarray(np.zeros((6 * 24 * 24, 64), np.float32))
        self.dz = np.asfortranarray(rng.standard_normal((6 * 24 * 24, 64)).astype(np.float32))
        self.dw, self.db = np.zeros_like(self.w), np.zeros(6, np.float32)
        self.da = np.asfortranarray(np.zeros_like(self.a))
        self.time_forward()
        self.time_dw_db()
        self.time_da_prev()

    def time_forward(self):
        self.ck.conv_forward(self.w, self.b, self.a, self.z, 28, 28, 1, 0)

    def time_dw_db(self):
        self.ck.conv_dw_db(self.dz, self.a, self.w, np.float32(0), self.dw, self.db, 28, 28, 1, 0)

    def time_da_prev(self):
        self.ck.conv_da_prev(self.w, self.dz, self.da, 28, 28, 1, 0)
