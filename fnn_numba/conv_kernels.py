"""CPU kernels of the convolution, pooling, flatten and dropout layers: one
function per equation, each an explicit loop over the notes' own indices.

The equations are those of the "Neural Networks" notes (notes-neural-networks),
section "Convolutional Neural Networks (CNN)": its subsection "Clearer
deduction" writes the convolutional layer with explicit sums, and "Pooling /
subsampling hidden units" the maximum, average and learnable average pooling.
Indices: f a feature map (filter) of this layer, c a channel of the previous
layer, (x, y) a position in this layer's maps (row, column), (u, v) an offset
in the kernel or pooling window, i the example, s the stride, p the zero
padding. Labels used in the docstrings and the cross-check:

- CNN (1)  forward:  z[f,x,y,i] = sum_{c,u,v} w[f,c,u,v] a[c, x s + u - p, y s + v - p, i] + b[f]
  (a cross-correlation; a[.] is 0 outside the map: the zero padding)
- CNN (2)  dJ/dw[f,c,u,v] = sum_{i,x,y} dJ/dz[f,x,y,i] a[c, x s + u - p, y s + v - p, i]
  (the sum over every position where the shared weight occurs)
- CNN (3)  dJ/db[f] = sum_{i,x,y} dJ/dz[f,x,y,i]
- CNN (4)  dJ/da[c,r,q,i] = sum_{f,x,y,u,v : x s + u - p = r, y s + v - p = q} dJ/dz[f,x,y,i] w[f,c,u,v]
  (the direct sum), computed in the notes' padded, flipped form (:func:`conv_da_prev`)
- POOL (1) max:  a[c,x,y,i] = max_{u,v} a_prev[c, x P + u, y Q + v, i];
  POOL (2) its gradient to the first maximum of the window in row-major order
- POOL (3) average: a[c,x,y,i] = (1 / (P Q)) sum_{u,v} a_prev[c, x P + u, y Q + v, i];
  POOL (4) dJ/da_prev = dJ/da / (P Q) over the window
- SUB (1)  z[c,x,y,i] = beta[c] mean_{u,v} a_prev[c, x P + u, y Q + v, i] + b[c], a = g(z);
  SUB (2)  dJ/dbeta[c] = sum_{i,x,y} dJ/dz[c,x,y,i] mean(window);
  SUB (3)  dJ/db[c] = sum_{i,x,y} dJ/dz[c,x,y,i];
  SUB (4)  dJ/da_prev[c, window, i] = dJ/dz[c,x,y,i] beta[c] / (P Q)
- DROP (1) a[j,i] = a_prev[j,i] mask[j,i], mask[j,i] = I(u[j,i] >= rate) / (1 - rate) (inverted
  dropout), DROP (2) dJ/da_prev[j,i] = dJ/da[j,i] mask[j,i]

Pooling windows do not overlap (stride = window) and a remainder row or
column that fills no window is dropped, as in PyTorch; it gets zero gradient.

Storage layout: every layer's data per example is one column of an (n, m)
F-ordered matrix (the workspace of :mod:`fnn_numba.engine`), n = C H W in C
order of (channel, row, column): a[c, x, y, i] is ``a[(c H + x) W + y, i]``,
so each example's maps are contiguous and a map's rows are contiguous runs.
Weights ``w`` are (F, C, KH, KW), biases (F,): PyTorch's ``Conv2d`` shapes.

Loop layout and determinism: the per-example equations (forward, dJ/da_prev,
pooling, dropout) run ``prange`` over examples i, each output element written
by one iteration; the parameter gradients (sums over examples and positions)
run ``prange`` over the parameters' own index (the pairs (f, c) for dJ/dw,
the maps for dJ/db and dJ/dbeta), each summing over i, x, y in one fixed
order. No two threads ever add into the same element, so the results are
bit-identical for every thread count. Small work (below
:data:`fnn_numba.kernels.PARALLEL_MIN_WORK` multiply-adds) runs the same loops
on the calling thread. The innermost loop always runs along y, the contiguous
column index of a map row.

The index-level reference twins, read like the notes, are in
:mod:`fnn_numba.reference` (``conv_forward_reference`` and the rest), the
vectorised NumPy witnesses in :mod:`fnn_numba.vectorized`.
"""

