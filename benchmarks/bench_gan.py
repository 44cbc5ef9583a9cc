"""asv: a GAN epoch (fnn_numba.GAN.fit) on ring8 with a 2-64-64-2 generator
and a 2-64-64-1 discriminator, batch 128, two steps per epoch (kept small so
that the suite stays quick; benchmarks/gan_bench.py compares with PyTorch)."""

import numpy as np


class GANStep:
    params = (["float32", "float64"],)
    param_names = ["dtype"]

    def setup(self, dtype):
        import fnn_numba as fnn
        from fnn_numba.gan import GAN, ring8

        dt = np.dtype(dtype).type
        G = fnn.Network([2, 64, 64, 2], ["relu", "relu", "identity"], cost="mse", seed=0, dtype=dt)
        D = fnn.Network([2, 64, 64, 1], ["relu", "relu", "sigmoid"], cost="bce", seed=1, dtype=dt)
        self.gan = GAN(G, D, seed=0)
        self.X = ring8(256, seed=0, dtype=dt)
        self.gan.fit(self.X, epochs=1, batch_size=128, learning_rate=1e-4)  # compile

    def time_fit_epoch(self, dtype):
        """Two GAN steps (D step, then G step through D) plus the epoch's
        D(x), D(G(z)) figures."""
        self.gan.fit(self.X, epochs=1, batch_size=128, learning_rate=1e-4)
