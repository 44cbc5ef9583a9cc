"""The block-level GEMM tile: the loops that P1 (1), (13) and (21) run on the
GPU, in their per-equation kernels (:mod:`fnn_numba.gpu.kernels`) and inside
the fused epoch (:mod:`fnn_numba.gpu.fused`), which calls these same
functions.

Each of the three products is written as

    out[x, y] = sum_s X[x, s] Y[y, s]

with x the output's contiguous index (so that the stores of a warp are
coalesced) and s the summed index:

========================  ====================  ================  ==================
equation                   x, y, s               X[x, s]            Y[y, s]
========================  ====================  ================  ==================
P1 (1)   z[j, i]           j, i, k               w[j, k]            a_prev[k, i]
P1 (13)  dw[j, k]          k, j, i               a_prev[k, i]       dz[j, i]
P1 (21)  da_prev[k, i]     k, i, j               w[j, k]            dz[j, i]
========================  ====================  ================  ==================

A block of T x T threads (T = ``GEMM_THREADS``, or the fused kernel's side)
computes a (4 T) x (4 T) tile of out; thread (tx, ty) holds the 4 x 4 outputs
x = x0 + 4 tx + u, y = y0 + 4 ty + v (u, v = 0..3) in sixteen scalar
accumulators (a local array would live in memory). The summed index is
walked in slices of ``K_TILE``, each staged in shared memory as
``xt[kk, c] = X[x0 + c, s0 + kk]`` and ``yt[kk, c] = Y[y0 + c, s0 + kk]``
(element c of row kk is ``tile[kk, c // 4, c % 4]``),
zero past the ends, so the innermost loop always has ``K_TILE`` iterations.

Why this layout:

- A thread's four x (and four y) are consecutive, and the tiles' rows are
  68 elements (groups of four, :data:`TILE_SHAPE`) in 16-byte aligned shared
  arrays: NVVM reads the four with one 128-bit load (``ld.shared.v4.f32``;
  two ``ld.shared.v2.f64`` in float64), two loads per 16 multiply-adds
  instead of eight (checked in the PTX by ``tests/cuda_ptx.py``). The eight threads of a
  quarter warp read 128 consecutive bytes: no bank conflict.
- Staging reads global memory along whichever index is contiguous:
  :func:`stage_along_s` when it is s (w in P1 (1), a_prev.T, dz.T),
  :func:`stage_along_c` when it is the tile's own index (a_prev, dz in
  P1 (13); w.T in P1 (21)). :func:`stage_along_s` gives a warp 8 values of
  s in each of 4 rows: 32-byte runs in global memory, and shared words
  4 kk + c (mod 32), all 32 banks distinct (with a row stride of 65 words,
  kk and kk + 1 of two rows collided).
- Each output's sum runs over s in increasing order, one slice after the
  other, whatever T or the grid: results do not depend on the launch
  configuration, and are the same run to run.
"""

import numpy as np

from .target import cuda, device

#: register tile per thread along x and along y
REG = 4
#: slice of the summed index staged in shared memory per step
K_TILE = 16
#: the largest block side T the shared tiles are sized for
MAX_GEMM_THREADS = 16
#: groups of REG elements in a row of a shared tile: one per thread of a
#: block side, plus one so that consecutive rows (68 words) start in
#: different banks
TILE_GROUPS = MAX_GEMM_THREADS + 1
#: shape of a shared tile: tile[kk, g, u] is element c = REG g + u of row kk.
#: The last axis of REG elements makes a thread's four consecutive elements
#: one 16-byte aligned group whatever index arithmetic Numba emits (its
#: negative-index checks on a flat index hid the alignment from NVVM)
TILE_SHAPE = (K_TILE, TILE_GROUPS, REG)
# the innermost loop counts in unsigned integers: Numba guards every signed
# index against negative values, and with that guard on kk NVVM no longer
# sees that a group of four starts 16-byte aligned (no 128-bit loads then)
_K_TILE_U = np.uint64(K_TILE)


