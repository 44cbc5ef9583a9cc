"""The CUDA kernels: the twin of every CPU kernel, one per equation.

Each kernel here computes the same equation as its CPU twin in
:mod:`fnn_numba.kernels` (same name plus ``_cuda``, same index names j, k, i,
p) and calls the same ``@njit`` code: the per-element formulas of
:mod:`fnn_numba.activations` and :mod:`fnn_numba.costs` and the CPU kernels'
per-column and per-parameter workers (``activation_column``, ``dz_column``,
``loss_of_example``, ``fused_delta_column``, ``step_element``,
``commit_element``). numba-cuda 0.30.4 compiles an ``@njit`` function called
from a kernel as a device function (checked with the real NVVM compiler and
ptxas for sm_90); in the simulator the kernels call its ``py_func`` (see
:func:`_worker`). Only the loops that fix the thread layout are the GPU's own.

Each kernel has a launcher, ``launch_<cpu name>``, that picks the grid and the
block from the shapes and the module settings below; the drivers in
:mod:`fnn_numba.gpu_engine` call only the launchers.

Thread layouts:

- GEMM-shaped kernels (P1 (1), (13), (21)): a 2-D block of ``GEMM_THREADS`` x
  ``GEMM_THREADS`` threads computes a (4 T) x (4 T) tile of the output, each
  thread a 4 x 4 register tile held in sixteen scalar accumulators (local
  arrays would spill to memory: shared/design.md measured 4-7 TFLOP/s for
  them against 11.5-12.2 for scalars). The summed index is walked in slices
  of ``K_TILE`` staged in shared memory; slices past the end are padded with
  zeros so the innermost loop always has ``K_TILE`` (a compile-time constant)
  iterations. ``threadIdx.x`` runs along the output's contiguous index, so the
  stores are coalesced; each tile load runs along the contiguous index of
  the matrix it reads. A thread's four rows are ``tx, tx + T, tx + 2T, tx + 3T``
  so that the threads of a warp read consecutive shared-memory words.
- Element-wise kernels: one thread per element (j, i), j fastest (the
  F-ordered (n, m) layout), ``THREADS_PER_BLOCK`` threads per block.
- Column kernels (softmax P2 (7), (8), the losses L_i): one thread per example i.
- Reductions (the mean of L_i, the L2 term, the gradient norm): a fixed
  tree in shared memory, so every sum has one order whatever the scheduling:
  results are deterministic, run to run.

Every output element is written by exactly one thread, so no kernel races.

In Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) each thread of a block is
a Python thread, and numba-cuda's ``cuda.shared.array`` there hands the block
its array by an unlocked look-up-then-store; a thread switch between the two
gives two threads private copies of one "shared" tile, and a kernel then
reads elements nobody wrote into its copy (see
:func:`_simulator_shared_arrays_per_block`, which this module installs in the
simulator).

Layout differences from the CPU twins, chosen for the GPU: for long batches
the CPU P1 (13) kernel reads C-ordered copies of dz and A[l-1], to put the
summed index contiguous for its register tile (short batches, and P1 (21)
always, run in outer-product order on the CPU, with no copies). On the GPU
the shared-memory tile is loaded along whichever index is contiguous, so
:func:`dw_db_backward_cuda` reads the F-ordered dz and A[l-1] and
:func:`da_prev_backward_cuda` the C-ordered W directly: no copies.
Every kernel indexes with the derivation's indices, so any layout gives the
right numbers; the layout only decides the speed.

Importing this module never fails: without a usable numba-cuda the kernels
are placeholders and :data:`IMPORT_ERROR` says why
(:func:`fnn_numba.gpu_engine.require_cuda` turns that into the user's error).

Settings (module attributes, read by the launchers at each launch):
``THREADS_PER_BLOCK`` (1-D kernels and reductions; a power of two up to
1024), ``GEMM_THREADS`` (the side T of a GEMM block, 1..16),
``REDUCE_BLOCKS`` (first-stage blocks of the parameter-sized sums, read when
a network is moved to the device), and for the fused epoch ``FUSED_EPOCH``,
``FUSED_MAX_FLOPS`` and ``FUSED_THREADS``. The simulator tests set them small
(8, 2, 3 and 8 threads) so that tiny inputs span several blocks.
"""
import math
import sys

import numpy as np

from .activations import SOFTMAX, activation_slope, activation_value
from .costs import loss_slope
from .kernels import ADAM, MOMENTUM, NESTEROV, SGD
from . import kernels as _cpu

try:  # numba-cuda missing, or broken by an unsupported NumPy: report, never fail here
    from numba import cuda
    IMPORT_ERROR = None
except Exception as exc:  # pragma: no cover - depends on the installation
    cuda = None
    IMPORT_ERROR = exc

#: threads per block of the 1-D kernels and of the reductions (power of two)
THREADS_PER_BLOCK = 256
#: side T of the 2-D block of a GEMM kernel; each block computes 4T x 4T outputs
GEMM_THREADS = 16
#: register tile per thread (4 x 4 scalars, written out in the kernels)
REG = 4
#: slice of the summed index staged in shared memory per step
K_TILE = 16
#: the largest GEMM_THREADS the shared arrays are sized for
MAX_GEMM_THREADS = 16
#: shared tiles are K_TILE x (4 * MAX_GEMM_THREADS + 1): the extra column
#: makes the stride odd, so loads along the summed index hit distinct banks
TILE_COLS = REG * MAX_GEMM_THREADS + 1
#: shared buffer of the reductions (the largest block)
MAX_THREADS = 1024
#: blocks of the first stage of a parameter-sized sum
REDUCE_BLOCKS = 64



class _Unavailable:
    """Stands in for a kernel when numba-cuda cannot be imported."""

    def __init__(self, fn):
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __getitem__(self, config):
        raise RuntimeError(f"{self.__name__}: numba.cuda is unavailable ({IMPORT_ERROR!r})")


