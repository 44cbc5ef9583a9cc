"""The CUDA twins of the convolution and pooling kernels under their former
module name: this name is :mod:`fnn_numba.gpu.conv` itself (one module, so a
setting or a patch made through either name reaches the kernels)."""

import sys

from .gpu import conv as _conv

sys.modules[__name__] = _conv
