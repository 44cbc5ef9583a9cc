"""The CUDA kernels under their former module name.

They live in :mod:`fnn_numba.gpu` (:mod:`~fnn_numba.gpu.kernels`,
:mod:`~fnn_numba.gpu.fused`, :mod:`~fnn_numba.gpu.tiles`,
:mod:`~fnn_numba.gpu.target`). This module reads every name from there, and
a setting written here (``gpu_kernels.THREADS_PER_BLOCK = 8``,
``gpu_kernels.FUSED_EPOCH = False``) is written to the module that reads it.
"""

import sys
import types

from .gpu import fused as _fused
from .gpu import kernels as _kernels
from .gpu import target as _target
from .gpu import tiles as _tiles

_OWNERS = (_kernels, _fused, _tiles, _target)


def _owner(name):
    for module in _OWNERS:
        if hasattr(module, name):
            return module
    return None


class _Forwarding(types.ModuleType):
    def __getattr__(self, name):
        owner = _owner(name)
        if owner is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(owner, name)

    def __setattr__(self, name, value):
        owner = _owner(name)
        if owner is None:
            super().__setattr__(name, value)
        else:
            setattr(owner, name, value)

    def __dir__(self):
        return sorted(set().union(*(dir(m) for m in _OWNERS)))


sys.modules[__name__].__class__ = _Forwarding