def _simulated():
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def _simulator_shared_arrays_per_block():
    """Make the simulator's ``cuda.shared.array`` give every thread of a
    launch the same array for one call site, as the hardware does.

    numba-cuda 0.30.4 (``simulator/kernelapi.py``, ``FakeCUDAShared.array``)
    keys a launch's shared arrays by the caller's (file, line) and does
    ``res = allocations.get(key)``; ``if res is None: res = np.empty(...);
    allocations[key] = res`` with no lock. When the first two threads of a
    launch to reach a ``cuda.shared.array`` line both run the ``get`` before
    either stores (a GIL switch in between; the simulator tests switch every
    10 us), each keeps its own ``np.empty`` array for the whole launch: in
    :func:`dw_db_backward_cuda`, say, a thread stages its share of
    ``a_tile[ii, r]`` into a private copy and reads, after ``syncthreads``,
    uninitialised memory where the other threads' shares should be, so its
    4 x 4 tile of dW comes out wrong; in a reduction a thread's ``buf``
    misses the others' partial sums. The GEMM kernels, the reductions and
    the fused epoch all stage through shared arrays, so any result could
    go wrong; the fits, with the most launches, went wrong most often
    (0.01-0.3 from the CPU in about half the runs of the simulator tests).
    Here the look-up and the store run under one lock, so the later thread
    gets the array the earlier one stored. Dynamic shared memory
    (``shape == 0``) and ``alignment`` keep numba-cuda's own code."""
    import threading

    from numba.cuda.simulator import kernelapi

    original = kernelapi.FakeCUDAShared.array
    if getattr(original, "_fnn_one_array_per_block", False):
        return
    if not hasattr(kernelapi.FakeCUDAShared(0), "_allocations"):
        return  # a numba-cuda that keeps its shared arrays otherwise: not this code
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


if cuda is not None and _simulated():
    _simulator_shared_arrays_per_block()


def _worker(fn):
    """A worker of the CPU kernels (an ``@njit`` function), callable from the
    CUDA kernels. On the GPU numba-cuda compiles the ``@njit`` function itself
    as a device function. In the simulator kernels run as Python and device
    arrays are Python objects that a compiled CPU function cannot take, so
    the kernels call its Python function (``py_func``): the same source."""
    return fn.py_func if cuda is not None and _simulated() else fn


# the CPU kernels' per-column and per-element workers, shared by both targets
activation_column = _worker(_cpu.activation_column)
dz_column = _worker(_cpu.dz_column)
loss_of_example = _worker(_cpu.loss_of_example)
fused_delta_column = _worker(_cpu.fused_delta_column)
step_element = _worker(_cpu.step_element)
commit_element = _worker(_cpu.commit_element)


def _kernel(fn):
    if cuda is None:
        return _Unavailable(fn)
    return cuda.jit(cache=True)(fn)


def _device(fn):
    if cuda is None:
        return fn
    return cuda.jit(device=True, inline="always")(fn)


# --------------------------------------------------------------- GEMM-shaped
@_device
def _store_z(z, b, j, i, n, m, s):
    if j < n and i < m:
        z[j, i] = s + b[j]


@_kernel
def z_forward_cuda(w, b, a_prev, z):
    """P1 (1): z[j,i] = sum_k w[j,k] a_prev[k,i] + b[j].  CPU twin: ``z_forward``.

    Layout: w C-ordered (k contiguous), a_prev and z F-ordered (k, j
    contiguous). Block (T, T): threadIdx.x along j, threadIdx.y along i;
    blockIdx.x over 4T-row tiles of j, blockIdx.y over 4T-column tiles of i.
    Per step a K_TILE slice of k: w_tile[kk, r] = w[j0 + r, k0 + kk] and
    a_tile[kk, c] = a_prev[k0 + kk, i0 + c], both loaded kk fastest (the
    contiguous index of w and of a_prev); each thread then adds sixteen
    products per kk.
    """
    n, K = w.shape
    m = a_prev.shape[1]
    T = cuda.blockDim.x
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * T + tx
    rows = REG * T
    j0 = cuda.blockIdx.x * rows
    i0 = cuda.blockIdx.y * rows
    w_tile = cuda.shared.array((K_TILE, TILE_COLS), w.dtype)
    a_tile = cuda.shared.array((K_TILE, TILE_COLS), w.dtype)
    zero = w.dtype.type(0)
    s00 = s01 = s02 = s03 = zero
    s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = zero
    s30 = s31 = s32 = s33 = zero
    for k0 in range(0, K, K_TILE):
        for e in range(tid, rows * K_TILE, T * T):
            kk = e % K_TILE
            r = e // K_TILE
            k = k0 + kk
            j = j0 + r
            i = i0 + r
            w_tile[kk, r] = w[j, k] if (j < n and k < K) else zero
            a_tile[kk, r] = a_prev[k, i] if (k < K and i < m) else zero
        cuda.syncthreads()
        for kk in range(K_TILE):
            w0 = w_tile[kk, tx]
            w1 = w_tile[kk, tx + T]
            w2 = w_tile[kk, tx + 2 * T]
            w3 = w_tile[kk, tx + 3 * T]
            a0 = a_tile[kk, ty]
            a1 = a_tile[kk, ty + T]
            a2 = a_tile[kk, ty + 2 * T]
            a3 = a_tile[kk, ty + 3 * T]
            s00 += w0 * a0; s01 += w0 * a1; s02 += w0 * a2; s03 += w0 * a3
            s10 += w1 * a0; s11 += w1 * a1; s12 += w1 * a2; s13 += w1 * a3
            s20 += w2 * a0; s21 += w2 * a1; s22 += w2 * a2; s23 += w2 * a3
            s30 += w3 * a0; s31 += w3 * a1; s32 += w3 * a2; s33 += w3 * a3
        cuda.syncthreads()
    ja = j0 + tx; jb = ja + T; jc = ja + 2 * T; jd = ja + 3 * T
    ia = i0 + ty; ib = ia + T; ic = ia + 2 * T; id_ = ia + 3 * T
    _store_z(z, b, ja, ia, n, m, s00); _store_z(z, b, ja, ib, n, m, s01)
    _store_z(z, b, ja, ic, n, m, s02); _store_z(z, b, ja, id_, n, m, s03)
    _store_z(z, b, jb, ia, n, m, s10); _store_z(z, b, jb, ib, n, m, s11)
    _store_z(z, b, jb, ic, n, m, s12); _store_z(z, b, jb, id_, n, m, s13)
    _store_z(z, b, jc, ia, n, m, s20); _store_z(z, b, jc, ib, n, m, s21)
    _store_z(z, b, jc, ic, n, m, s22); _store_z(z, b, jc, id_, n, m, s23)
    _store_z(z, b, jd, ia, n, m, s30); _store_z(z, b, jd, ib, n, m, s31)
    _store_z(z, b, jd, ic, n, m, s32); _store_z(z, b, jd, id_, n, m, s33)


@_device
def _store_dw(dw, w, l2, j, k, n, K, s):
    if j < n and k < K:
        dw[j, k] = s + l2 * w[j, k]


@_device
def _store_db(db, j, n, s):
    if j < n:
        db[j] = s


