"""The fast CPU kernels: one function per equation of the derivation.

Each kernel is an explicit loop over the derivation's own indices, compiled by
Numba with ``parallel=True``; ``prange`` runs over an index whose iterations
are independent, and every output element is written by exactly one
iteration in a fixed summation order, so results are bit-identical for any
number of threads (no racing reductions).

Storage layout (the indices in the code are always the derivation's):

- ``w`` (n, K) is C-ordered: w[j, k] is contiguous in k.
- Activations and their gradients ``a``, ``z``, ``da``, ``dz`` (n, m) are
  F-ordered: each example's column is contiguous in j. This is the layout of
  ``X_samples_by_features.T``, so users' data needs no copy.
- Each GEMM-shaped sum is laid out for its own summed index. P1 (1) sums
  over k, contiguous in w and in F-ordered a: a dot-product tile, 4 x 4
  outputs in sixteen scalar accumulators that stay in registers, k innermost
  (tens of times the naive order's speed, on a par with OpenBLAS:
  ``benchmarks/results/2026-11-24-kernel-tuning.csv``).
  P1 (13) sums over the batch i and P1 (21) over j, both short in the
  networks people train; they run in outer-product order: a contiguous run
  of an output row (k) stays in L1 and is updated by a vectorised loop over
  k, four terms of the sum and four output rows per pass, reading dz, a and
  w in the layouts above with no copies. For long batches P1 (13) switches
  to the dot-product tile, i innermost, on C-ordered copies ``dz_rows`` and
  ``a_prev_rows`` (:func:`copy_matrix`, O(n m) next to the O(n m K) sum).
  Edge tiles fall back to plain loops.

Three tiers, as in stumpy: the kernel (public name, the equation in its
docstring) decides whether the work is worth the threads, then runs the same
per-tile or per-column worker under ``prange`` or under a plain ``range``.
Starting a parallel region costs microseconds (tens of them on a loaded
2-core machine), more than a whole small layer's work, so work below
:data:`PARALLEL_MIN_WORK` multiply-adds runs on the calling thread. Either
way each output element is computed by the same code in the same order, so
the choice never changes a result.

The reference twins that read exactly like the equations are in
:mod:`fnn_numba.reference`; the CUDA twins in :mod:`fnn_numba.gpu_kernels`.
"""

import math

from numba import njit, prange

from .activations import RELU, SIGMOID, SOFTMAX, activation_slope, activation_value
from .costs import (
    BINARY_CROSS_ENTROPY,
    CATEGORICAL_CROSS_ENTROPY,
    fused_loss_term,
    loss_slope,
    loss_term,
)
from .microkernel import da_prev_panels, dw_db_panels, use_panels, z_forward_panels

#: Reassociation lets LLVM vectorise the k-, i- and j-sums; it changes the
#: summation order at compile time only, never with the thread count.
GEMM_FASTMATH = {"reassoc", "contract"}
TILE = 4
#: Below this many multiply-adds (or element updates) a kernel runs on the
#: calling thread: a parallel region costs more than the work it would split.
PARALLEL_MIN_WORK = 1 << 18
#: P1 (13) sums over the batch: below this many examples, or for fewer than
#: DW_DOT_MIN_ROWS rows, it runs in outer-product order, which needs no layout
#: copies; the dot-product tile's sixteen horizontal reductions and edge
#: tiles cost more than such short sums. The two orders cross between 256 and
#: 512 examples (benchmarks/results/2026-11-24-kernel-tuning.csv).
DW_OUTER_MAX_BATCH = 384
DW_DOT_MIN_ROWS = 16
#: Length of the contiguous run of k an outer-product block keeps in L1
#: (4 rows of it plus 4 input runs: 16 KiB in float32, 32 KiB in float64).
#: Long runs amortise the sixteen broadcasts of each step over the sum
#: (benchmarks/results/2026-11-24-kernel-tuning.csv).
OUTER_CHUNK = 512
#: P1 (21) works on panels of this many examples (a parallel task each)...
DA_PANEL = 32
#: ... passing over the rows j of w in blocks of this many, which stay in L2
#: while every group of four columns of the panel uses them.
DA_ROWS_BLOCK = 128


#: the parallel element-wise kernels split the columns into at most this many
#: contiguous runs, one task each (results do not depend on the split)
ELEMENTWISE_CHUNKS = 32


@njit(cache=True)
def use_threads(work):
    """True when ``work`` operations are worth a parallel region. (The thread
    count is not consulted: numba.get_num_threads() would make every kernel
    uncacheable, and a one-thread parallel region costs under a microsecond.)"""
    return work >= PARALLEL_MIN_WORK


