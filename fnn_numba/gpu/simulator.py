"""A fix for numba-cuda's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), applied by
:mod:`fnn_numba.gpu.target` whenever the simulator runs the kernels: :func:`apply`.

The simulator runs each thread of a block as a Python thread. numba-cuda
0.30.4's ``cuda.shared.array`` there hands a block its array by an unlocked
look-up-then-store, so a thread switch between the two gives two threads
private copies of one "shared" tile, and a kernel then reads elements nobody
wrote into its copy. The GEMM tiles, the reductions and the fused epoch all
stage through shared arrays, so any result could go wrong; the fits, with the
most launches, went wrong most often (0.01-0.3 from the CPU in about half the
runs with the tests' 10 us thread switch interval), and the P1 (9) mean
kernel once returned 3e160 in CI. Real GPUs are not affected, and this
module is never imported outside the simulator. :func:`apply` makes the look-up and the store one locked step.
"""

import sys

import numpy as np


def apply():
    """Install the locked ``FakeCUDAShared.array`` (idempotent); False when
    this numba-cuda keeps its shared arrays some other way (nothing done)."""
    return _simulator_shared_arrays_per_block()


def _simulator_shared_arrays_per_block():
    """Make the simulator's ``cuda.shared.array`` give every thread of a
    launch the same array for one call site, as the hardware does.

    numba-cuda 0.30.4 (``simulator/kernelapi.py``, ``FakeCUDAShared.array``)
    keys a launch's shared arrays by the caller's (file, line) and does
    ``res = allocations.get(key)``; ``if res is None: res = np.empty(...);
    allocations[key] = res`` with no lock. When the first two threads of a
    launch to reach a ``cuda.shared.array`` line both run the ``get`` before
    either stores (a GIL switch in between; the simulator tests switch every
    10 us), each keeps its own ``np.empty`` array for the whole launch: in a
    GEMM kernel, say, a thread stages its share of a tile into a private
    copy and reads, after ``syncthreads``, uninitialised memory where the
    other threads' shares should be, so its 4 x 4 tile comes out wrong; in a reduction a thread's ``buf``
    misses the others' partial sums. The GEMM kernels, the reductions and
    the fused epoch all stage through shared arrays, so any result could
    go wrong; the fits, with the most launches, went wrong most often
    (0.01-0.3 from the CPU in about half the runs of the simulator tests).
    Here the look-up and the store run under one lock, so the later thread
    gets the array the earlier one stored. Dynamic shared memory
    (``shape == 0``) and an ``alignment`` keep numba-cuda's own code (the
    kernels pass none in the simulator)."""
    import threading

    from numba.cuda.simulator import kernelapi

    original = kernelapi.FakeCUDAShared.array
    if getattr(original, "_fnn_one_array_per_block", False):
        return True
    if not hasattr(kernelapi.FakeCUDAShared(0), "_allocations"):
        return False  # a numba-cuda that keeps its shared arrays otherwise: not this code
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0:
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, kernelapi.types.Type):
            dtype = kernelapi.numpy_support.as_dtype(dtype)
        # the same key as numba-cuda's: the calling line
        frame = sys._getframe(1)
        caller = (frame.f_code.co_filename, frame.f_lineno)
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    array._fnn_one_array_per_block = True
    array.__doc__ = original.__doc__
    kernelapi.FakeCUDAShared.array = array
    return True