@_kernel
def dw_db_backward_cuda(dz, a_prev, w, l2, dw, db):
    """P1 (13) and (14) with the L2 term:
    dw[j,k] = sum_i dz[j,i] a_prev[k,i] + l2 w[j,k];  db[j] = sum_i dz[j,i].
    CPU twin: ``dw_db_backward`` (which, for long batches, reads C-ordered
    copies of dz, a_prev).

    Layout: dz, a_prev F-ordered (j, k contiguous), w and dw C-ordered (k
    contiguous). Block (T, T): threadIdx.x along k, threadIdx.y along j;
    blockIdx.x over 4T-column tiles of k, blockIdx.y over 4T-row tiles of j.
    Per step a K_TILE slice of i: d_tile[ii, r] = dz[j0 + r, i0 + ii] and
    a_tile[ii, c] = a_prev[k0 + c, i0 + ii], loaded r (c) fastest. The blocks
    of the first k tile also sum db from the staged dz: threads with tx == 0
    add their four rows, so each db[j] is written once.
    """
    n, K = dw.shape
    m = dz.shape[1]
    T = cuda.blockDim.x
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * T + tx
    rows = REG * T
    k0 = cuda.blockIdx.x * rows
    j0 = cuda.blockIdx.y * rows
    d_tile = cuda.shared.array((K_TILE, TILE_COLS), dz.dtype)
    a_tile = cuda.shared.array((K_TILE, TILE_COLS), dz.dtype)
    zero = dz.dtype.type(0)
    with_db = cuda.blockIdx.x == 0 and tx == 0
    s00 = s01 = s02 = s03 = zero
    s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = zero
    s30 = s31 = s32 = s33 = zero
    t0 = t1 = t2 = t3 = zero
    for i0 in range(0, m, K_TILE):
        for e in range(tid, rows * K_TILE, T * T):
            r = e % rows
            ii = e // rows
            i = i0 + ii
            j = j0 + r
            k = k0 + r
            d_tile[ii, r] = dz[j, i] if (j < n and i < m) else zero
            a_tile[ii, r] = a_prev[k, i] if (k < K and i < m) else zero
        cuda.syncthreads()
        for ii in range(K_TILE):
            d0 = d_tile[ii, ty]
            d1 = d_tile[ii, ty + T]
            d2 = d_tile[ii, ty + 2 * T]
            d3 = d_tile[ii, ty + 3 * T]
            a0 = a_tile[ii, tx]
            a1 = a_tile[ii, tx + T]
            a2 = a_tile[ii, tx + 2 * T]
            a3 = a_tile[ii, tx + 3 * T]
            s00 += d0 * a0; s01 += d0 * a1; s02 += d0 * a2; s03 += d0 * a3
            s10 += d1 * a0; s11 += d1 * a1; s12 += d1 * a2; s13 += d1 * a3
            s20 += d2 * a0; s21 += d2 * a1; s22 += d2 * a2; s23 += d2 * a3
            s30 += d3 * a0; s31 += d3 * a1; s32 += d3 * a2; s33 += d3 * a3
        if with_db:
            for ii in range(K_TILE):
                t0 += d_tile[ii, ty]
                t1 += d_tile[ii, ty + T]
                t2 += d_tile[ii, ty + 2 * T]
                t3 += d_tile[ii, ty + 3 * T]
        cuda.syncthreads()
    ja = j0 + ty; jb = ja + T; jc = ja + 2 * T; jd = ja + 3 * T
    ka = k0 + tx; kb = ka + T; kc = ka + 2 * T; kd = ka + 3 * T
    _store_dw(dw, w, l2, ja, ka, n, K, s00); _store_dw(dw, w, l2, ja, kb, n, K, s01)
    _store_dw(dw, w, l2, ja, kc, n, K, s02); _store_dw(dw, w, l2, ja, kd, n, K, s03)
    _store_dw(dw, w, l2, jb, ka, n, K, s10); _store_dw(dw, w, l2, jb, kb, n, K, s11)
    _store_dw(dw, w, l2, jb, kc, n, K, s12); _store_dw(dw, w, l2, jb, kd, n, K, s13)
    _store_dw(dw, w, l2, jc, ka, n, K, s20); _store_dw(dw, w, l2, jc, kb, n, K, s21)
    _store_dw(dw, w, l2, jc, kc, n, K, s22); _store_dw(dw, w, l2, jc, kd, n, K, s23)
    _store_dw(dw, w, l2, jd, ka, n, K, s30); _store_dw(dw, w, l2, jd, kb, n, K, s31)
    _store_dw(dw, w, l2, jd, kc, n, K, s32); _store_dw(dw, w, l2, jd, kd, n, K, s33)
    if with_db:
        _store_db(db, ja, n, t0); _store_db(db, jb, n, t1)
        _store_db(db, jc, n, t2); _store_db(db, jd, n, t3)


@_device
def _store_da(da_prev, k, i, K, m, s):
    if k < K and i < m:
        da_prev[k, i] = s


