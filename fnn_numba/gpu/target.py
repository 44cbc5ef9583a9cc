"""What the CUDA kernels are compiled with: the ``numba.cuda`` import, the
decorators, and the CPU workers the kernels call.

Importing this module never fails: without a usable numba-cuda the kernels
are placeholders (:class:`Unavailable`) and :data:`IMPORT_ERROR` says why
(:func:`fnn_numba.gpu.backend.require_cuda` turns that into the user's error).

At import, unless the user set ``NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS``
themselves, numba-cuda's low-occupancy check is switched off: it runs on
every launch, and the small kernels of a training step (one block for a
reduction, a few for a small layer) are small on purpose.
"""

import os
import types

from .. import kernels as _cpu

try:  # numba-cuda missing, or broken by an unsupported NumPy: report, never fail here
    from numba import cuda

    IMPORT_ERROR = None
except Exception as exc:  # pragma: no cover - depends on the installation
    cuda = None
    IMPORT_ERROR = exc


def cuda_config():
    """The config module numba-cuda's launches read (``numba.cuda.core.config``
    in numba-cuda 0.30; numba's own before)."""
    try:
        from numba.cuda.core import config
    except ImportError:  # pragma: no cover - older numba-cuda
        from numba import config
    return config


if cuda is not None and "NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS" not in os.environ:
    cuda_config().CUDA_LOW_OCCUPANCY_WARNINGS = 0

#: every kernel made by :func:`kernel`, for the cache check
KERNELS = []


def simulated():
    """Whether numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) runs the kernels."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


#: alignment (bytes) of the GEMM tiles in shared memory: 16 lets NVVM read
#: four consecutive float32 (two float64) with one 128-bit load. The
#: simulator refuses any alignment argument, and needs none.
_SIMULATED = cuda is not None and simulated()
SMEM_ALIGN = None if _SIMULATED else 16

if _SIMULATED:  # every user of the simulator needs its shared arrays really shared
    from .simulator import apply as _share_simulated_arrays

    _share_simulated_arrays()


class Unavailable:
    """Stands in for a kernel when numba-cuda cannot be imported."""

    def __init__(self, fn):
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __getitem__(self, config):
        raise RuntimeError(f"{self.__name__}: numba.cuda is unavailable ({IMPORT_ERROR!r})")


def kernel(fn):
    """A CUDA kernel, cached on disk (see :mod:`fnn_numba.gpu.cache`)."""
    if cuda is None:
        return Unavailable(fn)
    k = cuda.jit(cache=True)(fn)
    KERNELS.append(k)
    return k


def device(fn):
    """A device function, inlined into its callers."""
    if cuda is None:
        return fn
    return cuda.jit(device=True, inline="always")(fn)


def worker(fn, python_callees=()):
    """A worker of the CPU kernels (an ``@njit`` function), callable from the
    CUDA kernels. On the GPU numba-cuda compiles the ``@njit`` function itself
    (and what it calls) as a device function. In the simulator kernels run as
    Python and device arrays are Python objects that a compiled CPU function
    cannot take, so the kernels call its Python function (``py_func``): the
    same source. ``python_callees`` names the ``@njit`` functions the worker
    passes device arrays on to (the conv workers' vectorised runs): in the
    simulator those run as Python too."""
    if not _SIMULATED:
        return fn
    py = fn.py_func
    if not python_callees:
        return py
    scope = dict(py.__globals__)
    for name in python_callees:
        scope[name] = scope[name].py_func
    return types.FunctionType(py.__code__, scope, py.__name__, py.__defaults__, py.__closure__)


# the CPU kernels' per-column and per-element workers, shared by both targets
activation_column = worker(_cpu.activation_column, ("activation_map",))
dz_column = worker(_cpu.dz_column, ("slope_map",))
loss_of_example = worker(_cpu.loss_of_example)
fused_delta_column = worker(_cpu.fused_delta_column)
step_element = worker(_cpu.step_element)
commit_element = worker(_cpu.commit_element)


_CONFIGURED = {}


def configured(kernel_, grid, block, stream=0):
    """``kernel_[grid, block, stream]``, made once per configuration: a
    training step launches the same few configurations every batch."""
    if not isinstance(stream, int) or _SIMULATED:
        # a Stream object is not kept alive here; and the simulator's kernel
        # sets the configuration on itself and returns itself, so one object
        # would carry whichever configuration was set last
        return kernel_[grid, block, stream]
    key = (id(kernel_), grid, block, stream)
    launch = _CONFIGURED.get(key)
    if launch is None:
        launch = _CONFIGURED[key] = kernel_[grid, block, stream]
    return launch
