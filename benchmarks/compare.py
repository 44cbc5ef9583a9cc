"""fnn_numba against PyTorch, NumPy and scikit-learn, measured in one run.

    python benchmarks/compare.py --output docs/comparison.md
    python benchmarks/compare.py --shapes 784-128-10 --repeats 3 --seconds 0.5

A thin wrapper around :mod:`fnn_numba.bench` (also ``fnn-numba bench``);
``--help`` lists the options. Not an asv benchmark (asv ignores this module:
it defines no benchmark names).
"""
import os
import sys

if __name__ == "__main__":
    try:
        import fnn_numba  # noqa: F401
    except ImportError:  # an uninstalled checkout
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fnn_numba.bench import main

    sys.exit(main())