@_kernel
def da_prev_backward_cuda(w, dz, da_prev):
    """P1 (21): da_prev[k,i] = sum_j dz[j,i] w[j,k]  (dJ/dA[l-1], or dJ/dX).
    CPU twin: ``da_prev_backward`` (outer-product order on the CPU).

    Layout: w C-ordered (k contiguous), dz and da_prev F-ordered (j, k
    contiguous). Block (T, T): threadIdx.x along k, threadIdx.y along i;
    blockIdx.x over 4T-row tiles of k, blockIdx.y over 4T-column tiles of i.
    Per step a K_TILE slice of j: w_tile[jj, c] = w[j0 + jj, k0 + c] loaded c
    fastest, d_tile[jj, r] = dz[j0 + jj, i0 + r] loaded jj fastest.
    """
    n, K = w.shape
    m = dz.shape[1]
    T = cuda.blockDim.x
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * T + tx
    rows = REG * T
    k0 = cuda.blockIdx.x * rows
    i0 = cuda.blockIdx.y * rows
    w_tile = cuda.shared.array((K_TILE, TILE_COLS), w.dtype)
    d_tile = cuda.shared.array((K_TILE, TILE_COLS), w.dtype)
    zero = w.dtype.type(0)
    s00 = s01 = s02 = s03 = zero
    s10 = s11 = s12 = s13 = zero
    s20 = s21 = s22 = s23 = zero
    s30 = s31 = s32 = s33 = zero
    for j0 in range(0, n, K_TILE):
        for e in range(tid, rows * K_TILE, T * T):
            c = e % rows
            jj = e // rows
            j = j0 + jj
            k = k0 + c
            w_tile[jj, c] = w[j, k] if (j < n and k < K) else zero
            jj = e % K_TILE
            r = e // K_TILE
            j = j0 + jj
            i = i0 + r
            d_tile[jj, r] = dz[j, i] if (j < n and i < m) else zero
        cuda.syncthreads()
        for jj in range(K_TILE):
            w0 = w_tile[jj, tx]
            w1 = w_tile[jj, tx + T]
            w2 = w_tile[jj, tx + 2 * T]
            w3 = w_tile[jj, tx + 3 * T]
            d0 = d_tile[jj, ty]
            d1 = d_tile[jj, ty + T]
            d2 = d_tile[jj, ty + 2 * T]
            d3 = d_tile[jj, ty + 3 * T]
            s00 += w0 * d0; s01 += w0 * d1; s02 += w0 * d2; s03 += w0 * d3
            s10 += w1 * d0; s11 += w1 * d1; s12 += w1 * d2; s13 += w1 * d3
            s20 += w2 * d0; s21 += w2 * d1; s22 += w2 * d2; s23 += w2 * d3
            s30 += w3 * d0; s31 += w3 * d1; s32 += w3 * d2; s33 += w3 * d3
        cuda.syncthreads()
    ka = k0 + tx; kb = ka + T; kc = ka + 2 * T; kd = ka + 3 * T
    ia = i0 + ty; ib = ia + T; ic = ia + 2 * T; id_ = ia + 3 * T
    _store_da(da_prev, ka, ia, K, m, s00); _store_da(da_prev, ka, ib, K, m, s01)
    _store_da(da_prev, ka, ic, K, m, s02); _store_da(da_prev, ka, id_, K, m, s03)
    _store_da(da_prev, kb, ia, K, m, s10); _store_da(da_prev, kb, ib, K, m, s11)
    _store_da(da_prev, kb, ic, K, m, s12); _store_da(da_prev, kb, id_, K, m, s13)
    _store_da(da_prev, kc, ia, K, m, s20); _store_da(da_prev, kc, ib, K, m, s21)
    _store_da(da_prev, kc, ic, K, m, s22); _store_da(da_prev, kc, id_, K, m, s23)
    _store_da(da_prev, kd, ia, K, m, s30); _store_da(da_prev, kd, ib, K, m, s31)
    _store_da(da_prev, kd, ic, K, m, s32); _store_da(da_prev, kd, id_, K, m, s33)


# ------------------------------------------------------ element and column
@_kernel
def activation_forward_cuda(code, z, a):
    """P1 (2): a[j,i] = g(z[:,i])_j.  CPU twin: ``activation_forward``.

    Element-wise g (P2 (1), (3), (5) and the rest): one thread per (j, i),
    j fastest, a[j,i] = activation_value(code, z[j,i]).
    Softmax, P2 (7): one thread per example i, running the CPU kernel's own
    column worker ``activation_column`` (stable: the column maximum is
    subtracted before exp). The launcher starts n m threads, or m for softmax.
    """
    n, m = z.shape
    t = cuda.grid(1)
    if code == SOFTMAX:
        if t < m:
            activation_column(code, z, a, t)
    elif t < n * m:
        j = t % n
        i = t // n
        a[j, i] = activation_value(code, z[j, i])


@_kernel
def dz_backward_cuda(code, z, a, da, dz):
    """P1 (17) in closed form.  CPU twin: ``dz_backward``.

    Element-wise g (diagonal Jacobian; P2 (2), (4), (6) and the rest): one
    thread per (j, i), dz[j,i] = da[j,i] * activation_slope(code, z[j,i], a[j,i]).
    Softmax, P2 (8), the cross-sum over p: one thread per example i, running
    the CPU's column worker ``dz_column``:
    dz[j,i] = a[j,i] (da[j,i] - sum_p da[p,i] a[p,i]).
    """
    n, m = z.shape
    t = cuda.grid(1)
    if code == SOFTMAX:
        if t < m:
            dz_column(code, z, a, da, dz, t)
    elif t < n * m:
        j = t % n
        i = t // n
        dz[j, i] = da[j, i] * activation_slope(code, z[j, i], a[j, i])


@_kernel
def example_losses_cuda(cost_code, out_code, fused, z, a, y, losses):
    """L_i for every example i: losses[i] = sum_j term.  CPU twin: ``example_losses``.

    One thread per example i, running the CPU's worker ``loss_of_example``:
    loss_term(a[j,i], y[j,i]) summed over j, or from the logits z on the
    fused paths (sigmoid + binary CE: fused_loss_term; softmax + categorical
    CE: -sum_j y[j,i] ((z[j,i] - c_i) - log sum_p exp(z[p,i] - c_i))).
    """
    i = cuda.grid(1)
    if i < a.shape[1]:
        loss_of_example(cost_code, out_code, fused, z, a, y, losses, i)


@_kernel
def cost_seed_cuda(cost_code, a, y, da):
    """dJ/dA[L][j,i] = (1/m) loss_slope(a[j,i], y[j,i]).  CPU twin: ``cost_seed``.

    One thread per (j, i), j fastest.
    """
    n, m = a.shape
    t = cuda.grid(1)
    if t < n * m:
        j = t % n
        i = t // n
        inv_m = a.dtype.type(1.0 / m)
        da[j, i] = loss_slope(cost_code, a[j, i], y[j, i]) * inv_m


@_kernel
def output_delta_fused_cuda(out_code, a, y, dz):
    """dJ/dZ[L] where the output activation and the cost cancel.
    CPU twin: ``output_delta_fused``.

    One thread per example i, running the CPU's worker ``fused_delta_column``:
    sigmoid + binary CE, dz[j,i] = (a[j,i] - y[j,i]) / m; softmax + categorical
    CE, dz[j,i] = (a[j,i] sum_p y[p,i] - y[j,i]) / m.
    """
    i = cuda.grid(1)
    if i < a.shape[1]:
        fused_delta_column(out_code, a, y, dz, i)


@_kernel
def copy_matrix_cuda(src, dst):
    """dst[r, c] = src[r, c] (another storage order).  CPU twin: ``copy_matrix``.

    One thread per element, r fastest. The CUDA engine needs no transposed
    copies (see the module doc); this twin is here for completeness and for
    users who want a layout change on the device.
    """
    rows, cols = src.shape
    t = cuda.grid(1)
    if t < rows * cols:
        r = t % rows
        c = t // rows
        dst[r, c] = src[r, c]


