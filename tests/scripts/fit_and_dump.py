"""Fit a seeded network and print a digest of its parameters (determinism tests)."""

import hashlib
import sys

import numpy as np

import fnn_numba as fnn

dtype = np.float32 if sys.argv[1] == "float32" else np.float64
rng = np.random.default_rng(0)
# large enough that the GEMM kernels run under prange (work > PARALLEL_MIN_WORK)
X = rng.standard_normal((96, 600)).astype(dtype)
y = rng.integers(0, 10, 600)
net = fnn.Network([96, 128, 64, 10], ["relu", "tanh", "softmax"], dtype=dtype, seed=3)
net.fit(X, y, epochs=2, batch_size=200, learning_rate=0.05, optimizer="adam")
print(hashlib.sha256(net.get_parameters().tobytes()).hexdigest())
