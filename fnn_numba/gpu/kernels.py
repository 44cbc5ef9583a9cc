"""The CUDA kernels: the twin of every CPU kernel, one per equation.

Each kernel here computes the same equation as its CPU twin in
:mod:`fnn_numba.kernels` (same name plus ``_cuda``, same index names j, k, i,
p) and calls the same ``@njit`` code: the per-element formulas of
:mod:`fnn_numba.activations` and :mod:`fnn_numba.costs` and the CPU kernels'
per-column and per-parameter workers (``activation_column``, ``dz_column``,
``loss_of_example``, ``fused_delta_column``, ``step_element``,
``commit_element``; see :mod:`fnn_numba.gpu.target`). The GEMM-shaped
kernels run the block tile of :mod:`fnn_numba.gpu.tiles`, which the fused
epoch (:mod:`fnn_numba.gpu.fused`) runs too. Only the loops that fix the
thread layout are the GPU's own.

Each kernel has a launcher, ``launch_<cpu name>``, that picks the grid and
the block from the shapes and the module settings below; the backend
(:mod:`fnn_numba.gpu.backend`) calls only the launchers.

Thread layouts:

- GEMM-shaped kernels (P1 (1), (13), (21)): a block of T x T threads, a
  (4 T) x (4 T) tile of the output (:mod:`fnn_numba.gpu.tiles`). T is
  ``GEMM_THREADS`` (16), halved (down to ``GEMM_MIN_THREADS``) while the
  grid would have fewer than ``2 x`` the device's multiprocessors
  (:func:`gemm_config`): small layers then still spread over the device.
  The batch index i, the one that can run into millions, is on the grid's x
  (up to 2^31 - 1 blocks); y, limited to 65535 blocks, carries a layer width.
- Element-wise kernels: one thread per element (j, i), j fastest (the
  F-ordered (n, m) layout), ``THREADS_PER_BLOCK`` threads per block.
- Column kernels (softmax P2 (7), (8), the losses L_i): one thread per example i.
- Reductions (the mean of L_i, the L2 term, the gradient norm): a fixed
  tree in shared memory, so every sum has one order whatever the scheduling:
  results are deterministic, run to run.

Every output element is written by exactly one thread, so no kernel races.

Layout differences from the CPU twins, chosen for the GPU: for long batches
the CPU P1 (13) kernel reads C-ordered copies of dz and A[l-1], to put the
summed index contiguous for its register tile. On the GPU the shared-memory
tile is loaded along whichever index is contiguous, so
:func:`dw_db_backward_cuda` reads the F-ordered dz and A[l-1] and
:func:`da_prev_backward_cuda` the C-ordered W directly: no copies.

Settings (module attributes, read by the launchers at each launch):
``THREADS_PER_BLOCK`` (1-D kernels and reductions; a power of two up to
1024), ``GEMM_THREADS`` (the largest side T of a GEMM block, 1..16),
``GEMM_MIN_THREADS`` (the smallest T :func:`gemm_config` goes down to),
``SM_COUNT`` (the device's multiprocessors; None: ask the device) and
``REDUCE_BLOCKS`` (first-stage blocks of the parameter-sized sums, read when
a network is moved to the device). The simulator tests set them small so
that tiny inputs span several blocks.
"""

import math

import numpy as np

from ..activations import SOFTMAX, activation_slope, activation_value
from ..costs import loss_slope
from ..kernels import ADAM
from . import cache as _cache
from .target import (
    KERNELS,
    SMEM_ALIGN,
    activation_column,
    commit_element,
    configured,
    cuda,
    device,
    dz_column,
    fused_delta_column,
    kernel,
    loss_of_example,
    step_element,
)
from .tiles import (
    MAX_GEMM_THREADS,
    REG,
    TILE_SHAPE,
    gemm_tile,
    store_da_tile,
    store_db,
    store_dw_tile,
    store_z_tile,
)