@_kernel
def gather_columns_cuda(src, order, start, stop, dst):
    """dst[:, c] = src[:, order[start + c]]: one mini-batch, F-ordered.
    CPU twin: ``fnn_numba.engine.gather_columns``.

    One thread per element (r, c), r fastest: each example's column is read
    and written contiguously.
    """
    n = src.shape[0]
    t = cuda.grid(1)
    if t < n * (stop - start):
        r = t % n
        c = t // n
        dst[r, c] = src[r, order[start + c]]


# ---------------------------------------------------------------- reductions
@_device
def _block_sum(buf, s):
    """Sum of every thread's s across the block, by a fixed tree (blockDim.x
    a power of two); the result is in buf[0] after the call."""
    tid = cuda.threadIdx.x
    buf[tid] = s
    cuda.syncthreads()
    stride = cuda.blockDim.x // 2
    while stride > 0:
        if tid < stride:
            buf[tid] += buf[tid + stride]
        cuda.syncthreads()
        stride //= 2


@_kernel
def mean_of_cuda(values, out, idx):
    """out[idx] = (1/m) sum_i values[i], one block.  CPU twin: ``mean_of``.

    Thread t sums values[t], values[t + T], ... then a fixed tree adds the
    partial sums; float64 accumulation, as on the CPU.
    """
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    m = values.shape[0]
    s = 0.0
    for i in range(cuda.threadIdx.x, m, cuda.blockDim.x):
        s += values[i]
    _block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        out[idx] = buf[0] / m


@_kernel
def sum_squares_partial_cuda(values, seg_start, seg_len, partial):
    """First stage of sum_q values[q]^2 over the segments
    [seg_start[s], seg_start[s] + seg_len[s]) (the weights W[l], without the
    biases, for the L2 term; the whole gradient for its norm).

    A grid-stride loop over the concatenated segments, then a fixed tree per
    block: partial[b] is block b's sum (float64).
    """
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    total = 0
    for s in range(seg_len.shape[0]):
        total += seg_len[s]
    acc = 0.0
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        u = t
        s = 0
        while u >= seg_len[s]:
            u -= seg_len[s]
            s += 1
        v = values[seg_start[s] + u]
        acc += v * v
    _block_sum(buf, acc)
    if cuda.threadIdx.x == 0:
        partial[cuda.blockIdx.x] = buf[0]


@_kernel
def l2_penalty_cuda(partial, l2, out, idx):
    """Adds the L2 term (lambda/2) sum_l ||W[l]||_F^2 to out[idx], from the
    first-stage sums of :func:`sum_squares_partial_cuda`. One block.
    CPU twin: ``l2_penalty``."""
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    s = 0.0
    for b in range(cuda.threadIdx.x, partial.shape[0], cuda.blockDim.x):
        s += partial[b]
    _block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        out[idx] += 0.5 * l2 * buf[0]


@_kernel
def gradient_norm_cuda(partial, norm):
    """norm[0] = sqrt(sum_q g[q]^2) from the first-stage sums. One block.
    First half of the CPU twin ``clip_gradient_norm``."""
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    s = 0.0
    for b in range(cuda.threadIdx.x, partial.shape[0], cuda.blockDim.x):
        s += partial[b]
    _block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        norm[0] = math.sqrt(buf[0])


@_kernel
def clip_gradient_norm_cuda(grads, norm, max_norm):
    """Gradient clipping by norm (notes-neural-networks): g <- g max_norm / ||g||
    when ||g|| = norm[0] exceeds max_norm. One thread per parameter q.
    CPU twin: ``clip_gradient_norm`` (the norm comes from
    :func:`gradient_norm_cuda`)."""
    q = cuda.grid(1)
    if q < grads.shape[0] and norm[0] > max_norm:
        grads[q] *= grads.dtype.type(max_norm / norm[0])


# ----------------------------------------------------------------- training
@_kernel
def cost_is_finite_cuda(costs, idx, status, batch):
    """Divergence check of the batch cost J = costs[idx]: the first batch with
    a non-finite J is recorded in status[0] (-1 while every J was finite);
    :func:`optimizer_commit_cuda` writes nothing once it is set. One thread.
    The CPU driver ``train_batches`` returns at that batch instead."""
    if cuda.grid(1) == 0 and status[0] < 0 and not math.isfinite(costs[idx]):
        status[0] = batch



@_kernel
def optimizer_step_cuda(kind, grads, velocity, second_moment, t, learning_rate, momentum, beta1,
                        beta2, epsilon, step):
    """The update each optimizer would add, without changing any state.
    CPU twin: ``optimizer_step``; the formula is its worker ``step_element``
    (sgd -alpha g; momentum v' = mu v - alpha g, step v'; nesterov
    mu v' - alpha g; adam -alpha (m'/(1 - beta1^t)) / (sqrt(s'/(1 - beta2^t)) + eps)).
    One thread per parameter q."""
    q = cuda.grid(1)
    if q >= grads.shape[0]:
        return
    dt = grads.dtype.type
    one = dt(1)
    c1 = c2 = one
    if kind == ADAM:  # the bias corrections; only Adam pays for the two powers
        c1 = dt(1.0 - beta1 ** t)
        c2 = dt(1.0 - beta2 ** t)
    step[q] = step_element(kind, grads[q], velocity[q], second_moment[q], dt(learning_rate),
                           dt(momentum), dt(beta1), dt(beta2), one, dt(epsilon), c1, c2)


@_kernel
def step_is_finite_cuda(params, step, status, batch):
    """Records ``batch`` in status[0] (unless an earlier batch is there) when
    some params[q] + step[q] is not finite. One thread per q.
    CPU twin: ``step_is_finite``. Every thread that writes writes the same
    value, so the race is benign."""
    q = cuda.grid(1)
    if q < params.shape[0] and status[0] < 0 and not math.isfinite(params[q] + step[q]):
        status[0] = batch


@_kernel
def optimizer_commit_cuda(kind, params, grads, velocity, second_moment, learning_rate, momentum,
                          beta1, beta2, step, status):
    """params += step and the optimizer's state advanced, unless status[0]
    records a diverged batch. One thread per q. CPU twin: ``optimizer_commit``
    (its worker ``commit_element``; with L2 the weight gradients already hold
    + lambda W, so sgd is the slides' W <- (1 - alpha lambda) W - alpha dJ/dW)."""
    q = cuda.grid(1)
    if q >= params.shape[0] or status[0] >= 0:
        return
    dt = grads.dtype.type
    commit_element(kind, q, params, grads, velocity, second_moment, dt(learning_rate),
                   dt(momentum), dt(beta1), dt(beta2), dt(1), step)



