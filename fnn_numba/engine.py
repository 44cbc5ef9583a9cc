"""Jitted drivers that compose the per-equation kernels into passes and steps.

Nothing here computes a formula of its own: forward propagation is
:func:`~fnn_numba.kernels.z_forward` then
:func:`~fnn_numba.kernels.activation_forward`, layer by layer; backward
propagation is the seed (or the fused output delta), then
:func:`~fnn_numba.kernels.dz_backward`, :func:`~fnn_numba.kernels.dw_db_backward`
and :func:`~fnn_numba.kernels.da_prev_backward`, layer by layer; a training
step adds :func:`~fnn_numba.kernels.optimizer_step` and
:func:`~fnn_numba.kernels.optimizer_commit`. The drivers are
``@njit`` functions, so a run of many batches is one call from Python with no
allocation per batch.

Data layout (plain arrays, no objects):

- ``params`` and ``grads``: flat vectors [W1, b1, W2, b2, ...]; W[l] starts at
  ``w_off[l-1]`` (C-ordered (n[l], n[l-1])), b[l] at ``b_off[l-1]``.
- ``sizes``: int64 [n0, n1, ..., nL]; ``act_codes``: int64, one per layer.
- ``ws``: one flat workspace; ``ws_off[role, l]`` is where layer l's matrix
  of that role starts (roles below), each sized for ``capacity`` examples.
- DZ_ROWS and A_ROWS are the scratch of P1 (13)'s dot-product order (long batches).
"""
import numpy as np
from numba import njit

from .kernels import (
    DW_DOT_MIN_ROWS,
    DW_OUTER_MAX_BATCH,
    activation_forward,
    cost_seed,
    da_prev_backward,
    dw_db_backward,
    dz_backward,
    example_losses,
    clip_gradient_norm,
    l2_penalty,
    mean_of,
    optimizer_commit,
    optimizer_step,
    output_delta_fused,
    sgd_update,
    sgd_update_is_finite,
    step_is_finite,
    SGD,
    z_forward,
)

# workspace roles
A, Z, DA, DZ, DZ_ROWS, A_ROWS, Y_BATCH = range(7)
N_ROLES = 7


def workspace_layout(sizes, capacity, backward=True, with_dx=True):
    """Offsets ``ws_off[role, l]`` and the total length of a workspace that
    holds, for batches of up to ``capacity`` examples, the (n[l], capacity)
    matrix of each (role, layer) pair the drivers use, and nothing else:
    A and Z for l = 1..L; with ``backward``, also DA for l = 1..L (and
    l = 0, dJ/dX, when ``with_dx``) and Y_BATCH for l = L. DZ[l] shares
    DA[l]'s storage: dz_backward may write dJ/dZ over dJ/dA (each element is
    read before it is written, and dJ/dA[l] is not needed afterwards).
    DZ_ROWS[l] and A_ROWS[l-1], the copies for P1 (13)'s dot-product order,
    exist only for layers that can take that order (capacity >=
    kernels.DW_OUTER_MAX_BATCH and n[l] >= kernels.DW_DOT_MIN_ROWS).
    Pairs never used have offset -1 and take no space."""
    L = len(sizes) - 1
    dot_layers = [l for l in range(1, L + 1)
                  if backward and capacity >= DW_OUTER_MAX_BATCH and int(sizes[l]) >= DW_DOT_MIN_ROWS]
    used = {A: range(1, L + 1), Z: range(1, L + 1),
            DA: range(0 if with_dx else 1, L + 1) if backward else (), DZ: (),
            DZ_ROWS: dot_layers, A_ROWS: [l - 1 for l in dot_layers],
            Y_BATCH: range(L, L + 1) if backward else ()}
    ws_off = np.full((N_ROLES, L + 1), -1, dtype=np.int64)
    total = 0
    for role in range(N_ROLES):
        for l in used[role]:
            ws_off[role, l] = total
            total += int(sizes[l]) * capacity
    ws_off[DZ, 1:] = ws_off[DA, 1:]
    return ws_off, total


def parameter_layout(sizes):
    """Offsets of W[l] and b[l] in the flat parameter vector, and its length."""
    L = len(sizes) - 1
    w_off = np.zeros(L, dtype=np.int64)
    b_off = np.zeros(L, dtype=np.int64)
    total = 0
    for l in range(L):
        w_off[l] = total
        total += int(sizes[l + 1]) * int(sizes[l])
        b_off[l] = total
        total += int(sizes[l + 1])
    return w_off, b_off, total