import numpy as np
from numba import njit, prange

from .kernels import use_threads


@njit(cache=True, inline="always")
def conv_output_size(n, k, stride, pad):
    """Positions of a kernel of size k along an input of size n padded by
    ``pad`` on each side, moved by ``stride``: (n + 2 pad - k) // stride + 1."""
    return (n + 2 * pad - k) // stride + 1


@njit(cache=True, inline="always")
def valid_range(k_off, stride, pad, n_in, n_out):
    """The output positions y in [y0, y1) whose input index y s + v - p lies
    inside the map [0, n_in): outside it the padding is zero and adds nothing."""
    # smallest y with y s + v - p >= 0
    y0 = 0
    if pad - k_off > 0:
        y0 = (pad - k_off + stride - 1) // stride
    # largest y with y s + v - p <= n_in - 1, plus one
    y1 = (n_in - 1 + pad - k_off) // stride + 1 if n_in - 1 + pad - k_off >= 0 else 0
    if y1 > n_out:
        y1 = n_out
    if y1 < y0:
        y1 = y0
    return y0, y1


#: Reassociation lets LLVM vectorise the runs along y; it fixes the
#: summation order at compile time, never by thread count.
RUN_FASTMATH = {"reassoc", "contract"}


@njit(fastmath=RUN_FASTMATH, cache=True)
def axpy_run(out, o0, ostep, x, x0, xstep, alpha, n):
    """out[o0 + k ostep] += alpha x[x0 + k xstep] for k < n: one run of a map
    row. With both steps 1 the run is a pair of contiguous slices indexed
    from 0, which LLVM vectorises (an index that might be negative keeps
    Numba's wraparound check in the loop, and the check keeps it scalar)."""
    if ostep == 1 and xstep == 1:
        o = out[o0 : o0 + n]
        xs = x[x0 : x0 + n]
        for k in range(n):
            o[k] += alpha * xs[k]
    else:
        for k in range(n):
            out[o0 + k * ostep] += alpha * x[x0 + k * xstep]


@njit(fastmath=RUN_FASTMATH, cache=True)
def dot_run(x, x0, y, y0, ystep, n):
    """sum_k x[x0 + k] y[y0 + k ystep] for k < n, vectorised as :func:`axpy_run`."""
    s = x.dtype.type(0)
    if ystep == 1:
        xs = x[x0 : x0 + n]
        ys = y[y0 : y0 + n]
        for k in range(n):
            s += xs[k] * ys[k]
    else:
        for k in range(n):
            s += x[x0 + k] * y[y0 + k * ystep]
    return s


@njit(cache=True)
def conv_forward_example(w, b, a_prev, z, i, H, W, stride, pad):
    """CNN (1) for example i (see :func:`conv_forward`)."""
    F, C, KH, KW = w.shape
    OH = conv_output_size(H, KH, stride, pad)
    OW = conv_output_size(W, KW, stride, pad)
    ai = a_prev[:, i]
    zi = z[:, i]
    for f in range(F):
        for x in range(OH):
            for y in range(OW):
                zi[(f * OH + x) * OW + y] = b[f]
        for c in range(C):
            for u in range(KH):
                x0, x1 = valid_range(u, stride, pad, H, OH)
                for v in range(KW):
                    wv = w[f, c, u, v]
                    y0, y1 = valid_range(v, stride, pad, W, OW)
                    for x in range(x0, x1):
                        row_z = (f * OH + x) * OW
                        row_a = (c * H + x * stride + u - pad) * W - pad + v
                        axpy_run(zi, row_z + y0, 1, ai, row_a + y0 * stride, stride, wv, y1 - y0)