# ------------------------------------------------------------------ launchers
def _blocks(count, threads):
    return max(1, (count + threads - 1) // threads)


def _tpb():
    t = int(THREADS_PER_BLOCK)
    if t < 1 or t > MAX_THREADS or t & (t - 1):
        raise ValueError(f"THREADS_PER_BLOCK: expected a power of two in [1, {MAX_THREADS}], got {t}")
    return t


def _gemm_config(rows_out, cols_out):
    T = int(GEMM_THREADS)
    if T < 1 or T > MAX_GEMM_THREADS:
        raise ValueError(f"GEMM_THREADS: expected an integer in [1, {MAX_GEMM_THREADS}], got {T}")
    tile = REG * T
    return (_blocks(rows_out, tile), _blocks(cols_out, tile)), (T, T)


def launch_z_forward(w, b, a_prev, z, stream=0):
    """P1 (1) on the device; grid over 4T x 4T tiles of (j, i)."""
    grid, block = _gemm_config(z.shape[0], z.shape[1])
    z_forward_cuda[grid, block, stream](w, b, a_prev, z)


def launch_dw_db_backward(dz, a_prev, w, l2, dw, db, stream=0):
    """P1 (13), (14) (+ L2) on the device; grid over 4T x 4T tiles of (k, j)."""
    grid, block = _gemm_config(dw.shape[1], dw.shape[0])
    dw_db_backward_cuda[grid, block, stream](dz, a_prev, w, l2, dw, db)


def launch_da_prev_backward(w, dz, da_prev, stream=0):
    """P1 (21) on the device; grid over 4T x 4T tiles of (k, i)."""
    grid, block = _gemm_config(da_prev.shape[0], da_prev.shape[1])
    da_prev_backward_cuda[grid, block, stream](w, dz, da_prev)


def _elementwise(kernel, count, stream, *args):
    t = _tpb()
    kernel[_blocks(count, t), t, stream](*args)


def launch_activation_forward(code, z, a, stream=0):
    n, m = z.shape
    _elementwise(activation_forward_cuda, m if code == SOFTMAX else n * m, stream, code, z, a)


def launch_dz_backward(code, z, a, da, dz, stream=0):
    n, m = z.shape
    _elementwise(dz_backward_cuda, m if code == SOFTMAX else n * m, stream, code, z, a, da, dz)


def launch_example_losses(cost_code, out_code, fused, z, a, y, losses, stream=0):
    _elementwise(example_losses_cuda, a.shape[1], stream, cost_code, out_code, fused, z, a, y,
                 losses)


def launch_cost_seed(cost_code, a, y, da, stream=0):
    _elementwise(cost_seed_cuda, a.shape[0] * a.shape[1], stream, cost_code, a, y, da)


def launch_output_delta_fused(out_code, a, y, dz, stream=0):
    n, m = a.shape
    _elementwise(output_delta_fused_cuda, m if out_code == SOFTMAX else n * m, stream, out_code,
                 a, y, dz)


def launch_copy_matrix(src, dst, stream=0):
    _elementwise(copy_matrix_cuda, src.shape[0] * src.shape[1], stream, src, dst)


def launch_gather_columns(src, order, start, stop, dst, stream=0):
    _elementwise(gather_columns_cuda, src.shape[0] * (stop - start), stream, src, order, start,
                 stop, dst)


def launch_mean_of(values, out, idx, stream=0):
    mean_of_cuda[1, _tpb(), stream](values, out, idx)


def launch_l2_penalty(params, seg_start, seg_len, l2, partial, out, idx, stream=0):
    """out[idx] += (lambda/2) sum over the weight segments of w^2 (two stages;
    ``partial`` holds REDUCE_BLOCKS float64)."""
    t = _tpb()
    sum_squares_partial_cuda[partial.shape[0], t, stream](params, seg_start, seg_len, partial)
    l2_penalty_cuda[1, t, stream](partial, l2, out, idx)


def launch_clip_gradient_norm(grads, seg_start, seg_len, max_norm, partial, norm, stream=0):
    """g <- g max_norm / ||g|| when ||g|| > max_norm; ||g|| is left in norm[0]."""
    t = _tpb()
    sum_squares_partial_cuda[partial.shape[0], t, stream](grads, seg_start, seg_len, partial)
    gradient_norm_cuda[1, t, stream](partial, norm)
    clip_gradient_norm_cuda[_blocks(grads.shape[0], t), t, stream](grads, norm, max_norm)


def launch_cost_is_finite(costs, idx, status, batch, stream=0):
    cost_is_finite_cuda[1, 1, stream](costs, idx, status, batch)


def launch_optimizer_step(kind, grads, velocity, second_moment, t, learning_rate, momentum, beta1,
                          beta2, epsilon, step, stream=0):
    _elementwise(optimizer_step_cuda, grads.shape[0], stream, kind, grads, velocity, second_moment,
                 t, learning_rate, momentum, beta1, beta2, epsilon, step)


def launch_step_is_finite(params, step, status, batch, stream=0):
    _elementwise(step_is_finite_cuda, params.shape[0], stream, params, step, status, batch)


def launch_optimizer_commit(kind, params, grads, velocity, second_moment, learning_rate, momentum,
                            beta1, beta2, step, status, stream=0):
    _elementwise(optimizer_commit_cuda, params.shape[0], stream, kind, params, grads, velocity,
                 second_moment, learning_rate, momentum, beta1, beta2, step, status)


# ------------------------------------------------------- fused epoch (small)
#: use the one-kernel-per-epoch path for networks small enough (see
#: :func:`fused_epoch_fits`); tests and benchmarks switch it off to compare
FUSED_EPOCH = True
#: the fused path takes a fit when 6 (parameters) (batch size), the flops of
#: one training step, is at most this: one block on one SM beats ~15 kernel
#: launches per batch only while the step is this small (to be tuned on a GPU)
FUSED_MAX_FLOPS = 2e7
#: threads of the fused kernel's single block (power of two). ptxas gives the
#: kernel 184 registers a thread (sm_90, float32, no spills), so a block of
#: more than 256 threads would not launch (65536 registers per block)
FUSED_THREADS = 256

def fused_epoch_fits(sizes, batch_size):
    """Whether a network of ``sizes`` trained with ``batch_size`` takes the
    fused path (:data:`FUSED_MAX_FLOPS`)."""
    n_params = sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1))
    return 6.0 * n_params * batch_size <= FUSED_MAX_FLOPS