@device
def stage_along_s(tile, src, c0, s0, C, S, tid, nthreads, cols):
    """tile[kk, c] = src[c0 + c, s0 + kk] (zero outside C x S), for a source
    whose second index s is contiguous. Element e of the tile goes to a
    thread as lane (e mod 32) -> kk = lane mod 8 (+ 8), c = lane div 8 (+ 4 g):
    each warp reads 4 runs of 8 consecutive s and writes 32 distinct banks."""
    zero = tile.dtype.type(0)
    for e in range(tid, cols * K_TILE, nthreads):
        lane = e % 32
        g = e // 32
        kk = lane % 8 + 8 * (g % 2)
        c = lane // 8 + 4 * (g // 2)
        cc = c0 + c
        ss = s0 + kk
        tile[kk, c // REG, c % REG] = src[cc, ss] if (cc < C and ss < S) else zero


@device
def stage_along_c(tile, src, c0, s0, C, S, tid, nthreads, cols):
    """tile[kk, c] = src[c0 + c, s0 + kk] (zero outside C x S), for a source
    whose first index c is contiguous: element e -> c = e mod cols,
    kk = e div cols, so a warp reads and writes 32 consecutive c."""
    zero = tile.dtype.type(0)
    for e in range(tid, cols * K_TILE, nthreads):
        c = e % cols
        kk = e // cols
        cc = c0 + c
        ss = s0 + kk
        tile[kk, c // REG, c % REG] = src[cc, ss] if (cc < C and ss < S) else zero


@device
def tile_products(xt, yt, gx, gy, acc):
    """acc[4 u + v] += sum_kk xt[kk, 4 gx + u] yt[kk, 4 gy + v] over one
    staged slice, kk in increasing order."""
    (s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33) = acc
    for kk in range(_K_TILE_U):
        x0 = xt[kk, gx, 0]
        x1 = xt[kk, gx, 1]
        x2 = xt[kk, gx, 2]
        x3 = xt[kk, gx, 3]
        y0 = yt[kk, gy, 0]
        y1 = yt[kk, gy, 1]
        y2 = yt[kk, gy, 2]
        y3 = yt[kk, gy, 3]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3  # noqa: E702
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3  # noqa: E702
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s23 += x2 * y3  # noqa: E702
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
        s33 += x3 * y3  # noqa: E702
    return (s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33)


@device
def gemm_tile(xsrc, x_along_s, ysrc, y_along_s, X, Y, S, xb, yb, tx, ty, T, xt, yt, sum_y):
    """The block's tile (xb, yb) of out[x, y] = sum_s xsrc[x, s] ysrc[y, s]
    (x < X, y < Y, s < S). Every thread of the block must call it (it
    synchronises). ``x_along_s`` / ``y_along_s``: whether that source is
    contiguous along s (:func:`stage_along_s`) or along x, y
    (:func:`stage_along_c`). ``xt``, ``yt``: the block's (K_TILE, TILE_COLS)
    shared tiles.

    Returns (acc, ysum): acc[4 u + v] is out[x0 + 4 tx + u, y0 + 4 ty + v];
    when ``sum_y``, ysum[v] = sum_s ysrc[y0 + 4 ty + v, s] (P1 (14)'s db from
    the staged dz), else zeros.
    """
    cols = REG * T
    x0 = xb * cols
    y0 = yb * cols
    tid = ty * T + tx
    nthreads = T * T
    zero = xt.dtype.type(0)
    acc = (
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
    )
    t0 = t1 = t2 = t3 = zero
    for s0 in range(0, S, K_TILE):
        if x_along_s:
            stage_along_s(xt, xsrc, x0, s0, X, S, tid, nthreads, cols)
        else:
            stage_along_c(xt, xsrc, x0, s0, X, S, tid, nthreads, cols)
        if y_along_s:
            stage_along_s(yt, ysrc, y0, s0, Y, S, tid, nthreads, cols)
        else:
            stage_along_c(yt, ysrc, y0, s0, Y, S, tid, nthreads, cols)
        cuda.syncthreads()
        acc = tile_products(xt, yt, tx, ty, acc)
        if sum_y:
            for kk in range(K_TILE):
                t0 += yt[kk, ty, 0]
                t1 += yt[kk, ty, 1]
                t2 += yt[kk, ty, 2]
                t3 += yt[kk, ty, 3]
        cuda.syncthreads()
    return acc, (t0, t1, t2, t3)


# ------------------------------------------------------- the three epilogues
@device
def store_z_tile(z, b, acc, j0, i0, n, m):
    """P1 (1)'s epilogue: z[j, i] = acc + b[j] for j = j0 + u, i = i0 + v."""
    for u in range(REG):
        j = j0 + u
        if j < n:
            for v in range(REG):
                i = i0 + v
                if i < m:
                    z[j, i] = acc[REG * u + v] + b[j]


@device
def store_dw_tile(dw, w, l2, acc, k0, j0, n, K):
    """P1 (13)'s epilogue with the L2 term: dw[j, k] = acc + l2 w[j, k] for
    k = k0 + u, j = j0 + v."""
    for u in range(REG):
        k = k0 + u
        if k < K:
            for v in range(REG):
                j = j0 + v
                if j < n:
                    dw[j, k] = acc[REG * u + v] + l2 * w[j, k]


@device
def store_db(db, ysum, j0, n):
    """P1 (14): db[j] = sum_i dz[j, i] for j = j0 + v, from gemm_tile's ysum."""
    for v in range(REG):
        if j0 + v < n:
            db[j0 + v] = ysum[v]


@device
def store_da_tile(da_prev, acc, k0, i0, K, m):
    """P1 (21)'s epilogue: da_prev[k, i] = acc for k = k0 + u, i = i0 + v."""
    for u in range(REG):
        k = k0 + u
        if k < K:
            for v in range(REG):
                i = i0 + v
                if i < m:
                    da_prev[k, i] = acc[REG * u + v]