@njit(parallel=True, cache=True)
def conv_forward(w, b, a_prev, z, H, W, stride, pad):
    """CNN (1): z[f,x,y,i] = sum_{c,u,v} w[f,c,u,v] a[c, x s + u - p, y s + v - p, i] + b[f].

    The notes' "Clearer deduction" forward sum (parameter sharing: the same
    w[f,c,.,.] at every position), with zero padding p and stride s, as
    PyTorch's ``Conv2d``. w (F, C, KH, KW), b (F,); a_prev (C H W, m) and z
    (F OH OW, m) F-ordered columns, OH = (H + 2p - KH) // s + 1 (and OW).
    Loops: ``prange`` over examples i; per map f, c, u, v, then x and y
    innermost over the positions whose input lies inside the map (the
    padding's zeros are skipped, not stored). Each z element is b[f] plus
    its terms in the order c, u, v.
    """
    F, C, KH, KW = w.shape
    m = a_prev.shape[1]
    work = (
        F
        * C
        * KH
        * KW
        * conv_output_size(H, KH, stride, pad)
        * conv_output_size(W, KW, stride, pad)
        * m
    )
    if use_threads(work):
        for i in prange(m):
            conv_forward_example(w, b, a_prev, z, i, H, W, stride, pad)
    else:
        for i in range(m):
            conv_forward_example(w, b, a_prev, z, i, H, W, stride, pad)


@njit(cache=True)
def conv_dw_pair(dz, a_prev, w, l2, dw, db, f, c, H, W, stride, pad):
    """CNN (2) for dw[f, c, :, :] (and CNN (3) for db[f] when c == 0)."""
    F, C, KH, KW = w.shape
    OH = conv_output_size(H, KH, stride, pad)
    OW = conv_output_size(W, KW, stride, pad)
    m = dz.shape[1]
    for u in range(KH):
        x0, x1 = valid_range(u, stride, pad, H, OH)
        for v in range(KW):
            y0, y1 = valid_range(v, stride, pad, W, OW)
            s = dz.dtype.type(0)
            for i in range(m):
                dzi = dz[:, i]
                ai = a_prev[:, i]
                for x in range(x0, x1):
                    row_z = (f * OH + x) * OW
                    row_a = (c * H + x * stride + u - pad) * W - pad + v
                    s += dot_run(dzi, row_z + y0, ai, row_a + y0 * stride, stride, y1 - y0)
            dw[f, c, u, v] = s + l2 * w[f, c, u, v]
    if c == 0:
        s = dz.dtype.type(0)
        for i in range(m):
            for q in range(f * OH * OW, (f + 1) * OH * OW):
                s += dz[q, i]
        db[f] = s