@_device
def _slot(ws3, slot, n, mb):
    """The (n, mb) matrix of a workspace slot: ws3[slot] is (capacity, nmax)
    C-ordered, so the transposed slice has each example's column contiguous
    (j fastest), the F-ordered layout of the other kernels. Slicing and .T
    make views in device code; reshape cannot (it calls a CPU runtime helper)."""
    return ws3[slot, :mb, :n].T


@_kernel
def train_epoch_fused_cuda(params, grads, sizes, w_off, b_off, act_codes, cost_code, fused, l2,
                           X, Y, order, batch_size, first, stop, ws3, losses, batch_costs,
                           status, kind, velocity, second_moment, step, t0, learning_rate,
                           momentum, beta1, beta2, epsilon):
    """Batches [first, stop) of one epoch in ONE launch of ONE block: the GPU
    twin of :func:`fnn_numba.engine.train_batches` for small networks, which
    the ~15 launches per batch of the per-equation path would leave idle.

    Each phase is the same equation as its per-equation kernel, as a
    block-strided loop with ``syncthreads`` between phases, and runs the CPU
    kernels' own workers where the work is per column or per element:
    gather; P1 (1) (t -> (j, i), k innermost); P1 (2) (``activation_column``,
    t -> i); L_i (``loss_of_example``, t -> i); J = mean + L2 by the fixed
    tree; the seed (``loss_slope``) and P1 (17) (``dz_column``), or the fused
    delta (``fused_delta_column``); P1 (13) + (14) (t -> (j, k), i innermost);
    P1 (21) (t -> (k, i), j innermost); the optimizer (``step_element``, the
    finiteness check, ``commit_element``; t -> q). A non-finite J or update
    stops the kernel with status[0] = the batch, before anything of that
    batch is written, as the CPU driver does.

    Storage: ``params``/``grads`` flat [W1, b1, ...] with W[l] C-ordered at
    w_off[l-1] (w[j,k] at w_off + j K + k); the workspace ``ws3`` has one
    slot per (role, layer), slot = role (L + 1) + l for the roles A, Z, DA, DZ
    (0..3) and slot 4 (L + 1) for the batch's targets (see :func:`_slot`).
    """
    tid = cuda.threadIdx.x
    T = cuda.blockDim.x
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    flag = cuda.shared.array(1, dtype=np.int64)
    L = sizes.shape[0] - 1
    L1 = L + 1
    m = X.shape[1]
    P = params.shape[0]
    n0 = sizes[0]
    nL = sizes[L]
    dt = params.dtype.type
    zero = dt(0)
    one = dt(1)
    l2v = dt(l2)
    out_code = act_codes[L - 1]
    for bi in range(first, stop):
        start = bi * batch_size
        mb = min(batch_size, m - start)
        x = _slot(ws3, 0, n0, mb)
        y = _slot(ws3, 4 * L1, nL, mb)
        for t in range(tid, n0 * mb, T):
            r = t % n0
            c = t // n0
            x[r, c] = X[r, order[start + c]]
        for t in range(tid, nL * mb, T):
            r = t % nL
            c = t // nL
            y[r, c] = Y[r, order[start + c]]
        cuda.syncthreads()
        # forward: P1 (1) then P1 (2), layer by layer
        for l in range(1, L + 1):
            n = sizes[l]
            K = sizes[l - 1]
            ow = w_off[l - 1]
            ob = b_off[l - 1]
            a_prev = _slot(ws3, l - 1, K, mb)
            z = _slot(ws3, L1 + l, n, mb)
            a = _slot(ws3, l, n, mb)
            for t in range(tid, n * mb, T):
                j = t % n
                i = t // n
                s = zero
                for k in range(K):
                    s += params[ow + j * K + k] * a_prev[k, i]
                z[j, i] = s + params[ob + j]
            cuda.syncthreads()
            for i in range(tid, mb, T):
                activation_column(act_codes[l - 1], z, a, i)
            cuda.syncthreads()
        # the cost: L_i per example, then J = (1/m) sum_i L_i + L2 by the fixed tree
        zL = _slot(ws3, L1 + L, nL, mb)
        aL = _slot(ws3, L, nL, mb)
        for i in range(tid, mb, T):
            loss_of_example(cost_code, out_code, fused, zL, aL, y, losses, i)
        cuda.syncthreads()
        acc = 0.0
        for i in range(tid, mb, T):
            acc += losses[i]
        _block_sum(buf, acc)
        J = buf[0] / mb
        cuda.syncthreads()
        if l2 > 0:
            acc = 0.0
            for l in range(L):
                for q in range(w_off[l] + tid, w_off[l] + sizes[l + 1] * sizes[l], T):
                    acc += params[q] * params[q]
            _block_sum(buf, acc)
            J += 0.5 * l2 * buf[0]
            cuda.syncthreads()
        if not math.isfinite(J):
            if tid == 0:
                status[0] = bi
            return
        if tid == 0:
            batch_costs[bi] = J
        # backward: the fused delta, or the seed and P1 (17) at the output
        dzL = _slot(ws3, 3 * L1 + L, nL, mb)
        if fused:
            for i in range(tid, mb, T):
                fused_delta_column(out_code, aL, y, dzL, i)
        else:
            daL = _slot(ws3, 2 * L1 + L, nL, mb)
            inv_m = dt(1.0 / mb)
            for t in range(tid, nL * mb, T):
                j = t % nL
                i = t // nL
                daL[j, i] = loss_slope(cost_code, aL[j, i], y[j, i]) * inv_m
            cuda.syncthreads()
            for i in range(tid, mb, T):
                dz_column(out_code, zL, aL, daL, dzL, i)
        cuda.syncthreads()
        for l in range(L, 0, -1):
            n = sizes[l]
            K = sizes[l - 1]
            dz = _slot(ws3, 3 * L1 + l, n, mb)
            if l < L:
                z = _slot(ws3, L1 + l, n, mb)
                a = _slot(ws3, l, n, mb)
                da = _slot(ws3, 2 * L1 + l, n, mb)
                for i in range(tid, mb, T):
                    dz_column(act_codes[l - 1], z, a, da, dz, i)
                cuda.syncthreads()
            ow = w_off[l - 1]
            a_prev = _slot(ws3, l - 1, K, mb)
            # P1 (13) + L2, t -> (j, k) with k fastest (dw C-ordered)
            for t in range(tid, n * K, T):
                k = t % K
                j = t // K
                s = zero
                for i in range(mb):
                    s += dz[j, i] * a_prev[k, i]
                grads[ow + t] = s + l2v * params[ow + t]
            # P1 (14)
            ob = b_off[l - 1]
            for j in range(tid, n, T):
                s = zero
                for i in range(mb):
                    s += dz[j, i]
                grads[ob + j] = s
            if l > 1:
                # P1 (21), t -> (k, i) with k fastest (da_prev F-ordered)
                da_prev = _slot(ws3, 2 * L1 + l - 1, K, mb)
                for t in range(tid, K * mb, T):
                    k = t % K
                    i = t // K
                    s = zero
                    for j in range(n):
                        s += dz[j, i] * params[ow + j * K + k]
                    da_prev[k, i] = s
            cuda.syncthreads()
        # the optimizer: step, finiteness check, commit
        if tid == 0:
            flag[0] = 0
        cuda.syncthreads()
        t = t0 + (bi - first) + 1
        c1 = c2 = one
        if kind == ADAM:
            c1 = dt(1.0 - beta1 ** t)
            c2 = dt(1.0 - beta2 ** t)
        alpha, mu, b1, b2 = dt(learning_rate), dt(momentum), dt(beta1), dt(beta2)
        for q in range(tid, P, T):
            sq = step_element(kind, grads[q], velocity[q], second_moment[q], alpha, mu, b1, b2,
                              one, dt(epsilon), c1, c2)
            step[q] = sq
            if not math.isfinite(params[q] + sq):
                flag[0] = 1
        cuda.syncthreads()
        if flag[0] != 0:
            if tid == 0:
                status[0] = bi
            return
        for q in range(tid, P, T):
            commit_element(kind, q, params, grads, velocity, second_moment, alpha, mu, b1, b2, one,
                           step)
        cuda.syncthreads()