#: threads per block of the 1-D kernels and of the reductions (power of two)
THREADS_PER_BLOCK = 256
#: the largest side T of the 2-D block of a GEMM kernel (a 4T x 4T tile)
GEMM_THREADS = 16
#: the smallest T that :func:`gemm_config` picks for a small grid: 8 x 8 = 64
#: threads, two warps; below that a block leaves most of an SM's lanes idle
GEMM_MIN_THREADS = 8
#: multiprocessors of the device (None: read from the device once)
SM_COUNT = None
#: shared buffer of the reductions (the largest block)
MAX_THREADS = 1024
#: blocks of the first stage of a parameter-sized sum
REDUCE_BLOCKS = 64
#: the largest gridDim.y (and z) CUDA allows
MAX_GRID_Y = 65535


# --------------------------------------------------------------- GEMM-shaped
@kernel
def z_forward_cuda(w, b, a_prev, z):
    """P1 (1): z[j,i] = sum_k w[j,k] a_prev[k,i] + b[j].  CPU twin: ``z_forward``.

    The tile of :mod:`fnn_numba.gpu.tiles` with x = j, y = i, s = k: both
    w (C-ordered) and a_prev (F-ordered) are contiguous along k. Block
    (T, T); blockIdx.x over the 4T-column tiles of i, blockIdx.y over the
    4T-row tiles of j.
    """
    n, K = w.shape
    m = a_prev.shape[1]
    T = cuda.blockDim.x
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    xt = cuda.shared.array(TILE_SHAPE, w.dtype, SMEM_ALIGN)
    yt = cuda.shared.array(TILE_SHAPE, w.dtype, SMEM_ALIGN)
    jb = cuda.blockIdx.y
    ib = cuda.blockIdx.x
    acc, _ = gemm_tile(w, True, a_prev.T, True, n, m, K, jb, ib, tx, ty, T, xt, yt, False)
    store_z_tile(z, b, acc, REG * (jb * T + tx), REG * (ib * T + ty), n, m)


@kernel
def dw_db_backward_cuda(dz, a_prev, w, l2, dw, db):
    """P1 (13) and (14) with the L2 term:
    dw[j,k] = sum_i dz[j,i] a_prev[k,i] + l2 w[j,k];  db[j] = sum_i dz[j,i].
    CPU twin: ``dw_db_backward`` (which, for long batches, reads C-ordered
    copies of dz, a_prev).

    The tile with x = k, y = j, s = i: a_prev and dz (F-ordered) are
    contiguous along k and j. Block (T, T); blockIdx.x over the 4T tiles of
    k, blockIdx.y over those of j. The blocks of the first k tile also sum
    db from the staged dz (threads with tx == 0), so each db[j] is written
    once.
    """
    n, K = dw.shape
    m = dz.shape[1]
    T = cuda.blockDim.x
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    xt = cuda.shared.array(TILE_SHAPE, dz.dtype, SMEM_ALIGN)
    yt = cuda.shared.array(TILE_SHAPE, dz.dtype, SMEM_ALIGN)
    kb = cuda.blockIdx.x
    jb = cuda.blockIdx.y
    with_db = kb == 0 and tx == 0
    acc, ysum = gemm_tile(a_prev, False, dz, False, K, n, m, kb, jb, tx, ty, T, xt, yt, with_db)
    j0 = REG * (jb * T + ty)
    store_dw_tile(dw, w, l2, acc, REG * (kb * T + tx), j0, n, K)
    if with_db:
        store_db(db, ysum, j0, n)


@kernel
def da_prev_backward_cuda(w, dz, da_prev):
    """P1 (21): da_prev[k,i] = sum_j dz[j,i] w[j,k]  (dJ/dA[l-1], or dJ/dX).
    CPU twin: ``da_prev_backward`` (outer-product order on the CPU).

    The tile with x = k, y = i, s = j: w.T is contiguous along k (w
    C-ordered), dz.T along j (dz F-ordered). Block (T, T); blockIdx.x over
    the 4T tiles of i, blockIdx.y over those of k.
    """
    n, K = w.shape
    m = dz.shape[1]
    T = cuda.blockDim.x
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    xt = cuda.shared.array(TILE_SHAPE, w.dtype, SMEM_ALIGN)
    yt = cuda.shared.array(TILE_SHAPE, w.dtype, SMEM_ALIGN)
    kb = cuda.blockIdx.y
    ib = cuda.blockIdx.x
    acc, _ = gemm_tile(w.T, False, dz.T, True, K, m, n, kb, ib, tx, ty, T, xt, yt, False)
    store_da_tile(da_prev, acc, REG * (kb * T + tx), REG * (ib * T + ty), K, m)


