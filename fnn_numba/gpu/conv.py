"""The CUDA twins of the convolution and pooling kernels
(:mod:`fnn_numba.conv_kernels`), one per equation.

Each kernel here (the CPU kernel's name plus ``_cuda``) runs the CPU
kernel's own per-example or per-parameter worker, as
:mod:`fnn_numba.gpu_kernels` does for the dense layers: numba-cuda compiles
an ``@njit`` function called from a kernel as a device function, and in the
simulator the kernels call its ``py_func`` (:func:`fnn_numba.gpu.target.worker`),
so the equations are written once. Thread layout, the CPU kernels' ``prange``
index made a CUDA thread: one thread per example i for the per-example
equations (CNN (1), (4), POOL (1)-(4), SUB (1), (4)), one per pair (f, c)
for CNN (2), (3) and one per map c for SUB (2), (3). Every output element is
written by one thread in one order, so no kernel races and the results equal
the CPU kernels' to round-off (tested under ``NUMBA_ENABLE_CUDASIM=1``).

This is the straightforward layout, not a fast one: a thread walks a whole
example's maps, so a batch of m examples keeps only m threads busy. The CUDA
backend (:mod:`fnn_numba.gpu_engine`) has no driver for these layers yet;
``Network(..., device="cuda")`` with them raises NotImplementedError.
Dropout has no twin yet.

It lives in :mod:`fnn_numba.gpu` so that the package's cache check
(:mod:`fnn_numba.gpu.cache`, run by :mod:`~fnn_numba.gpu.kernels`, which
this module imports first) covers its kernels: they are cached in the same
directory, and the digest includes this file; ``fnn_numba.gpu_conv`` is
the same module under its former name.

Launchers ``launch_<cpu name>`` pick the grid from the shapes and
:data:`fnn_numba.gpu_kernels.THREADS_PER_BLOCK`.
"""

from .. import conv_kernels as _cpu
from .kernels import _elementwise
from .target import cuda, worker
from .target import kernel as _kernel

#: the vectorised runs the conv workers pass device arrays to (Python too, in the simulator)
_RUNS = ("axpy_run", "dot_run")


def _worker(fn):
    return worker(fn, python_callees=_RUNS)


conv_forward_example = _worker(_cpu.conv_forward_example)
conv_dw_pair = _worker(_cpu.conv_dw_pair)
conv_da_prev_example = _worker(_cpu.conv_da_prev_example)
maxpool_example = _worker(_cpu.maxpool_example)
maxpool_backward_example = _worker(_cpu.maxpool_backward_example)
avgpool_example = _worker(_cpu.avgpool_example)
pool_spread_example = _worker(_cpu.pool_spread_example)
subsample_map_gradient = _worker(_cpu.subsample_map_gradient)


@_kernel
def conv_forward_cuda(w, b, a_prev, z, H, W, stride, pad):
    """CNN (1): z[f,x,y,i] = sum_{c,u,v} w[f,c,u,v] a[c, x s + u - p, y s + v - p, i] + b[f].
    CPU twin ``conv_forward``; one thread per example i."""
    i = cuda.grid(1)
    if i < a_prev.shape[1]:
        conv_forward_example(w, b, a_prev, z, i, H, W, stride, pad)