def launch_train_epoch_fused(dev, fit, first, stop, kind, t0, learning_rate, momentum, beta1,
                             beta2, epsilon, l2, stream=0):
    """Launch :func:`train_epoch_fused_cuda` for a fit prepared by
    :meth:`fnn_numba.gpu_engine.DeviceNetwork.begin_fit`: one block."""
    fz = fit.get("fused")
    if fz is None:
        L1 = len(dev.sizes)
        fz = fit["fused"] = dict(
            ws3=cuda.device_array((4 * L1 + 1, fit["batch_size"], max(dev.sizes)), dtype=dev.dtype),
            losses=cuda.device_array(fit["batch_size"], dtype=dev.dtype),
            sizes=cuda.to_device(np.asarray(dev.sizes, dtype=np.int64)),
            w_off=cuda.to_device(dev.w_off.astype(np.int64)),
            b_off=cuda.to_device(dev.b_off.astype(np.int64)),
            act_codes=cuda.to_device(np.asarray(dev.act_codes, dtype=np.int64)))
    threads = int(FUSED_THREADS)
    if threads < 1 or threads > MAX_THREADS or threads & (threads - 1):
        raise ValueError(f"FUSED_THREADS: expected a power of two in [1, {MAX_THREADS}], got {threads}")
    train_epoch_fused_cuda[1, threads, stream](
        dev.params, dev.grads, fz["sizes"], fz["w_off"], fz["b_off"], fz["act_codes"],
        dev.cost_code, dev.fused, float(l2), fit["X"], fit["Y"], fit["order"], fit["batch_size"],
        first, stop, fz["ws3"], fz["losses"], fit["batch_costs"], fit["status"], kind,
        fit["velocity"], fit["second"], fit["step"], t0, learning_rate, momentum, beta1, beta2,
        epsilon)


# ------------------------------------------------------------ compile check
def kernel_signatures(dtype):
    """Each kernel's argument types as the CUDA engine launches it, for
    ``dtype`` (numba.float32 or numba.float64): used to compile every kernel
    ahead of time (:func:`compile_ptx_all`)."""
    from numba import types

    f = dtype
    mat_f = types.Array(f, 2, "F")
    mat_c = types.Array(f, 2, "C")
    vec = types.Array(f, 1, "C")
    vec64 = types.Array(types.float64, 1, "C")
    ivec = types.Array(types.int64, 1, "C")
    i64, f64, b1 = types.int64, types.float64, types.boolean
    return {
        "z_forward_cuda": (mat_c, vec, mat_f, mat_f),
        "dw_db_backward_cuda": (mat_f, mat_f, mat_c, f, mat_c, vec),
        "da_prev_backward_cuda": (mat_c, mat_f, mat_f),
        "activation_forward_cuda": (i64, mat_f, mat_f),
        "dz_backward_cuda": (i64, mat_f, mat_f, mat_f, mat_f),
        "example_losses_cuda": (i64, i64, b1, mat_f, mat_f, mat_f, vec),
        "cost_seed_cuda": (i64, mat_f, mat_f, mat_f),
        "output_delta_fused_cuda": (i64, mat_f, mat_f, mat_f),
        "copy_matrix_cuda": (mat_f, mat_c),
        "gather_columns_cuda": (mat_f, ivec, i64, i64, mat_f),
        "mean_of_cuda": (vec, vec64, i64),
        "sum_squares_partial_cuda": (vec, ivec, ivec, vec64),
        "l2_penalty_cuda": (vec64, f64, vec64, i64),
        "gradient_norm_cuda": (vec64, vec64),
        "clip_gradient_norm_cuda": (vec, vec64, f64),
        "cost_is_finite_cuda": (vec64, i64, ivec, i64),
        "optimizer_step_cuda": (i64, vec, vec, vec, i64, f64, f64, f64, f64, f64, vec),
        "step_is_finite_cuda": (vec, vec, ivec, i64),
        "optimizer_commit_cuda": (i64, vec, vec, vec, vec, f64, f64, f64, f64, vec, ivec),
        "train_epoch_fused_cuda": (vec, vec, ivec, ivec, ivec, ivec, i64, b1, f64, mat_f, mat_f,
                                   ivec, i64, i64, i64, types.Array(f, 3, "C"), vec, vec64, ivec,
                                   i64, vec, vec, vec, i64, f64, f64, f64, f64, f64),
    }


def compile_ptx_all(cc=(9, 0), dtypes=("float32", "float64")):
    """Compile every kernel to PTX for compute capability ``cc`` with the real
    NVVM compiler (no GPU needed, only the CUDA toolkit's NVVM and NVRTC).
    Returns {(kernel name, dtype name): PTX text}."""
    from numba import types

    if cuda is None:
        raise RuntimeError(f"numba.cuda is unavailable ({IMPORT_ERROR!r})")
    out = {}
    for dname in dtypes:
        for name, sig in kernel_signatures(getattr(types, dname)).items():
            fn = globals()[name].py_func
            ptx, _ = cuda.compile_ptx(fn, sig, cc=cc)
            out[(name, dname)] = ptx
    return out