@njit(parallel=True, cache=True)
def conv_dw_db(dz, a_prev, w, l2, dw, db, H, W, stride, pad):
    """CNN (2) and (3), with the L2 term:
    dw[f,c,u,v] = sum_{i,x,y} dz[f,x,y,i] a[c, x s + u - p, y s + v - p, i] + l2 w[f,c,u,v];
    db[f] = sum_{i,x,y} dz[f,x,y,i].

    The notes' "Clearer deduction": a shared weight's gradient sums over
    every z in which it occurs. Loops: ``prange`` over the pairs (f, c)
    (each owns dw[f, c, :, :], and the pair c = 0 db[f]); per (u, v) one
    scalar sum over i, x, y, y innermost. One thread per output element,
    fixed order: bit-identical for every thread count.
    """
    F, C, KH, KW = w.shape
    m = dz.shape[1]
    work = dz.shape[0] * m * C * KH * KW
    if use_threads(work):
        for t in prange(F * C):
            conv_dw_pair(dz, a_prev, w, l2, dw, db, t // C, t % C, H, W, stride, pad)
    else:
        for t in range(F * C):
            conv_dw_pair(dz, a_prev, w, l2, dw, db, t // C, t % C, H, W, stride, pad)


@njit(cache=True)
def conv_da_prev_example(w, dz, da_prev, i, H, W, stride, pad):
    """CNN (4) for example i, padded and flipped (see :func:`conv_da_prev`)."""
    F, C, KH, KW = w.shape
    OH = conv_output_size(H, KH, stride, pad)
    OW = conv_output_size(W, KW, stride, pad)
    dzi = dz[:, i]
    dai = da_prev[:, i]
    for q in range(C * H * W):
        dai[q] = 0
    # the full padding of the flipped form: KH - 1 - p rows (KW - 1 - p columns)
    ph = KH - 1 - pad
    pw = KW - 1 - pad
    for c in range(C):
        for f in range(F):
            for uf in range(KH):
                # row r of dJ/da reads row r + uf - ph of the dilated, padded dz;
                # only rows that are a multiple of s and inside [0, s (OH - 1)] hold dz
                for r in range(H):
                    t = r + uf - ph
                    if t < 0 or t % stride != 0 or t // stride >= OH:
                        continue
                    x = t // stride
                    row_a = (c * H + r) * W
                    row_z = (f * OH + x) * OW
                    for vf in range(KW):
                        wv = w[f, c, KH - 1 - uf, KW - 1 - vf]
                        # the first column q >= 0 with q + vf - pw >= 0 a multiple of s,
                        # then every s-th column while its dz column y < OW
                        q0 = pw - vf if pw - vf >= 0 else (pw - vf) % stride
                        if q0 >= W:
                            continue
                        y0 = (q0 + vf - pw) // stride
                        n = min((W - 1 - q0) // stride + 1, OW - y0)
                        if n > 0:
                            axpy_run(dai, row_a + q0, stride, dzi, row_z + y0, 1, wv, n)


@njit(parallel=True, cache=True)
def conv_da_prev(w, dz, da_prev, H, W, stride, pad):
    """CNN (4), in the notes' padded, flipped form:
    da[c,r,q,i] = sum_f sum_{u',v'} w[f, c, KH-1-u', KW-1-v'] D[f, r + u' - (KH-1-p), q + v' - (KW-1-p), i],

    where D is dz dilated by the stride (s - 1 zeros between neighbouring
    entries) and padded with zeros (KH - 1 - p rows above and below, KW - 1 - p
    columns left and right): a cross-correlation of D with the kernel
    flipped in both axes, channels and maps exchanged. Substituting
    u = KH-1-u' and r + p - u = x s shows it equals the direct sum the notes
    start from, da[c,r,q,i] = sum over (f, x, y, u, v) with x s + u - p = r and
    y s + v - p = q of dz[f,x,y,i] w[f,c,u,v] (docs/convolution.rst; tests
    check both against each other). The zeros of D are skipped, not read.
    Loops: ``prange`` over examples i; per c, f, u', r, v', then q innermost
    (stride s) along the row. Each element of da is its terms in the order
    f, u', v'.
    """
    m = dz.shape[1]
    F, C, KH, KW = w.shape
    work = dz.shape[0] * m * C * KH * KW
    if use_threads(work):
        for i in prange(m):
            conv_da_prev_example(w, dz, da_prev, i, H, W, stride, pad)
    else:
        for i in range(m):
            conv_da_prev_example(w, dz, da_prev, i, H, W, stride, pad)


@njit(cache=True)
def maxpool_example(a_prev, a, i, C, H, W, P, Q):
    """POOL (1) for example i (see :func:`maxpool_forward`)."""
    OH, OW = H // P, W // Q
    ai = a_prev[:, i]
    zi = a[:, i]
    for c in range(C):
        for x in range(OH):
            for y in range(OW):
                base = (c * H + x * P) * W + y * Q
                best = ai[base]
                for u in range(P):
                    for v in range(Q):
                        val = ai[base + u * W + v]
                        if val > best:
                            best = val
                zi[(c * OH + x) * OW + y] = best


@njit(parallel=True, cache=True)
def maxpool_forward(a_prev, a, C, H, W, P, Q):
    """POOL (1): a[c,x,y,i] = max_{u<P, v<Q} a_prev[c, x P + u, y Q + v, i].

    The notes' maximum pooling over non-overlapping P x Q neighbourhoods;
    OH = H // P, OW = W // Q (a remainder row or column is dropped).
    Loops: ``prange`` over examples i; c, x, y, then the window u, v.
    """
    m = a_prev.shape[1]
    if use_threads(C * H * W * m):
        for i in prange(m):
            maxpool_example(a_prev, a, i, C, H, W, P, Q)
    else:
        for i in range(m):
            maxpool_example(a_prev, a, i, C, H, W, P, Q)


@njit(cache=True)
def maxpool_backward_example(a_prev, da, da_prev, i, C, H, W, P, Q):
    """POOL (2) for example i (see :func:`maxpool_backward`)."""
    OH, OW = H // P, W // Q
    ai = a_prev[:, i]
    dai = da_prev[:, i]
    dzi = da[:, i]
    for q in range(C * H * W):
        dai[q] = 0
    for c in range(C):
        for x in range(OH):
            for y in range(OW):
                base = (c * H + x * P) * W + y * Q
                best = ai[base]
                arg = base
                for u in range(P):
                    for v in range(Q):
                        # strict >: ties keep the first maximum in row-major order
                        if ai[base + u * W + v] > best:
                            best = ai[base + u * W + v]
                            arg = base + u * W + v
                dai[arg] = dzi[(c * OH + x) * OW + y]


@njit(parallel=True, cache=True)
def maxpool_backward(a_prev, da, da_prev, C, H, W, P, Q):
    """POOL (2): da_prev[c, x P + u*, y Q + v*, i] = da[c,x,y,i] at the window's
    first maximum (u*, v*) in row-major order; 0 everywhere else (the other
    window entries, and a dropped remainder row or column).

    The derivative of the maximum is 1 for the entry it selects and 0 for the
    rest; the argmax is found again from a_prev (nothing is stored by the
    forward pass), with the same strict comparison as POOL (1), as PyTorch
    routes ties. Loops: ``prange`` over examples i; c, x, y, window.
    """
    m = a_prev.shape[1]
    if use_threads(C * H * W * m):
        for i in prange(m):
            maxpool_backward_example(a_prev, da, da_prev, i, C, H, W, P, Q)
    else:
        for i in range(m):
            maxpool_backward_example(a_prev, da, da_prev, i, C, H, W, P, Q)


@njit(cache=True)
def avgpool_example(beta, b, a_prev, z, i, C, H, W, P, Q):
    """POOL (3), or SUB (1) when ``beta`` is not empty, for example i."""
    OH, OW = H // P, W // Q
    ai = a_prev[:, i]
    zi = z[:, i]
    inv = z.dtype.type(1) / z.dtype.type(P * Q)
    for c in range(C):
        for x in range(OH):
            for y in range(OW):
                # the window's mean, summed in row-major order
                base = (c * H + x * P) * W + y * Q
                mean = z.dtype.type(0)
                for u in range(P):
                    for v in range(Q):
                        mean += ai[base + u * W + v]
                mean *= inv
                if beta.shape[0] > 0:
                    mean = beta[c] * mean + b[c]
                zi[(c * OH + x) * OW + y] = mean


@njit(parallel=True, cache=True)
def avgpool_forward(a_prev, a, C, H, W, P, Q):
    """POOL (3): a[c,x,y,i] = (1 / (P Q)) sum_{u<P, v<Q} a_prev[c, x P + u, y Q + v, i].

    The notes' average pooling over non-overlapping P x Q neighbourhoods
    (remainder dropped). Loops: ``prange`` over examples i; c, x, y, window.
    """
    m = a_prev.shape[1]
    empty = a_prev[:0, 0]
    if use_threads(C * H * W * m):
        for i in prange(m):
            avgpool_example(empty, empty, a_prev, a, i, C, H, W, P, Q)
    else:
        for i in range(m):
            avgpool_example(empty, empty, a_prev, a, i, C, H, W, P, Q)


@njit(cache=True)
def pool_spread_example(beta, dz, da_prev, i, C, H, W, P, Q):
    """POOL (4), or SUB (4) when ``beta`` is not empty, for example i."""
    OH, OW = H // P, W // Q
    dzi = dz[:, i]
    dai = da_prev[:, i]
    for q in range(C * H * W):
        dai[q] = 0
    inv = dz.dtype.type(1) / dz.dtype.type(P * Q)
    for c in range(C):
        scale = inv * beta[c] if beta.shape[0] > 0 else inv
        for x in range(OH):
            for y in range(OW):
                g = dzi[(c * OH + x) * OW + y] * scale
                base = (c * H + x * P) * W + y * Q
                for u in range(P):
                    for v in range(Q):
                        dai[base + u * W + v] = g


@njit(parallel=True, cache=True)
def avgpool_backward(da, da_prev, C, H, W, P, Q):
    """POOL (4): da_prev[c, x P + u, y Q + v, i] = da[c,x,y,i] / (P Q) for every
    (u, v) of the window; 0 in a dropped remainder row or column.
    Loops: ``prange`` over examples i; c, x, y, window."""
    m = da.shape[1]
    empty = da[:0, 0]
    if use_threads(C * H * W * m):
        for i in prange(m):
            pool_spread_example(empty, da, da_prev, i, C, H, W, P, Q)
    else:
        for i in range(m):
            pool_spread_example(empty, da, da_prev, i, C, H, W, P, Q)


@njit(parallel=True, cache=True)
def subsample_forward(beta, b, a_prev, z, C, H, W, P, Q):
    """SUB (1): z[c,x,y,i] = beta[c] (1 / (P Q)) sum_{u,v} a_prev[c, x P + u, y Q + v, i] + b[c].

    The notes' generalisation of average pooling, "average pooling with
    learnable weights for each filter map": one weight beta[c] and one bias
    b[c] per map; the activation a = g(z) follows (P1 (2)).
    Loops: ``prange`` over examples i; c, x, y, window."""
    m = a_prev.shape[1]
    if use_threads(C * H * W * m):
        for i in prange(m):
            avgpool_example(beta, b, a_prev, z, i, C, H, W, P, Q)
    else:
        for i in range(m):
            avgpool_example(beta, b, a_prev, z, i, C, H, W, P, Q)


@njit(cache=True)
def subsample_map_gradient(dz, a_prev, beta, l2, dbeta, db, c, C, H, W, P, Q):
    """SUB (2) and (3) for map c (see :func:`subsample_dbeta_db`)."""
    OH, OW = H // P, W // Q
    m = dz.shape[1]
    inv = dz.dtype.type(1) / dz.dtype.type(P * Q)
    sb = dz.dtype.type(0)
    sd = dz.dtype.type(0)
    for i in range(m):
        for x in range(OH):
            for y in range(OW):
                g = dz[(c * OH + x) * OW + y, i]
                # the window's mean, as in SUB (1)
                base = (c * H + x * P) * W + y * Q
                mean = dz.dtype.type(0)
                for u in range(P):
                    for v in range(Q):
                        mean += a_prev[base + u * W + v, i]
                sb += g * (mean * inv)
                sd += g
    dbeta[c] = sb + l2 * beta[c]
    db[c] = sd


@njit(parallel=True, cache=True)
def subsample_dbeta_db(dz, a_prev, beta, l2, dbeta, db, C, H, W, P, Q):
    """SUB (2) and (3), with the L2 term on beta (beta is the layer's "W"):
    dbeta[c] = sum_{i,x,y} dz[c,x,y,i] mean_{u,v} a_prev[c, x P + u, y Q + v, i] + l2 beta[c];
    db[c] = sum_{i,x,y} dz[c,x,y,i].

    Loops: ``prange`` over maps c (each owns dbeta[c] and db[c]); i, x, y in
    a fixed order: bit-identical for every thread count."""
    m = dz.shape[1]
    if use_threads(C * H * W * m):
        for c in prange(C):
            subsample_map_gradient(dz, a_prev, beta, l2, dbeta, db, c, C, H, W, P, Q)
    else:
        for c in range(C):
            subsample_map_gradient(dz, a_prev, beta, l2, dbeta, db, c, C, H, W, P, Q)


@njit(parallel=True, cache=True)
def subsample_da_prev(beta, dz, da_prev, C, H, W, P, Q):
    """SUB (4): da_prev[c, x P + u, y Q + v, i] = dz[c,x,y,i] beta[c] / (P Q);
    0 in a dropped remainder. Loops: ``prange`` over examples i."""
    m = dz.shape[1]
    if use_threads(C * H * W * m):
        for i in prange(m):
            pool_spread_example(beta, dz, da_prev, i, C, H, W, P, Q)
    else:
        for i in range(m):
            pool_spread_example(beta, dz, da_prev, i, C, H, W, P, Q)


@njit(parallel=True, cache=True)
def copy_columns(src, dst):
    """Flatten, forward and backward: dst[j,i] = src[j,i]. A (C, H, W) map
    stored in C order already is its flattened column, so flattening moves
    nothing; the copy keeps each layer's workspace its own.
    Loops: ``prange`` over examples i, j innermost."""
    n, m = src.shape
    if use_threads(n * m):
        for i in prange(m):
            for j in range(n):
                dst[j, i] = src[j, i]
    else:
        for i in range(m):
            for j in range(n):
                dst[j, i] = src[j, i]


# splitmix64's constants (Steele, Lea and Flood, "Fast splittable
# pseudorandom number generators", 2014)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def splitmix64(z):
    """splitmix64's finaliser: a bijection of the 64-bit integers whose
    outputs look independent for consecutive inputs."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def dropout_uniform(key, counter, layer, q):
    """A uniform number in [0, 1) that depends only on (key, counter, layer,
    q): the generator's draw for element q of layer ``layer``'s mask in the
    training step ``counter`` of a run keyed ``key``. Counter-based, so the
    mask is the same whichever thread computes which element."""
    h = splitmix64(np.uint64(key) + _GOLDEN * np.uint64(counter + 1))
    h = splitmix64(h ^ (np.uint64(layer) * _MIX1))
    h = splitmix64(h + _GOLDEN * np.uint64(q + 1))
    return np.float64(h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(parallel=True, cache=True)
def dropout_mask(rate, key, counter, layer, mask):
    """The inverted-dropout mask of DROP (1): mask[j,i] = I(u[j,i] >= rate) / (1 - rate),
    u[j,i] = :func:`dropout_uniform` (key, counter, layer, i n + j). Each unit is
    kept with probability 1 - rate and scaled so that E[mask] = 1 (nothing to
    rescale at prediction). Loops: ``prange`` over examples i."""
    n, m = mask.shape
    keep = mask.dtype.type(1.0 / (1.0 - rate))
    zero = mask.dtype.type(0)
    if use_threads(n * m):
        for i in prange(m):
            for j in range(n):
                mask[j, i] = (
                    keep if dropout_uniform(key, counter, layer, i * n + j) >= rate else zero
                )
    else:
        for i in range(m):
            for j in range(n):
                mask[j, i] = (
                    keep if dropout_uniform(key, counter, layer, i * n + j) >= rate else zero
                )


@njit(parallel=True, cache=True)
def dropout_apply(mask, src, dst):
    """DROP (1) forward, dst = a = a_prev * mask, and DROP (2) backward,
    dst = dJ/da_prev = dJ/da * mask: dst[j,i] = src[j,i] mask[j,i] (the
    mask is a's derivative by a_prev, diagonal). Loops: ``prange`` over
    examples i, j innermost."""
    n, m = src.shape
    if use_threads(n * m):
        for i in prange(m):
            for j in range(n):
                dst[j, i] = src[j, i] * mask[j, i]
    else:
        for i in range(m):
            for j in range(n):
                dst[j, i] = src[j, i] * mask[j, i]
