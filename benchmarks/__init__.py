"""fnn_numba's asv benchmark suite (configuration: ``asv.conf.json`` at the
repository root; how to run it: ``docs/benchmarks.rst``).

- ``bench_kernels``: every kernel of a training step alone, at the sizes of
  each benchmark shape, float32 and float64;
- ``bench_network``: a training step, an epoch of ``Network.fit`` and
  inference (``Network.forward``);
- ``bench_jit``: the JIT's cold and warm start in a fresh process.

The shapes and the workloads come from :mod:`fnn_numba.bench`, which the
comparison with PyTorch, NumPy and scikit-learn (``benchmarks/compare.py``,
``fnn-numba bench``) uses too. Every ``setup`` builds its workload once per
process and runs it once, so no timing includes compilation.
"""
import os
import sys

try:
    import fnn_numba  # noqa: F401
except ImportError:  # an uninstalled checkout: benchmark the sources beside this folder
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
