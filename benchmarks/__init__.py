"""fnn_numba's benchmarks (configuration of the asv suite: ``asv.conf.json``
at the repository root; how to run them: ``docs/performance.rst``).

The asv suite:

- ``bench_kernels``: every kernel of a training step alone, at the sizes of
  each benchmark shape, float32 and float64;
- ``bench_network``: a training step, an epoch of ``Network.fit`` and
  inference (``Network.forward``);
- ``bench_jit``: the JIT's cold and warm start in a fresh process.

The comparison with PyTorch, NumPy and scikit-learn, ``python
benchmarks/compare.py``, is built from ``workloads`` (the shapes, the data,
the kernel and network workloads the asv suite times too), ``peers`` (one
factory per library), ``measure`` (samples/s, memory, JIT start, the
per-kernel profile) and ``report`` (the run record and its tables); its dated
runs are in ``results/``. Every asv ``setup`` builds its workload once per
process and runs it once, so no timing includes compilation. These modules
are not part of the installed package.
"""

import os
import sys

try:
    import fnn_numba  # noqa: F401
except ImportError:  # an uninstalled checkout: benchmark the sources beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