@njit(fastmath=GEMM_FASTMATH, cache=True)
def z_tile(w, b, a_prev, z, j0, i0):
    """P1 (1) on the tile j0 <= j < j0 + 4, i0 <= i < i0 + 4 (clipped at the
    edges): z[j,i] = sum_k w[j,k] a_prev[k,i] + b[j], k innermost."""
    n, K = w.shape
    m = a_prev.shape[1]
    zero = w.dtype.type(0)
    if j0 + TILE <= n and i0 + TILE <= m:
        s00 = s01 = s02 = s03 = zero
        s10 = s11 = s12 = s13 = zero
        s20 = s21 = s22 = s23 = zero
        s30 = s31 = s32 = s33 = zero
        for k in range(K):
            w0 = w[j0, k]
            w1 = w[j0 + 1, k]
            w2 = w[j0 + 2, k]
            w3 = w[j0 + 3, k]
            a0 = a_prev[k, i0]
            a1 = a_prev[k, i0 + 1]
            a2 = a_prev[k, i0 + 2]
            a3 = a_prev[k, i0 + 3]
            s00 += w0 * a0
            s01 += w0 * a1
            s02 += w0 * a2
            s03 += w0 * a3
            s10 += w1 * a0
            s11 += w1 * a1
            s12 += w1 * a2
            s13 += w1 * a3
            s20 += w2 * a0
            s21 += w2 * a1
            s22 += w2 * a2
            s23 += w2 * a3
            s30 += w3 * a0
            s31 += w3 * a1
            s32 += w3 * a2
            s33 += w3 * a3
        z[j0, i0] = s00 + b[j0]
        z[j0, i0 + 1] = s01 + b[j0]
        z[j0, i0 + 2] = s02 + b[j0]
        z[j0, i0 + 3] = s03 + b[j0]
        z[j0 + 1, i0] = s10 + b[j0 + 1]
        z[j0 + 1, i0 + 1] = s11 + b[j0 + 1]
        z[j0 + 1, i0 + 2] = s12 + b[j0 + 1]
        z[j0 + 1, i0 + 3] = s13 + b[j0 + 1]
        z[j0 + 2, i0] = s20 + b[j0 + 2]
        z[j0 + 2, i0 + 1] = s21 + b[j0 + 2]
        z[j0 + 2, i0 + 2] = s22 + b[j0 + 2]
        z[j0 + 2, i0 + 3] = s23 + b[j0 + 2]
        z[j0 + 3, i0] = s30 + b[j0 + 3]
        z[j0 + 3, i0 + 1] = s31 + b[j0 + 3]
        z[j0 + 3, i0 + 2] = s32 + b[j0 + 3]
        z[j0 + 3, i0 + 3] = s33 + b[j0 + 3]
    else:
        for i in range(i0, min(i0 + TILE, m)):
            for j in range(j0, min(j0 + TILE, n)):
                s = zero
                for k in range(K):
                    s += w[j, k] * a_prev[k, i]
                z[j, i] = s + b[j]