@njit(cache=True)
def view_f(buf, off, n, m):
    """The (n, m) F-ordered matrix stored at buf[off:off + n m]."""
    return buf[off:off + n * m].reshape((m, n)).T


@njit(cache=True)
def view_c(buf, off, n, m):
    """The (n, m) C-ordered matrix stored at buf[off:off + n m]."""
    return buf[off:off + n * m].reshape((n, m))


@njit(cache=True)
def scratch_view(buf, off, n, m):
    """:func:`view_c`, or an empty matrix where the workspace holds no such
    scratch (offset -1): P1 (13)'s copies exist only for the layers and batch
    sizes that take its dot-product order."""
    if off < 0:
        return buf[:0].reshape((0, 0))
    return view_c(buf, off, n, m)


@njit(cache=True)
def forward_pass(params, sizes, w_off, b_off, act_codes, x, ws, ws_off):
    """P1 (7), (1), (2), (8): A[0] = x, then z and a for l = 1..L.

    x is (n0, mb), F-ordered; Z[l], A[l] go to the workspace. Returns A[L].
    """
    L = sizes.shape[0] - 1
    mb = x.shape[1]
    a_prev = x
    for l in range(1, L + 1):
        n, K = sizes[l], sizes[l - 1]
        w = view_c(params, w_off[l - 1], n, K)
        b = params[b_off[l - 1]:b_off[l - 1] + n]
        z = view_f(ws, ws_off[Z, l], n, mb)
        a = view_f(ws, ws_off[A, l], n, mb)
        z_forward(w, b, a_prev, z)
        activation_forward(act_codes[l - 1], z, a)
        a_prev = a
    return a_prev


@njit(cache=True)
def batch_cost(params, sizes, w_off, act_codes, cost_code, fused, l2, y, ws, ws_off, losses):
    """J = (1/m) sum_i L_i (+ the L2 term) of the batch whose forward pass is in ws."""
    L = sizes.shape[0] - 1
    mb = y.shape[1]
    n = sizes[L]
    z = view_f(ws, ws_off[Z, L], n, mb)
    a = view_f(ws, ws_off[A, L], n, mb)
    example_losses(cost_code, act_codes[L - 1], fused, z, a, y, losses[:mb])
    J = mean_of(losses[:mb])
    if l2 > 0:
        w_sizes = sizes[1:] * sizes[:-1]
        J += l2_penalty(params, w_off, w_sizes, l2)
    return J


@njit(cache=True)
def backward_pass(params, grads, sizes, w_off, b_off, act_codes, cost_code, fused,
                  l2, x, y, ws, ws_off, need_dx):
    """Backpropagation of one batch whose forward pass is in ws.

    Seed dJ/dA[L] and P1 (17) at the output (or the fused dJ/dZ[L]); then for
    l = L..1: P1 (13), (14) into grads, and P1 (21) for dJ/dA[l-1], down to
    dJ/dX (stored at role DA, layer 0) when ``need_dx``.
    """
    L = sizes.shape[0] - 1
    mb = x.shape[1]
    n = sizes[L]
    a = view_f(ws, ws_off[A, L], n, mb)
    z = view_f(ws, ws_off[Z, L], n, mb)
    dz = view_f(ws, ws_off[DZ, L], n, mb)
    if fused:
        output_delta_fused(act_codes[L - 1], a, y, dz)
    else:
        da = view_f(ws, ws_off[DA, L], n, mb)
        cost_seed(cost_code, a, y, da)
        dz_backward(act_codes[L - 1], z, a, da, dz)
    for l in range(L, 0, -1):
        n, K = sizes[l], sizes[l - 1]
        dz = view_f(ws, ws_off[DZ, l], n, mb)
        if l < L:
            dz_backward(act_codes[l - 1], view_f(ws, ws_off[Z, l], n, mb),
                        view_f(ws, ws_off[A, l], n, mb),
                        view_f(ws, ws_off[DA, l], n, mb), dz)
        a_prev = x if l == 1 else view_f(ws, ws_off[A, l - 1], K, mb)
        w = view_c(params, w_off[l - 1], n, K)
        dw_db_backward(dz, a_prev, w, w.dtype.type(l2), view_c(grads, w_off[l - 1], n, K),
                       grads[b_off[l - 1]:b_off[l - 1] + n],
                       scratch_view(ws, ws_off[DZ_ROWS, l], n, mb),
                       scratch_view(ws, ws_off[A_ROWS, l - 1], K, mb))
        if l > 1 or need_dx:
            da_prev_backward(w, dz, view_f(ws, ws_off[DA, l - 1], K, mb))