# ------------------------------------------------------ element and column
@kernel
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


@kernel
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


@kernel
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


@kernel
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


@kernel
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


@kernel
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


@kernel
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
@device
def block_sum(buf, s):
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


@kernel
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
    block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        out[idx] = buf[0] / m


@kernel
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
    block_sum(buf, acc)
    if cuda.threadIdx.x == 0:
        partial[cuda.blockIdx.x] = buf[0]


@kernel
def l2_penalty_cuda(partial, l2, out, idx):
    """Adds the L2 term (lambda/2) sum_l ||W[l]||_F^2 to out[idx], from the
    first-stage sums of :func:`sum_squares_partial_cuda`. One block.
    CPU twin: ``l2_penalty``."""
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    s = 0.0
    for b in range(cuda.threadIdx.x, partial.shape[0], cuda.blockDim.x):
        s += partial[b]
    block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        out[idx] += 0.5 * l2 * buf[0]


@kernel
def gradient_norm_cuda(partial, norm):
    """norm[0] = sqrt(sum_q g[q]^2) from the first-stage sums. One block.
    First half of the CPU twin ``clip_gradient_norm``."""
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    s = 0.0
    for b in range(cuda.threadIdx.x, partial.shape[0], cuda.blockDim.x):
        s += partial[b]
    block_sum(buf, s)
    if cuda.threadIdx.x == 0:
        norm[0] = math.sqrt(buf[0])


@kernel
def clip_gradient_norm_cuda(grads, norm, max_norm):
    """Gradient clipping by norm (notes-neural-networks): g <- g max_norm / ||g||
    when ||g|| = norm[0] exceeds max_norm. One thread per parameter q.
    CPU twin: ``clip_gradient_norm`` (the norm comes from
    :func:`gradient_norm_cuda`)."""
    q = cuda.grid(1)
    if q < grads.shape[0] and norm[0] > max_norm:
        grads[q] *= grads.dtype.type(max_norm / norm[0])


# ----------------------------------------------------------------- training
@kernel
def cost_is_finite_cuda(costs, idx, status, batch):
    """Divergence check of the batch cost J = costs[idx]: the first batch with
    a non-finite J is recorded in status[0] (-1 while every J was finite);
    :func:`optimizer_commit_cuda` writes nothing once it is set. One thread.
    The CPU driver ``train_batches`` returns at that batch instead."""
    if cuda.grid(1) == 0 and status[0] < 0 and not math.isfinite(costs[idx]):
        status[0] = batch


@kernel
def optimizer_step_cuda(
    kind, grads, velocity, second_moment, t, learning_rate, momentum, beta1, beta2, epsilon, step
):
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
        c1 = dt(1.0 - beta1**t)
        c2 = dt(1.0 - beta2**t)
    step[q] = step_element(
        kind,
        grads[q],
        velocity[q],
        second_moment[q],
        dt(learning_rate),
        dt(momentum),
        dt(beta1),
        dt(beta2),
        one,
        dt(epsilon),
        c1,
        c2,
    )


@kernel
def step_is_finite_cuda(params, step, status, batch):
    """Records ``batch`` in status[0] (unless an earlier batch is there) when
    some params[q] + step[q] is not finite. One thread per q.
    CPU twin: ``step_is_finite``. Every thread that writes writes the same
    value, so the race is benign."""
    q = cuda.grid(1)
    if q < params.shape[0] and status[0] < 0 and not math.isfinite(params[q] + step[q]):
        status[0] = batch