@njit(parallel=True, cache=True)
def z_forward(w, b, a_prev, z):
    """P1 (1): z[j,i] = sum_k w[j,k] a_prev[k,i] + b[j].

    Layout: w C-ordered (k contiguous), a_prev and z F-ordered (k and j
    contiguous). Loops over 4 x 4 tiles of (j, i) (``prange`` when the layer
    is large enough), each tile sixteen scalar accumulators with k innermost
    (:func:`z_tile`).
    """
    n, K = w.shape
    m = a_prev.shape[1]
    if use_panels(n, K, m):
        z_forward_panels(w, b, a_prev, z)
        return
    tiles_j = (n + TILE - 1) // TILE
    tiles_i = (m + TILE - 1) // TILE
    if use_threads(n * K * m):
        for t in prange(tiles_j * tiles_i):
            z_tile(w, b, a_prev, z, (t % tiles_j) * TILE, (t // tiles_j) * TILE)
    else:
        for t in range(tiles_j * tiles_i):
            z_tile(w, b, a_prev, z, (t % tiles_j) * TILE, (t // tiles_j) * TILE)


@njit(fastmath=GEMM_FASTMATH, cache=True)
def dw_db_tile(dz_rows, a_prev_rows, w, l2, dw, db, j0, k0):
    """P1 (13) (+ L2) on the tile j0 <= j < j0 + 4, k0 <= k < k0 + 4, and
    P1 (14) for its rows when k0 == 0: dw[j,k] = sum_i dz[j,i] a_prev[k,i]
    + l2 w[j,k]; db[j] = sum_i dz[j,i]; i innermost."""
    n, K = dw.shape
    m = dz_rows.shape[1]
    zero = dw.dtype.type(0)
    if k0 == 0:
        for j in range(j0, min(j0 + TILE, n)):
            s = zero
            for i in range(m):
                s += dz_rows[j, i]
            db[j] = s
    if j0 + TILE <= n and k0 + TILE <= K:
        s00 = s01 = s02 = s03 = zero
        s10 = s11 = s12 = s13 = zero
        s20 = s21 = s22 = s23 = zero
        s30 = s31 = s32 = s33 = zero
        for i in range(m):
            d0 = dz_rows[j0, i]
            d1 = dz_rows[j0 + 1, i]
            d2 = dz_rows[j0 + 2, i]
            d3 = dz_rows[j0 + 3, i]
            a0 = a_prev_rows[k0, i]
            a1 = a_prev_rows[k0 + 1, i]
            a2 = a_prev_rows[k0 + 2, i]
            a3 = a_prev_rows[k0 + 3, i]
            s00 += d0 * a0
            s01 += d0 * a1
            s02 += d0 * a2
            s03 += d0 * a3
            s10 += d1 * a0
            s11 += d1 * a1
            s12 += d1 * a2
            s13 += d1 * a3
            s20 += d2 * a0
            s21 += d2 * a1
            s22 += d2 * a2
            s23 += d2 * a3
            s30 += d3 * a0
            s31 += d3 * a1
            s32 += d3 * a2
            s33 += d3 * a3
        dw[j0, k0] = s00 + l2 * w[j0, k0]
        dw[j0, k0 + 1] = s01 + l2 * w[j0, k0 + 1]
        dw[j0, k0 + 2] = s02 + l2 * w[j0, k0 + 2]
        dw[j0, k0 + 3] = s03 + l2 * w[j0, k0 + 3]
        dw[j0 + 1, k0] = s10 + l2 * w[j0 + 1, k0]
        dw[j0 + 1, k0 + 1] = s11 + l2 * w[j0 + 1, k0 + 1]
        dw[j0 + 1, k0 + 2] = s12 + l2 * w[j0 + 1, k0 + 2]
        dw[j0 + 1, k0 + 3] = s13 + l2 * w[j0 + 1, k0 + 3]
        dw[j0 + 2, k0] = s20 + l2 * w[j0 + 2, k0]
        dw[j0 + 2, k0 + 1] = s21 + l2 * w[j0 + 2, k0 + 1]
        dw[j0 + 2, k0 + 2] = s22 + l2 * w[j0 + 2, k0 + 2]
        dw[j0 + 2, k0 + 3] = s23 + l2 * w[j0 + 2, k0 + 3]
        dw[j0 + 3, k0] = s30 + l2 * w[j0 + 3, k0]
        dw[j0 + 3, k0 + 1] = s31 + l2 * w[j0 + 3, k0 + 1]
        dw[j0 + 3, k0 + 2] = s32 + l2 * w[j0 + 3, k0 + 2]
        dw[j0 + 3, k0 + 3] = s33 + l2 * w[j0 + 3, k0 + 3]
    else:
        for j in range(j0, min(j0 + TILE, n)):
            for k in range(k0, min(k0 + TILE, K)):
                s = zero
                for i in range(m):
                    s += dz_rows[j, i] * a_prev_rows[k, i]
                dw[j, k] = s + l2 * w[j, k]


@njit(fastmath=GEMM_FASTMATH, cache=True, inline="always")
def rank4_update(o0, o1, o2, o3, x0, x1, x2, x3, d):
    """o_r[k] += sum_c d[r, c] x_c[k] for r, c < 4: four terms of an
    outer-product sum into four output runs. The sixteen coefficients are
    read once; the k loop starts at 0 over contiguous runs (so Numba needs no
    wraparound guard) and vectorises, each load of x_c serving four outputs
    and each load and store of o_r four multiply-adds."""
    d00 = d[0, 0]
    d01 = d[0, 1]
    d02 = d[0, 2]
    d03 = d[0, 3]
    d10 = d[1, 0]
    d11 = d[1, 1]
    d12 = d[1, 2]
    d13 = d[1, 3]
    d20 = d[2, 0]
    d21 = d[2, 1]
    d22 = d[2, 2]
    d23 = d[2, 3]
    d30 = d[3, 0]
    d31 = d[3, 1]
    d32 = d[3, 2]
    d33 = d[3, 3]
    for k in range(x0.shape[0]):
        a0 = x0[k]
        a1 = x1[k]
        a2 = x2[k]
        a3 = x3[k]
        o0[k] += d00 * a0 + d01 * a1 + d02 * a2 + d03 * a3
        o1[k] += d10 * a0 + d11 * a1 + d12 * a2 + d13 * a3
        o2[k] += d20 * a0 + d21 * a1 + d22 * a2 + d23 * a3
        o3[k] += d30 * a0 + d31 * a1 + d32 * a2 + d33 * a3


@njit(fastmath=GEMM_FASTMATH, cache=True, inline="always")
def rank1_update(o0, o1, o2, o3, x, d0, d1, d2, d3):
    """o_r[k] += d_r x[k] for r < 4: one term of an outer-product sum (the
    remainder of :func:`rank4_update`'s groups of four)."""
    for k in range(x.shape[0]):
        xk = x[k]
        o0[k] += d0 * xk
        o1[k] += d1 * xk
        o2[k] += d2 * xk
        o3[k] += d3 * xk


@njit(fastmath=GEMM_FASTMATH, cache=True, inline="always")
def axpy_run(o, d, x):
    """o[k] += d x[k]: one term of an outer-product sum into one output run."""
    for k in range(x.shape[0]):
        o[k] += d * x[k]


@njit(fastmath=GEMM_FASTMATH, cache=True)
def dw_db_outer_block(dz, a_prev, w, l2, dw, db, j0, k0):
    """P1 (13) (+ L2) on rows j0 <= j < j0 + 4 and the run k0 <= k < k0 +
    OUTER_CHUNK of dw, in outer-product order, and P1 (14) for its rows when
    k0 == 0: dw[j, k0:k1] += sum_i dz[j,i] a_prev[k0:k1, i], four examples i
    at a time, then + l2 w[j, k0:k1].

    The k loop is innermost, contiguous in dw and in a_prev's columns, and
    vectorised; each load of a_prev serves four rows and each load and store
    of dw sixteen multiply-adds, and the run of dw stays in L1 across the
    i loop. dz and a_prev are read in their own F order: no copies."""
    n, K = dw.shape
    m = dz.shape[1]
    zero = dw.dtype.type(0)
    k1 = min(k0 + OUTER_CHUNK, K)
    j1 = min(j0 + TILE, n)
    a_cols = a_prev.T  # (m, K) C-ordered view: a_cols[i] is example i's column
    if k0 == 0:
        for j in range(j0, j1):
            s = zero
            for i in range(m):
                s += dz[j, i]
            db[j] = s
    if j1 - j0 == TILE:
        o0 = dw[j0, k0:k1]
        o1 = dw[j0 + 1, k0:k1]
        o2 = dw[j0 + 2, k0:k1]
        o3 = dw[j0 + 3, k0:k1]
        o0[:] = zero
        o1[:] = zero
        o2[:] = zero
        o3[:] = zero
        for i in range(0, m - TILE + 1, TILE):
            rank4_update(
                o0,
                o1,
                o2,
                o3,
                a_cols[i, k0:k1],
                a_cols[i + 1, k0:k1],
                a_cols[i + 2, k0:k1],
                a_cols[i + 3, k0:k1],
                dz[j0 : j0 + TILE, i : i + TILE],
            )
        for i in range(m - m % TILE, m):
            rank1_update(
                o0,
                o1,
                o2,
                o3,
                a_cols[i, k0:k1],
                dz[j0, i],
                dz[j0 + 1, i],
                dz[j0 + 2, i],
                dz[j0 + 3, i],
            )
    else:
        for j in range(j0, j1):
            o = dw[j, k0:k1]
            o[:] = zero
            for i in range(m):
                axpy_run(o, dz[j, i], a_cols[i, k0:k1])
    if l2 != 0:
        for j in range(j0, j1):
            o = dw[j, k0:k1]
            wj = w[j, k0:k1]
            for k in range(o.shape[0]):
                o[k] += l2 * wj[k]


@njit(parallel=True, cache=True)
def dw_db_backward(dz, a_prev, w, l2, dw, db, dz_rows, a_prev_rows):
    """P1 (13) and (14) in one pass, with the L2 term:
    dw[j,k] = sum_i dz[j,i] a_prev[k,i] + l2 w[j,k];  db[j] = sum_i dz[j,i].

    Layout: dz (n, m) and a_prev (K, m) F-ordered, w and dw C-ordered. Two
    loop orders, chosen by the length m of the sum (same result up to
    rounding; each output written by one iteration in a fixed order):

    - m < DW_OUTER_MAX_BATCH or n < DW_DOT_MIN_ROWS: outer-product order, over blocks of 4 rows
      j x OUTER_CHUNK columns k (``prange`` when large enough), i outer, k
      innermost and vectorised (:func:`dw_db_outer_block`); no copies.
    - otherwise dot-product order: dz and a_prev are first copied C-ordered
      into ``dz_rows`` and ``a_prev_rows`` (i contiguous, :func:`copy_matrix`),
      then 4 x 4 tiles of (j, k), sixteen scalar accumulators, i innermost
      (:func:`dw_db_tile`); the tiles with k0 == 0 also sum db.
    """
    n, K = dw.shape
    m = dz.shape[1]
    if use_panels(n, K, m):
        dw_db_panels(dz, a_prev, w, l2, dw, db)
        return
    if m < DW_OUTER_MAX_BATCH or n < DW_DOT_MIN_ROWS:
        tiles_j = (n + TILE - 1) // TILE
        chunks_k = (K + OUTER_CHUNK - 1) // OUTER_CHUNK
        if use_threads(n * K * m):
            for t in prange(tiles_j * chunks_k):
                dw_db_outer_block(
                    dz, a_prev, w, l2, dw, db, (t // chunks_k) * TILE, (t % chunks_k) * OUTER_CHUNK
                )
        else:
            for t in range(tiles_j * chunks_k):
                dw_db_outer_block(
                    dz, a_prev, w, l2, dw, db, (t // chunks_k) * TILE, (t % chunks_k) * OUTER_CHUNK
                )
        return
    copy_matrix(dz, dz_rows)
    copy_matrix(a_prev, a_prev_rows)
    tiles_j = (n + TILE - 1) // TILE
    tiles_k = (K + TILE - 1) // TILE
    if use_threads(n * K * m):
        for t in prange(tiles_j * tiles_k):
            dw_db_tile(
                dz_rows, a_prev_rows, w, l2, dw, db, (t // tiles_k) * TILE, (t % tiles_k) * TILE
            )
    else:
        for t in range(tiles_j * tiles_k):
            dw_db_tile(
                dz_rows, a_prev_rows, w, l2, dw, db, (t // tiles_k) * TILE, (t % tiles_k) * TILE
            )


@njit(fastmath=GEMM_FASTMATH, cache=True)
def da_prev_outer_panel(w, dz, da_prev, k0, i0):
    """P1 (21) on the run k0 <= k < k0 + OUTER_CHUNK of the columns
    i0 <= i < i0 + DA_PANEL of da_prev, in outer-product order:
    da_prev[k0:k1, i] = sum_j dz[j,i] w[j, k0:k1], j ascending, four rows j
    and four columns i per pass (:func:`rank4_update`).

    The k loop is innermost, contiguous in the C-ordered w and in the
    F-ordered da_prev, and vectorised. The rows j go in blocks of
    DA_ROWS_BLOCK, each block of w (128 x 512 floats) read from L2 by every
    group of four columns of the panel before the next block: without the
    blocking each group streamed the whole (n, 512) slab of w from L3.
    No copy of w."""
    n, K = w.shape
    m = dz.shape[1]
    zero = dz.dtype.type(0)
    k1 = min(k0 + OUTER_CHUNK, K)
    i1 = min(i0 + DA_PANEL, m)
    i4 = i0 + (i1 - i0) // TILE * TILE  # columns [i0, i4) in groups of four
    n4 = n - n % TILE  # rows [0, n4) in groups of four
    da_cols = da_prev.T  # (m, K) C-ordered view: da_cols[i] is example i's column
    for i in range(i0, i1):
        da_cols[i, k0:k1] = zero
    for jb in range(0, n4, DA_ROWS_BLOCK):
        jb1 = min(jb + DA_ROWS_BLOCK, n4)
        for c in range(i0, i4, TILE):
            o0 = da_cols[c, k0:k1]
            o1 = da_cols[c + 1, k0:k1]
            o2 = da_cols[c + 2, k0:k1]
            o3 = da_cols[c + 3, k0:k1]
            for j in range(jb, jb1, TILE):
                rank4_update(
                    o0,
                    o1,
                    o2,
                    o3,
                    w[j, k0:k1],
                    w[j + 1, k0:k1],
                    w[j + 2, k0:k1],
                    w[j + 3, k0:k1],
                    dz[j : j + TILE, c : c + TILE].T,
                )
        for c in range(i4, i1):
            o = da_cols[c, k0:k1]
            for j in range(jb, jb1):
                axpy_run(o, dz[j, c], w[j, k0:k1])
    for j in range(n4, n):
        for c in range(i0, i4, TILE):
            rank1_update(
                da_cols[c, k0:k1],
                da_cols[c + 1, k0:k1],
                da_cols[c + 2, k0:k1],
                da_cols[c + 3, k0:k1],
                w[j, k0:k1],
                dz[j, c],
                dz[j, c + 1],
                dz[j, c + 2],
                dz[j, c + 3],
            )
        for c in range(i4, i1):
            axpy_run(da_cols[c, k0:k1], dz[j, c], w[j, k0:k1])


@njit(parallel=True, cache=True)
def da_prev_backward(w, dz, da_prev):
    """P1 (21): da_prev[k,i] = sum_j dz[j,i] w[j,k]  (dJ/dA[l-1], or dJ/dX).

    Layout: w C-ordered, dz and da_prev F-ordered. Outer-product order over
    panels of OUTER_CHUNK rows k x DA_PANEL columns i (``prange`` when large
    enough), j outer in L2-sized blocks, k innermost and vectorised
    (:func:`da_prev_outer_panel`). (The dot-product order, j innermost,
    would need w copied F-ordered, and with the copy it was slower:
    ``benchmarks/results/2026-11-24-kernel-tuning.csv``.)
    """
    n, K = w.shape
    m = dz.shape[1]
    if use_panels(n, K, m):
        da_prev_panels(w, dz, da_prev)
        return
    chunks_k = (K + OUTER_CHUNK - 1) // OUTER_CHUNK
    panels_i = (m + DA_PANEL - 1) // DA_PANEL
    if use_threads(n * K * m):
        for t in prange(chunks_k * panels_i):
            da_prev_outer_panel(
                w, dz, da_prev, (t % chunks_k) * OUTER_CHUNK, (t // chunks_k) * DA_PANEL
            )
    else:
        for t in range(chunks_k * panels_i):
            da_prev_outer_panel(
                w, dz, da_prev, (t % chunks_k) * OUTER_CHUNK, (t // chunks_k) * DA_PANEL
            )


@njit(cache=True, inline="always")
def activation_map(code, z, a, i):
    """a[j,i] = g(z[j,i]) down column i, for an element-wise g (P1 (2))."""
    for j in range(z.shape[0]):
        a[j, i] = activation_value(code, z[j, i])


@njit(cache=True, inline="always")
def slope_map(code, z, a, da, dz, i):
    """dz[j,i] = da[j,i] g'(z[j,i]) down column i, for an element-wise g
    (P1 (17) with its diagonal Jacobian)."""
    for j in range(z.shape[0]):
        dz[j, i] = da[j, i] * activation_slope(code, z[j, i], a[j, i])


@njit(cache=True, inline="always")
def activation_column(code, z, a, i):
    """P1 (2) for the column of example i (see :func:`activation_forward`)."""
    n = z.shape[0]
    if code == SOFTMAX:
        c = z[0, i]
        for p in range(1, n):
            c = max(c, z[p, i])
        s = z.dtype.type(0)
        for p in range(n):
            e = math.exp(z[p, i] - c)
            a[p, i] = e
            s += e
        for j in range(n):
            a[j, i] = a[j, i] / s
    # relu, the usual hidden activation, gets a loop of its own with its code
    # a constant: LLVM folds activation_value's switch away and vectorises
    # it. In the shared loop the code is a variable, every case stays in the
    # loop and it runs scalar (relu on (32, 128): 22 us against 1.5 us, Zen
    # 1). A loop for each activation would cost ~10 s more compiling.
    elif code == RELU:
        activation_map(RELU, z, a, i)
    else:
        activation_map(code, z, a, i)


@njit(cache=True)
def activation_columns(code, z, a, first, stop):
    """P1 (2) for the columns first <= i < stop. A compiled function of its
    own (not inlined), so that its loops are compiled once, not again in each
    of activation_forward's serial and parallel paths."""
    for i in range(first, stop):
        activation_column(code, z, a, i)


@njit(parallel=True, cache=True)
def activation_forward(code, z, a):
    """P1 (2): a[j,i] = g(z[:,i])_j, for every activation.

    Element-wise g (P2 (1), (3), (5) and the rest): a[j,i] = g(z[j,i]).
    Softmax, P2 (7), stable: a[j,i] = exp(z[j,i] - c_i) / sum_p exp(z[p,i] - c_i)
    with c_i = max_p z[p,i], which leaves a unchanged and keeps every exp <= 1.
    Layout: z, a F-ordered; loops over examples i (in up to
    ELEMENTWISE_CHUNKS runs under ``prange`` when large enough), j innermost.
    """
    n, m = z.shape
    if use_threads(n * m):
        chunks = min(m, ELEMENTWISE_CHUNKS)
        for t in prange(chunks):
            activation_columns(code, z, a, t * m // chunks, (t + 1) * m // chunks)
    else:
        activation_columns(code, z, a, 0, m)


@njit(cache=True, inline="always")
def dz_column(code, z, a, da, dz, i):
    """P1 (17) for the column of example i (see :func:`dz_backward`)."""
    n = z.shape[0]
    if code == SOFTMAX:
        s = z.dtype.type(0)
        for p in range(n):
            s += da[p, i] * a[p, i]
        for j in range(n):
            dz[j, i] = a[j, i] * (da[j, i] - s)
    # relu's loop apart, with its code a constant (see activation_column)
    elif code == RELU:
        slope_map(RELU, z, a, da, dz, i)
    else:
        slope_map(code, z, a, da, dz, i)


@njit(cache=True)
def dz_columns(code, z, a, da, dz, first, stop):
    """P1 (17) for the columns first <= i < stop (compiled once, as
    :func:`activation_columns`)."""
    for i in range(first, stop):
        dz_column(code, z, a, da, dz, i)


@njit(parallel=True, cache=True)
def dz_backward(code, z, a, da, dz):
    """P1 (17): dz[j,i] = sum_p da[p,i] (da[p,i]/dz[j,i]), in closed form.

    Element-wise g (the Jacobian is diagonal; P2 (2), (4), (6) and the rest):
    dz[j,i] = da[j,i] * g'(z[j,i]).
    Softmax, P2 (8), the cross-sum over p:
    dz[j,i] = a[j,i] (da[j,i] - sum_p da[p,i] a[p,i]).
    Layout: all F-ordered; loops over examples i (in up to
    ELEMENTWISE_CHUNKS runs under ``prange`` when large enough), j and p
    innermost. ``dz`` may be ``da`` itself: each column's
    da is read (the cross-sum first) before its dz is written, which is how
    the training drivers save a buffer per layer.
    """
    n, m = z.shape
    if use_threads(n * m):
        chunks = min(m, ELEMENTWISE_CHUNKS)
        for t in prange(chunks):
            dz_columns(code, z, a, da, dz, t * m // chunks, (t + 1) * m // chunks)
    else:
        dz_columns(code, z, a, da, dz, 0, m)


@njit(cache=True, inline="always")
def loss_of_example(cost_code, out_code, fused, z, a, y, losses, i):
    """L_i for example i (see :func:`example_losses`)."""
    n = a.shape[0]
    s = a.dtype.type(0)
    if fused and out_code == SOFTMAX and cost_code == CATEGORICAL_CROSS_ENTROPY:
        c = z[0, i]
        for p in range(1, n):
            c = max(c, z[p, i])
        e = z.dtype.type(0)
        for p in range(n):
            e += math.exp(z[p, i] - c)
        # (z - c) - log e, not z - (c + log e): c + log e would round away
        # log e when |c| is large
        log_e = math.log(e)
        for j in range(n):
            if y[j, i] != 0:
                s -= y[j, i] * ((z[j, i] - c) - log_e)
    elif fused and out_code == SIGMOID and cost_code == BINARY_CROSS_ENTROPY:
        for j in range(n):
            s += fused_loss_term(cost_code, z[j, i], y[j, i])
    else:
        for j in range(n):
            s += loss_term(cost_code, a[j, i], y[j, i])
    losses[i] = s


@njit(parallel=True, cache=True)
def example_losses(cost_code, out_code, fused, z, a, y, losses):
    """L_i for every example i (the costs of ``docs/derivation.rst``): losses[i] = sum_j term.

    General path: term = loss_term(a[j,i], y[j,i]) (y_hat clipped in the
    cross-entropies, see :mod:`fnn_numba.costs`). Fused paths (``fused``),
    computed from the logits z so that they are exact for any z:
    sigmoid + binary CE, fused_loss_term(z[j,i], y[j,i]);
    softmax + categorical CE, -sum_j y[j,i] (z[j,i] - c_i - log sum_p exp(z[p,i] - c_i)).
    Layout: F-ordered; loops over i (``prange`` when large enough), j innermost.
    """
    n, m = a.shape
    if use_threads(n * m):
        for i in prange(m):
            loss_of_example(cost_code, out_code, fused, z, a, y, losses, i)
    else:
        for i in range(m):
            loss_of_example(cost_code, out_code, fused, z, a, y, losses, i)


@njit(cache=True)
def mean_of(values):
    """(1/m) sum_i values[i], summed in index order (deterministic)."""
    s = 0.0
    for i in range(values.shape[0]):
        s += values[i]
    return s / values.shape[0]


@njit(cache=True, inline="always")
def seed_column(cost_code, a, y, da, i):
    """dJ/dA[L] for the column of example i (see :func:`cost_seed`)."""
    n, m = a.shape
    inv_m = a.dtype.type(1.0 / m)
    for j in range(n):
        da[j, i] = loss_slope(cost_code, a[j, i], y[j, i]) * inv_m


@njit(parallel=True, cache=True)
def cost_seed(cost_code, a, y, da):
    """The seed of backpropagation, dJ/dA[L][j,i] = (1/m) dL_i/dy_hat[j,i].

    squared error: (a - y)/m; binary CE: (a - y)/(a (1 - a) m);
    categorical CE: -y/(a m); a clipped as documented in :mod:`fnn_numba.costs`.
    Layout: F-ordered; loops over i (``prange`` when large enough).
    """
    n, m = a.shape
    if use_threads(n * m):
        for i in prange(m):
            seed_column(cost_code, a, y, da, i)
    else:
        for i in range(m):
            seed_column(cost_code, a, y, da, i)


@njit(cache=True, inline="always")
def fused_delta_column(out_code, a, y, dz, i):
    """The fused dJ/dZ[L] for the column of example i (see :func:`output_delta_fused`)."""
    n, m = a.shape
    inv_m = a.dtype.type(1.0 / m)
    if out_code == SOFTMAX:
        s = a.dtype.type(0)
        for p in range(n):
            s += y[p, i]
        for j in range(n):
            dz[j, i] = (a[j, i] * s - y[j, i]) * inv_m
    else:
        for j in range(n):
            dz[j, i] = (a[j, i] - y[j, i]) * inv_m


@njit(parallel=True, cache=True)
def output_delta_fused(out_code, a, y, dz):
    """dJ/dZ[L] where the output activation and the cost cancel.

    sigmoid + binary CE: dz[j,i] = (a[j,i] - y[j,i]) / m.
    softmax + categorical CE: dz[j,i] = (a[j,i] sum_p y[p,i] - y[j,i]) / m,
    which is (a - y)/m for one-hot or probability columns of y and stays the
    exact gradient of the cost for any y.
    Both equal the general path, P2 (4)/(8) applied to the seed, without
    dividing by a or 1 - a. Layout: F-ordered; loops over i (``prange`` when large enough).
    """
    n, m = a.shape
    if use_threads(n * m):
        for i in prange(m):
            fused_delta_column(out_code, a, y, dz, i)
    else:
        for i in range(m):
            fused_delta_column(out_code, a, y, dz, i)


@njit(cache=True)
def weight_sum(s):
    """S = sum_i s[i], in float64 and index order (deterministic)."""
    total = 0.0
    for i in range(s.shape[0]):
        total += s[i]
    return total


@njit(cache=True)
def weighted_mean_of(values, s):
    """The weighted cost sum_i s_i L_i / sum_i s_i (values[i] = L_i), summed
    in index order; 0 when every weight is 0 (such a batch carries no data
    term)."""
    num = 0.0
    den = 0.0
    for i in range(values.shape[0]):
        num += s[i] * values[i]
        den += s[i]
    return num / den if den > 0 else 0.0


@njit(cache=True, inline="always")
def weight_ratio(s, i, m, total, dtype):
    """r_i = m s_i / S, the factor that turns column i of an unweighted
    (1/m)-scaled derivative into the weighted cost's (s_i / S)-scaled one
    (1 for unit weights, exactly); 0 when S = 0."""
    if total > 0:
        return dtype.type(s[i] * m / total)
    return dtype.type(0)


@njit(cache=True, inline="always")
def scale_column(x, i, r):
    """Column i of x times r: ``x[:, i] *= r``."""
    for j in range(x.shape[0]):
        x[j, i] = x[j, i] * r


@njit(parallel=True, cache=True)
def cost_seed_weighted(cost_code, a, y, s, da):
    """The seed of the weighted cost J = sum_i s_i L_i / S, S = sum_i s_i:
    dJ/dA[L][j,i] = (s_i / S) dL_i/dy_hat[j,i].

    Each column is :func:`cost_seed`'s, (1/m) dL_i/dy_hat, times
    r_i = m s_i / S while it is in cache (one pass over da). Unit weights
    give r_i = 1 and :func:`cost_seed`'s values bit for bit. Layout: as
    :func:`cost_seed`; s[i] is column i's weight.
    """
    n, m = a.shape
    total = weight_sum(s)
    if use_threads(n * m):
        for i in prange(m):
            seed_column(cost_code, a, y, da, i)
            scale_column(da, i, weight_ratio(s, i, m, total, da.dtype))
    else:
        for i in range(m):
            seed_column(cost_code, a, y, da, i)
            scale_column(da, i, weight_ratio(s, i, m, total, da.dtype))


@njit(parallel=True, cache=True)
def output_delta_fused_weighted(out_code, a, y, s, dz):
    """The fused dJ/dZ[L] of the weighted cost J = sum_i s_i L_i / S:
    dz[:, i] = (s_i / S) dL_i/dz[:, i], i.e. :func:`output_delta_fused`'s
    column times r_i = m s_i / S (sigmoid + binary CE:
    (a - y) s_i / S; softmax + categorical CE: (a sum_p y[p,i] - y) s_i / S).
    Everything below the output layer is linear in the columns of dJ/dZ[L],
    so this one scaling weights the whole backward pass. Unit weights give
    :func:`output_delta_fused`'s values bit for bit. Layout: as
    :func:`output_delta_fused`; s[i] is column i's weight.
    """
    n, m = a.shape
    total = weight_sum(s)
    if use_threads(n * m):
        for i in prange(m):
            fused_delta_column(out_code, a, y, dz, i)
            scale_column(dz, i, weight_ratio(s, i, m, total, dz.dtype))
    else:
        for i in range(m):
            fused_delta_column(out_code, a, y, dz, i)
            scale_column(dz, i, weight_ratio(s, i, m, total, dz.dtype))


@njit(cache=True, inline="always")
def copy_block(src, dst, r0):
    """dst[r, c] = src[r, c] for the rows r0 <= r < r0 + 32, 32 columns at a time."""
    rows, cols = src.shape
    r1 = min(r0 + 32, rows)
    for c0 in range(0, cols, 32):
        # views, so that the loops start at 0: a loop from r0 or c0 makes
        # Numba guard every index against wraparound and LLVM gives up on it
        s = src[r0:r1, c0 : min(c0 + 32, cols)]
        d = dst[r0:r1, c0 : min(c0 + 32, cols)]
        for r in range(s.shape[0]):
            for c in range(s.shape[1]):
                d[r, c] = s[r, c]


@njit(parallel=True, cache=True)
def copy_matrix(src, dst):
    """dst[r, c] = src[r, c]: the same matrix in another storage order.

    Used to give each GEMM-shaped sum its summed index contiguous. Blocked
    32 x 32 so that both the strided reads and the contiguous writes stay in
    cache; loops over row blocks (``prange`` when large enough).
    """
    rows, cols = src.shape
    blocks = (rows + 31) // 32
    if use_threads(rows * cols):
        for rb in prange(blocks):
            copy_block(src, dst, rb * 32)
    else:
        for rb in range(blocks):
            copy_block(src, dst, rb * 32)


@njit(cache=True)
def l2_penalty(params, w_offsets, w_sizes, l2):
    """The L2 term (lambda/2) sum_l ||W[l]||_F^2; biases are not penalised."""
    s = 0.0
    for l in range(w_offsets.shape[0]):
        for q in range(w_offsets[l], w_offsets[l] + w_sizes[l]):
            s += params[q] * params[q]
    return 0.5 * l2 * s


SGD = 0
MOMENTUM = 1
NESTEROV = 2
ADAM = 3
#: optimizer name -> code used by the update kernels.
OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM}


@njit(cache=True)
def clip_gradient_norm(grads, max_norm):
    """Gradient clipping by norm, against exploding gradients:
    g <- g * max_norm / ||g|| when the global norm ||g|| = sqrt(sum_q g[q]^2)
    exceeds max_norm. Summed in index order (deterministic). Returns ||g||
    before clipping."""
    s = 0.0
    for q in range(grads.shape[0]):
        s += grads[q] * grads[q]
    norm = math.sqrt(s)
    if norm > max_norm:
        scale = grads.dtype.type(max_norm / norm)
        for q in range(grads.shape[0]):
            grads[q] *= scale
    return norm


@njit(cache=True)
def clip_gradient_value(grads, max_value):
    """Gradient clipping by value, against exploding gradients: each
    element g[q] <- min(max(g[q], -c), c) with c =
    max_value. Loops over q."""
    c = grads.dtype.type(max_value)
    for q in range(grads.shape[0]):
        if grads[q] > c:
            grads[q] = c
        elif grads[q] < -c:
            grads[q] = -c


@njit(cache=True, inline="always")
def step_element(kind, g, v, s, alpha, mu, b1, b2, one, eps, c1, c2):
    """One parameter's step for :func:`optimizer_step`."""
    if kind == SGD:
        return -alpha * g
    if kind == MOMENTUM:
        return mu * v - alpha * g
    if kind == NESTEROV:
        return mu * (mu * v - alpha * g) - alpha * g
    m1 = b1 * v + (one - b1) * g
    m2 = b2 * s + (one - b2) * g * g
    return -alpha * (m1 / c1) / (math.sqrt(m2 / c2) + eps)


@njit(parallel=True, cache=True)
def optimizer_step(
    kind, grads, velocity, second_moment, t, learning_rate, momentum, beta1, beta2, epsilon, step
):
    """The update each optimizer would add to the parameters, without
    changing any state (so a non-finite step can be refused)::

        sgd:       step = -alpha g  (gradient descent, W <- W - alpha dJ/dW)
        momentum:  v' = mu v - alpha g;  step = v'
        nesterov:  v' = mu v - alpha g;  step = mu v' - alpha g
        adam:      m' = beta1 m + (1 - beta1) g;  s' = beta2 s + (1 - beta2) g^2;
                   step = -alpha (m' / (1 - beta1^t)) / (sqrt(s' / (1 - beta2^t)) + eps)

    Loops over parameters q (``prange`` when there are enough).
    """
    alpha = grads.dtype.type(learning_rate)
    mu = grads.dtype.type(momentum)
    b1 = grads.dtype.type(beta1)
    b2 = grads.dtype.type(beta2)
    one = grads.dtype.type(1)
    eps = grads.dtype.type(epsilon)
    c1 = grads.dtype.type(1.0 - beta1**t)
    c2 = grads.dtype.type(1.0 - beta2**t)
    if use_threads(grads.shape[0]):
        for q in prange(grads.shape[0]):
            step[q] = step_element(
                kind, grads[q], velocity[q], second_moment[q], alpha, mu, b1, b2, one, eps, c1, c2
            )
    else:
        for q in range(grads.shape[0]):
            step[q] = step_element(
                kind, grads[q], velocity[q], second_moment[q], alpha, mu, b1, b2, one, eps, c1, c2
            )


@njit(fastmath={"reassoc"}, cache=True)
def step_is_finite(params, step):
    """True when every params[q] + step[q] is finite: applying the step keeps
    the network usable (checked before anything is written).

    Sums (params[q] + step[q]) * 0, which is 0 for a finite value and NaN for
    an infinite or NaN one: a loop without an early exit, which vectorises
    (``reassoc`` only reorders the sum; without ``nnan`` x * 0 is not folded
    to 0)."""
    zero = params.dtype.type(0)
    acc = zero
    for q in range(params.shape[0]):
        acc += (params[q] + step[q]) * zero
    return acc == zero


@njit(fastmath={"reassoc"}, cache=True)
def sgd_update_is_finite(params, grads, learning_rate):
    """:func:`step_is_finite` for plain SGD, whose step -alpha g is computed
    on the fly (no step buffer): True when every params[q] - alpha grads[q]
    is finite."""
    alpha = grads.dtype.type(learning_rate)
    zero = params.dtype.type(0)
    acc = zero
    for q in range(params.shape[0]):
        acc += (params[q] + -alpha * grads[q]) * zero
    return acc == zero


@njit(parallel=True, cache=True)
def sgd_update(params, grads, learning_rate):
    """Plain SGD in one pass, gradient descent's W <- W - alpha dJ/dW (and b):
    params[q] += -alpha grads[q], the same operations as
    :func:`optimizer_step` then :func:`optimizer_commit` with ``kind`` sgd,
    so the same bits. Loops over q (``prange`` when there are enough)."""
    alpha = grads.dtype.type(learning_rate)
    if use_threads(params.shape[0]):
        for q in prange(params.shape[0]):
            params[q] += -alpha * grads[q]
    else:
        for q in range(params.shape[0]):
            params[q] += -alpha * grads[q]


@njit(cache=True, inline="always")
def commit_element(kind, q, params, grads, velocity, second_moment, alpha, mu, b1, b2, one, step):
    """One parameter of :func:`optimizer_commit`."""
    g = grads[q]
    if kind == MOMENTUM or kind == NESTEROV:
        velocity[q] = mu * velocity[q] - alpha * g
    elif kind == ADAM:
        velocity[q] = b1 * velocity[q] + (one - b1) * g
        second_moment[q] = b2 * second_moment[q] + (one - b2) * g * g
    params[q] += step[q]


@njit(parallel=True, cache=True)
def optimizer_commit(
    kind, params, grads, velocity, second_moment, learning_rate, momentum, beta1, beta2, step
):
    """Apply a step computed by :func:`optimizer_step`: params += step, and
    advance the optimizer's state (v' for momentum and nesterov, m' and s'
    for adam). With L2 the weight gradients already hold + lambda W (see
    :func:`dw_db_backward`), so sgd is W <- (1 - alpha lambda) W - alpha dJ/dW
    (``docs/derivation.rst``, "The L2 term"). Loops over parameters q (``prange`` when there are enough)."""
    alpha = grads.dtype.type(learning_rate)
    mu = grads.dtype.type(momentum)
    b1 = grads.dtype.type(beta1)
    b2 = grads.dtype.type(beta2)
    one = grads.dtype.type(1)
    if use_threads(params.shape[0]):
        for q in prange(params.shape[0]):
            commit_element(
                kind, q, params, grads, velocity, second_moment, alpha, mu, b1, b2, one, step
            )
    else:
        for q in range(params.shape[0]):
            commit_element(
                kind, q, params, grads, velocity, second_moment, alpha, mu, b1, b2, one, step
            )