@njit(cache=True)
def gather_columns(src, order, start, stop, dst):
    """dst[:, c] = src[:, order[start + c]]: one mini-batch, F-ordered."""
    n = src.shape[0]
    for c in range(stop - start):
        col = order[start + c]
        for r in range(n):
            dst[r, c] = src[r, col]


@njit(cache=True)
def batch_gradient(params, grads, sizes, w_off, b_off, act_codes, cost_code, fused, l2,
                   X, Y, order, start, stop, x_buf, ws, ws_off, losses):
    """J and its gradient for the mini-batch of columns order[start:stop]:
    gather the columns, forward pass, J (L2 term included), and, when J is
    finite, the backward pass into ``grads``. Returns J."""
    L = sizes.shape[0] - 1
    mb = stop - start
    x = view_f(x_buf, 0, sizes[0], mb)
    y = view_f(ws, ws_off[Y_BATCH, L], sizes[L], mb)
    gather_columns(X, order, start, stop, x)
    gather_columns(Y, order, start, stop, y)
    forward_pass(params, sizes, w_off, b_off, act_codes, x, ws, ws_off)
    J = batch_cost(params, sizes, w_off, act_codes, cost_code, fused, l2, y, ws, ws_off, losses)
    if np.isfinite(J):
        backward_pass(params, grads, sizes, w_off, b_off, act_codes, cost_code, fused,
                      l2, x, y, ws, ws_off, False)
    return J


@njit(cache=True)
def apply_update(params, grads, kind, velocity, second_moment, step, t, learning_rate, momentum,
                 beta1, beta2, epsilon, clip_norm):
    """The update from a gradient: optional clipping of its global norm, then
    the optimizer's step (``t`` is its 1-based count, Adam's t), refused
    (False, nothing written) when a parameter would become non-finite.
    Plain SGD needs no state and no step buffer (``velocity``,
    ``second_moment`` and ``step`` may be empty): two passes over the
    parameters instead of three."""
    if clip_norm > 0:
        clip_gradient_norm(grads, clip_norm)
    if kind == SGD:
        if not sgd_update_is_finite(params, grads, learning_rate):
            return False
        sgd_update(params, grads, learning_rate)
        return True
    optimizer_step(kind, grads, velocity, second_moment, t, learning_rate, momentum, beta1, beta2,
                   epsilon, step)
    if not step_is_finite(params, step):
        return False
    optimizer_commit(kind, params, grads, velocity, second_moment, learning_rate, momentum,
                     beta1, beta2, step)
    return True


@njit(cache=True)
def train_batches(params, grads, sizes, w_off, b_off, act_codes, cost_code, fused, l2,
                  X, Y, order, batch_size, first_batch, stop_batch, x_buf, ws, ws_off, losses,
                  batch_costs, kind, velocity, second_moment, step, step_count, learning_rate,
                  momentum, beta1, beta2, epsilon, clip_norm):
    """Mini-batch training over batches [first_batch, stop_batch) of one
    epoch whose example order is ``order``.

    For each batch: gather its columns, forward pass, J, backward pass,
    optional clipping of the gradient norm, then the optimizer's step
    (``kind``, see :data:`~fnn_numba.kernels.OPTIMIZERS`). ``step_count[0]``
    counts the steps taken so far (Adam's t) and is advanced with each commit,
    so that it always agrees with the parameters, even when Python interrupts
    right after a call. If J or any updated parameter would be non-finite,
    nothing is written and the batch's index is returned; -1 when all
    batches ran. batch_costs[b] receives batch b's J (before its update).
    """
    m = X.shape[1]
    for bi in range(first_batch, stop_batch):
        start = bi * batch_size
        stop = min(start + batch_size, m)
        J = batch_gradient(params, grads, sizes, w_off, b_off, act_codes, cost_code, fused,
                           l2, X, Y, order, start, stop, x_buf, ws, ws_off, losses)
        if not np.isfinite(J):
            return bi
        t = step_count[0] + 1
        if not apply_update(params, grads, kind, velocity, second_moment, step, t, learning_rate,
                            momentum, beta1, beta2, epsilon, clip_norm):
            return bi
        step_count[0] = t
        batch_costs[bi] = J
    return -1