@kernel
def optimizer_commit_cuda(
    kind,
    params,
    grads,
    velocity,
    second_moment,
    learning_rate,
    momentum,
    beta1,
    beta2,
    step,
    status,
):
    """params += step and the optimizer's state advanced, unless status[0]
    records a diverged batch. One thread per q. CPU twin: ``optimizer_commit``
    (its worker ``commit_element``; with L2 the weight gradients already hold
    + lambda W, so sgd is the slides' W <- (1 - alpha lambda) W - alpha dJ/dW)."""
    q = cuda.grid(1)
    if q >= params.shape[0] or status[0] >= 0:
        return
    dt = grads.dtype.type
    commit_element(
        kind,
        q,
        params,
        grads,
        velocity,
        second_moment,
        dt(learning_rate),
        dt(momentum),
        dt(beta1),
        dt(beta2),
        dt(1),
        step,
    )


# ------------------------------------------------------------------ launchers
def blocks(count, threads):
    """Blocks of ``threads`` covering ``count`` items (at least one)."""
    return max(1, (count + threads - 1) // threads)


def threads_per_block():
    """``THREADS_PER_BLOCK``, checked."""
    t = int(THREADS_PER_BLOCK)
    if t < 1 or t > MAX_THREADS or t & (t - 1):
        raise ValueError(
            f"THREADS_PER_BLOCK: expected a power of two in [1, {MAX_THREADS}], got {t}"
        )
    return t


_SM = []


def sm_count():
    """``SM_COUNT``, or the device's multiprocessor count (read once; 132, an
    H100's, in the simulator or when the device cannot say)."""
    if SM_COUNT is not None:
        return int(SM_COUNT)
    if not _SM:
        try:
            _SM.append(int(cuda.get_current_device().MULTIPROCESSOR_COUNT))
        except Exception:  # the simulator's device has no attributes
            _SM.append(132)
    return _SM[0]


def gemm_config(x_len, y_len, y_is_batch):
    """(grid, block) of a GEMM kernel whose output tile runs over x < x_len
    (the contiguous output index) and y < y_len.

    T starts at ``GEMM_THREADS`` and is halved, down to ``GEMM_MIN_THREADS``,
    while the grid has fewer than twice :func:`sm_count` blocks: a 128 x 64
    output is 2 blocks of 64 x 64 but 8 of 32 x 32. When ``y_is_batch`` (y is
    the example index i, P1 (1) and (21)) the y tiles go on the grid's x,
    which allows 2^31 - 1 blocks; the other index goes on the grid's y,
    which allows 65535 (4T x 65535 rows: a layer of 4 million units at T = 16).
    """
    T = int(GEMM_THREADS)
    if T < 1 or T > MAX_GEMM_THREADS:
        raise ValueError(f"GEMM_THREADS: expected an integer in [1, {MAX_GEMM_THREADS}], got {T}")
    t_min = max(1, min(int(GEMM_MIN_THREADS), T))
    target = 2 * sm_count()
    while T > t_min and blocks(x_len, REG * T) * blocks(y_len, REG * T) < target:
        T //= 2
    bx, by = blocks(x_len, REG * T), blocks(y_len, REG * T)
    grid = (by, bx) if y_is_batch else (bx, by)
    if grid[1] > MAX_GRID_Y:
        raise ValueError(
            f"gemm_config: {max(x_len, y_len)} rows need {grid[1]} blocks on the "
            f"grid's y, which allows {MAX_GRID_Y}"
        )
    return grid, (T, T)


def launch_z_forward(w, b, a_prev, z, stream=0):
    """P1 (1) on the device; blocks over (i, j) tiles."""
    grid, block = gemm_config(z.shape[0], z.shape[1], True)
    configured(z_forward_cuda, grid, block, stream)(w, b, a_prev, z)


def launch_dw_db_backward(dz, a_prev, w, l2, dw, db, stream=0):
    """P1 (13), (14) (+ L2) on the device; blocks over (k, j) tiles."""
    grid, block = gemm_config(dw.shape[1], dw.shape[0], False)
    configured(dw_db_backward_cuda, grid, block, stream)(dz, a_prev, w, l2, dw, db)


def launch_da_prev_backward(w, dz, da_prev, stream=0):
    """P1 (21) on the device; blocks over (i, k) tiles."""
    grid, block = gemm_config(da_prev.shape[0], da_prev.shape[1], True)
    configured(da_prev_backward_cuda, grid, block, stream)(w, dz, da_prev)


def _elementwise(kernel_, count, stream, *args):
    t = threads_per_block()
    configured(kernel_, blocks(count, t), t, stream)(*args)


def launch_activation_forward(code, z, a, stream=0):
    n, m = z.shape
    _elementwise(activation_forward_cuda, m if code == SOFTMAX else n * m, stream, code, z, a)


def launch_dz_backward(code, z, a, da, dz, stream=0):
    n, m = z.shape
    _elementwise(dz_backward_cuda, m if code == SOFTMAX else n * m, stream, code, z, a, da, dz)


def launch_example_losses(cost_code, out_code, fused, z, a, y, losses, stream=0):
    _elementwise(
        example_losses_cuda, a.shape[1], stream, cost_code, out_code, fused, z, a, y, losses
    )


def launch_cost_seed(cost_code, a, y, da, stream=0):
    _elementwise(cost_seed_cuda, a.shape[0] * a.shape[1], stream, cost_code, a, y, da)


def launch_output_delta_fused(out_code, a, y, dz, stream=0):
    n, m = a.shape
    _elementwise(
        output_delta_fused_cuda, m if out_code == SOFTMAX else n * m, stream, out_code, a, y, dz
    )


def launch_copy_matrix(src, dst, stream=0):
    _elementwise(copy_matrix_cuda, src.shape[0] * src.shape[1], stream, src, dst)


def launch_gather_columns(src, order, start, stop, dst, stream=0):
    _elementwise(
        gather_columns_cuda, src.shape[0] * (stop - start), stream, src, order, start, stop, dst
    )


def launch_mean_of(values, out, idx, stream=0):
    configured(mean_of_cuda, 1, threads_per_block(), stream)(values, out, idx)


def launch_l2_penalty(params, seg_start, seg_len, l2, partial, out, idx, stream=0):
    """out[idx] += (lambda/2) sum over the weight segments of w^2 (two stages;
    ``partial`` holds REDUCE_BLOCKS float64)."""
    t = threads_per_block()
    configured(sum_squares_partial_cuda, partial.shape[0], t, stream)(
        params, seg_start, seg_len, partial
    )
    configured(l2_penalty_cuda, 1, t, stream)(partial, l2, out, idx)


def launch_clip_gradient_norm(grads, seg_start, seg_len, max_norm, partial, norm, stream=0):
    """g <- g max_norm / ||g|| when ||g|| > max_norm; ||g|| is left in norm[0]."""
    t = threads_per_block()
    configured(sum_squares_partial_cuda, partial.shape[0], t, stream)(
        grads, seg_start, seg_len, partial
    )
    configured(gradient_norm_cuda, 1, t, stream)(partial, norm)
    _elementwise(clip_gradient_norm_cuda, grads.shape[0], stream, grads, norm, max_norm)


def launch_cost_is_finite(costs, idx, status, batch, stream=0):
    configured(cost_is_finite_cuda, 1, 1, stream)(costs, idx, status, batch)


def launch_optimizer_step(
    kind,
    grads,
    velocity,
    second_moment,
    t,
    learning_rate,
    momentum,
    beta1,
    beta2,
    epsilon,
    step,
    stream=0,
):
    _elementwise(
        optimizer_step_cuda,
        grads.shape[0],
        stream,
        kind,
        grads,
        velocity,
        second_moment,
        t,
        learning_rate,
        momentum,
        beta1,
        beta2,
        epsilon,
        step,
    )


def launch_step_is_finite(params, step, status, batch, stream=0):
    _elementwise(step_is_finite_cuda, params.shape[0], stream, params, step, status, batch)


def launch_optimizer_commit(
    kind,
    params,
    grads,
    velocity,
    second_moment,
    learning_rate,
    momentum,
    beta1,
    beta2,
    step,
    status,
    stream=0,
):
    _elementwise(
        optimizer_commit_cuda,
        params.shape[0],
        stream,
        kind,
        params,
        grads,
        velocity,
        second_moment,
        learning_rate,
        momentum,
        beta1,
        beta2,
        step,
        status,
    )


_cache.invalidate_stale_cuda_cache(_cache.cuda_cache_dirs(KERNELS))
