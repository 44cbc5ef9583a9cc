"""``python -m fnn_numba``: the same command line as ``fnn-numba``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
