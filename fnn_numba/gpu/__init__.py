"""The CUDA backend: the GPU twins of the CPU kernels and the device side of
``Network(device="cuda")``.

- :mod:`~fnn_numba.gpu.target`: the ``numba.cuda`` import (never fails), the
  kernel and device-function decorators, the CPU workers the kernels share;
- :mod:`~fnn_numba.gpu.cache`: keeps numba-cuda's on-disk kernel cache in
  step with every source file the kernels inline;
- :mod:`~fnn_numba.gpu.tiles`: the block-level GEMM tile (staging in shared
  memory, the 4 x 4 register tile) that P1 (1), (13) and (21) run, per
  equation and inside the fused epoch;
- :mod:`~fnn_numba.gpu.kernels`: one kernel per equation, twin of
  :mod:`fnn_numba.kernels`, and its launcher;
- :mod:`~fnn_numba.gpu.fused`: a whole epoch in one launch of one block for
  small networks, built from the same device functions;
- :mod:`~fnn_numba.gpu.backend`: ``DeviceNetwork``, parameters, data and
  workspaces on the device.

The package is named ``gpu``, not ``cuda``: numba-cuda 0.30.4 installs an
import hook that redirects every module whose dotted name contains
``numba.cuda``, and ``fnn_numba.cuda`` does.
"""
