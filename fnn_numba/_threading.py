"""Make the library safe to call from several Python threads, whatever
threading layer Numba ends up with.

Numba's OpenMP and TBB layers accept parallel regions launched concurrently
from several threads. Its workqueue layer, the fallback where neither is
available, does not: two threads inside parallel kernels at once abort the
whole process ("workqueue threading layer is not threadsafe"). So the first
call initialises the layer with a tiny parallel kernel, reads which layer was
chosen, and from then on serialises every call into the kernels behind one
process-wide lock when, and only when, that layer is workqueue.
"""

import contextlib
import threading

import numba
import numpy as np
from numba import njit, prange

_init_lock = threading.Lock()
_workqueue_lock = threading.RLock()
_layer = None


@njit(parallel=True, cache=True)
def _touch_threading_layer(x):
    for i in prange(x.shape[0]):
        x[i] = i


def threading_layer():
    """The threading layer Numba uses in this process (initialising it once)."""
    global _layer
    if _layer is None:
        with _init_lock:
            if _layer is None:
                _touch_threading_layer(np.zeros(4))
                _layer = numba.threading_layer()
    return _layer


def kernel_section():
    """Context manager around any call into parallel kernels: the process-wide
    lock under the workqueue layer, nothing otherwise."""
    if threading_layer() == "workqueue":
        return _workqueue_lock
    return contextlib.nullcontext()