@_kernel
def conv_dw_db_cuda(dz, a_prev, w, l2, dw, db, H, W, stride, pad):
    """CNN (2), (3): dw[f,c,u,v] = sum_{i,x,y} dz[f,x,y,i] a[c, x s + u - p, y s + v - p, i]
    + l2 w[f,c,u,v]; db[f] = sum_{i,x,y} dz[f,x,y,i]. CPU twin ``conv_dw_db``;
    one thread per pair (f, c) (the pair c = 0 also sums db[f])."""
    t = cuda.grid(1)
    C = w.shape[1]
    if t < w.shape[0] * C:
        conv_dw_pair(dz, a_prev, w, l2, dw, db, t // C, t % C, H, W, stride, pad)


@_kernel
def conv_da_prev_cuda(w, dz, da_prev, H, W, stride, pad):
    """CNN (4) in the padded, flipped form:
    da[c,r,q,i] = sum_f sum_{u',v'} w[f, c, KH-1-u', KW-1-v'] D[f, r + u' - (KH-1-p), q + v' - (KW-1-p), i].
    CPU twin ``conv_da_prev``; one thread per example i."""
    i = cuda.grid(1)
    if i < dz.shape[1]:
        conv_da_prev_example(w, dz, da_prev, i, H, W, stride, pad)


@_kernel
def maxpool_forward_cuda(a_prev, a, C, H, W, P, Q):
    """POOL (1): a[c,x,y,i] = max_{u,v} a_prev[c, x P + u, y Q + v, i]. CPU twin
    ``maxpool_forward``; one thread per example i."""
    i = cuda.grid(1)
    if i < a_prev.shape[1]:
        maxpool_example(a_prev, a, i, C, H, W, P, Q)


@_kernel
def maxpool_backward_cuda(a_prev, da, da_prev, C, H, W, P, Q):
    """POOL (2): dJ/da at each window's first maximum (row-major), 0 elsewhere.
    CPU twin ``maxpool_backward``; one thread per example i."""
    i = cuda.grid(1)
    if i < a_prev.shape[1]:
        maxpool_backward_example(a_prev, da, da_prev, i, C, H, W, P, Q)


@_kernel
def avgpool_forward_cuda(a_prev, a, C, H, W, P, Q):
    """POOL (3): a[c,x,y,i] = mean_{u,v} a_prev[c, x P + u, y Q + v, i]. CPU twin
    ``avgpool_forward``; one thread per example i."""
    i = cuda.grid(1)
    if i < a_prev.shape[1]:
        avgpool_example(a_prev[:0, 0], a_prev[:0, 0], a_prev, a, i, C, H, W, P, Q)


@_kernel
def avgpool_backward_cuda(da, da_prev, C, H, W, P, Q):
    """POOL (4): da_prev[c, x P + u, y Q + v, i] = da[c,x,y,i] / (P Q). CPU twin
    ``avgpool_backward``; one thread per example i."""
    i = cuda.grid(1)
    if i < da.shape[1]:
        pool_spread_example(da[:0, 0], da, da_prev, i, C, H, W, P, Q)


@_kernel
def subsample_forward_cuda(beta, b, a_prev, z, C, H, W, P, Q):
    """SUB (1): z[c,x,y,i] = beta[c] mean_{u,v} a_prev[c, x P + u, y Q + v, i] + b[c].
    CPU twin ``subsample_forward``; one thread per example i."""
    i = cuda.grid(1)
    if i < a_prev.shape[1]:
        avgpool_example(beta, b, a_prev, z, i, C, H, W, P, Q)


@_kernel
def subsample_dbeta_db_cuda(dz, a_prev, beta, l2, dbeta, db, C, H, W, P, Q):
    """SUB (2), (3): dbeta[c] = sum_{i,x,y} dz[c,x,y,i] mean(window) + l2 beta[c];
    db[c] = sum_{i,x,y} dz[c,x,y,i]. CPU twin ``subsample_dbeta_db``; one
    thread per map c."""
    c = cuda.grid(1)
    if c < C:
        subsample_map_gradient(dz, a_prev, beta, l2, dbeta, db, c, C, H, W, P, Q)


@_kernel
def subsample_da_prev_cuda(beta, dz, da_prev, C, H, W, P, Q):
    """SUB (4): da_prev[c, x P + u, y Q + v, i] = dz[c,x,y,i] beta[c] / (P Q). CPU
    twin ``subsample_da_prev``; one thread per example i."""
    i = cuda.grid(1)
    if i < dz.shape[1]:
        pool_spread_example(beta, dz, da_prev, i, C, H, W, P, Q)


# ------------------------------------------------------------------ launchers
def launch_conv_forward(w, b, a_prev, z, H, W, stride, pad, stream=0):
    _elementwise(conv_forward_cuda, a_prev.shape[1], stream, w, b, a_prev, z, H, W, stride, pad)


def launch_conv_dw_db(dz, a_prev, w, l2, dw, db, H, W, stride, pad, stream=0):
    _elementwise(
        conv_dw_db_cuda,
        w.shape[0] * w.shape[1],
        stream,
        dz,
        a_prev,
        w,
        l2,
        dw,
        db,
        H,
        W,
        stride,
        pad,
    )


def launch_conv_da_prev(w, dz, da_prev, H, W, stride, pad, stream=0):
    _elementwise(conv_da_prev_cuda, dz.shape[1], stream, w, dz, da_prev, H, W, stride, pad)


def launch_maxpool_forward(a_prev, a, C, H, W, P, Q, stream=0):
    _elementwise(maxpool_forward_cuda, a_prev.shape[1], stream, a_prev, a, C, H, W, P, Q)


def launch_maxpool_backward(a_prev, da, da_prev, C, H, W, P, Q, stream=0):
    _elementwise(maxpool_backward_cuda, a_prev.shape[1], stream, a_prev, da, da_prev, C, H, W, P, Q)


def launch_avgpool_forward(a_prev, a, C, H, W, P, Q, stream=0):
    _elementwise(avgpool_forward_cuda, a_prev.shape[1], stream, a_prev, a, C, H, W, P, Q)


def launch_avgpool_backward(da, da_prev, C, H, W, P, Q, stream=0):
    _elementwise(avgpool_backward_cuda, da.shape[1], stream, da, da_prev, C, H, W, P, Q)


def launch_subsample_forward(beta, b, a_prev, z, C, H, W, P, Q, stream=0):
    _elementwise(subsample_forward_cuda, a_prev.shape[1], stream, beta, b, a_prev, z, C, H, W, P, Q)


def launch_subsample_dbeta_db(dz, a_prev, beta, l2, dbeta, db, C, H, W, P, Q, stream=0):
    _elementwise(subsample_dbeta_db_cuda, C, stream, dz, a_prev, beta, l2, dbeta, db, C, H, W, P, Q)


def launch_subsample_da_prev(beta, dz, da_prev, C, H, W, P, Q, stream=0):
    _elementwise(subsample_da_prev_cuda, dz.shape[1], stream, beta, dz, da_prev, C, H, W, P, Q)
