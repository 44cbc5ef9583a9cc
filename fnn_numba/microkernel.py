"""A register-tiled micro-kernel for the sums of the large layers.

P1 (1), (13) and (21) are each a sum over one index of products of two
operands. For large layers the loops of :mod:`fnn_numba.kernels` leave most
of the machine unused: LLVM keeps scalar accumulators scalar. Here the sum of
one output tile is written so that its accumulators are SIMD vectors along a
contiguous output index (BLIS's micro-kernel idea)::

    tile[c, v] = sum_s P[p_off + s ps + v] B[b_off + s bss + c bcs]
                 for c < NC columns and v < PANEL rows,

``P`` read as contiguous vectors (a packed panel, or rows of W), each ``B``
element broadcast. :func:`gemm_tile` is that sum, generated as LLVM IR by an
``@intrinsic``: 2 NC vector accumulators live in registers for the whole
loop over s (an ``alloca`` in the entry block, which LLVM promotes), and each
step is 2 vector loads, NC broadcasts and 2 NC fused multiply-adds
(``llvm.fma`` on vectors). The sum runs over s in ascending order, so a tile's
result does not depend on the thread that computes it.

The vector width is the host's: 64 bytes with AVX-512, 32 bytes otherwise
(16 or 8 float32 lanes); PANEL is two vectors. The kernels that call
:func:`gemm_tile` are in :mod:`fnn_numba.kernels` (``*_panels`` functions);
their loop-level meaning is the same sum as their equation's reference twin.
"""

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

#: bytes per SIMD vector of the host (compiled code is cached per CPU)
VECTOR_BYTES = 64 if llvm.get_host_cpu_features().get("avx512f") else 32
#: output columns per tile (broadcast operands)
NC = 6
#: output rows per tile (two vectors), by element size
PANEL_F32 = 2 * VECTOR_BYTES // 4
PANEL_F64 = 2 * VECTOR_BYTES // 8


@intrinsic
def gemm_tile(typingctx, P, p_off, ps, B, b_off, bss, bcs, nsum, ncols, out):
    """out[c * PANEL + v] = sum_{s < nsum} P[p_off + s ps + v] B[b_off + s bss + c' bcs]
    with c' = min(c, ncols - 1), for c < NC and v < PANEL (columns c >= ncols
    repeat column ncols - 1 and are for the caller to ignore). ``P``, ``B``
    and ``out`` are 1-D contiguous arrays of one float dtype; the caller
    keeps every P[p_off + s ps + v] and B index in bounds."""
    dt = P.dtype
    if not isinstance(dt, types.Float) or B.dtype != dt or out.dtype != dt:
        return None
    sig = types.void(
        P,
        types.int64,
        types.int64,
        B,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        out,
    )

    def codegen(context, builder, signature, args):
        P_, p_off_, ps_, B_, b_off_, bss_, bcs_, nsum_, ncols_, out_ = args
        i64 = ir.IntType(64)
        lty = context.get_value_type(dt)
        lanes = VECTOR_BYTES // (4 if dt == types.float32 else 8)
        vty = ir.VectorType(lty, lanes)
        vptr = vty.as_pointer()
        arrays = [
            cgutils.create_struct_proxy(signature.args[k])(context, builder, value=args[k]).data
            for k in (0, 3, 9)
        ]
        pdata, bdata, odata = arrays
        zero = ir.Constant(vty, [ir.Constant(lty, 0)] * lanes)
        accs = []
        for _ in range(NC):
            pair = []
            for _ in range(2):
                slot = cgutils.alloca_once(builder, vty)
                builder.store(zero, slot)
                pair.append(slot)
            accs.append(pair)
        suffix = f"v{lanes}f{32 if dt == types.float32 else 64}"
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty, vty, vty]), f"llvm.fma.{suffix}"
        )
        # column offsets, clamped to the last valid column (loop invariant)
        last = builder.sub(ncols_, ir.Constant(i64, 1))
        col_off = []
        for c in range(NC):
            cc = ir.Constant(i64, c)
            clamped = builder.select(builder.icmp_signed("<", cc, ncols_), cc, last)
            col_off.append(builder.mul(clamped, bcs_))
        splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
        with cgutils.for_range(builder, nsum_) as loop:
            s = loop.index
            pbase = builder.add(p_off_, builder.mul(s, ps_))
            w0 = builder.load(builder.bitcast(builder.gep(pdata, [pbase]), vptr), align=1)
            w1 = builder.load(
                builder.bitcast(
                    builder.gep(pdata, [builder.add(pbase, ir.Constant(i64, lanes))]), vptr
                ),
                align=1,
            )
            bbase = builder.add(b_off_, builder.mul(s, bss_))
            for c in range(NC):
                bv = builder.load(builder.gep(bdata, [builder.add(bbase, col_off[c])]))
                bb = builder.insert_element(
                    ir.Constant(vty, ir.Undefined), bv, ir.Constant(ir.IntType(32), 0)
                )
                bb = builder.shuffle_vector(bb, ir.Constant(vty, ir.Undefined), splat)
                for h, w in enumerate((w0, w1)):
                    builder.store(builder.call(fma, [w, bb, builder.load(accs[c][h])]), accs[c][h])
        for c in range(NC):
            for h in range(2):
                dst = builder.gep(odata, [ir.Constant(i64, (2 * c + h) * lanes)])
                builder.store(builder.load(accs[c][h]), builder.bitcast(dst, vptr), align=1)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def panel_rows(x):
    """PANEL for the dtype of the array ``x``."""
    if x.itemsize == 4:
        return PANEL_F32
    return PANEL_F64


@njit(parallel=True, cache=True)
def pack_panels(x, vec_axis, pw, packed):
    """Copy the 2-D array ``x`` into panels of pw along its axis ``vec_axis``
    (the vector index v), with the other axis (the summed index s) between
    them: packed[p, s, v] = x[p pw + v, s] (vec_axis 0) or x[s, p pw + v]
    (vec_axis 1), zero past the end. A vector load then reads pw
    consecutive v of one s. Loops over panels (``prange``), then s, then v."""
    nvec = x.shape[vec_axis]
    nsum = x.shape[1 - vec_axis]
    npan = (nvec + pw - 1) // pw
    zero = x.dtype.type(0)
    for p in prange(npan):
        v0 = p * pw
        width = min(pw, nvec - v0)
        for s in range(nsum):
            dst = packed[(p * nsum + s) * pw : (p * nsum + s + 1) * pw]
            if vec_axis == 0:
                for v in range(width):
                    dst[v] = x[v0 + v, s]
            else:
                for v in range(width):
                    dst[v] = x[s, v0 + v]
            for v in range(width, pw):
                dst[v] = zero


@njit(parallel=True, cache=True)
def panel_product(
    packed, pw, nvec, nsum, b, b_sum_axis, ncols, out, v_axis, addend_vec, addend_mat, alpha
):
    """out[v, c] (or out[c, v] when ``v_axis`` is 1) = sum_s P[v, s] B[s, c]
    + addend, for v < nvec, c < ncols, s < nsum: P packed by
    :func:`pack_panels`, B the 2-D array ``b`` whose axis ``b_sum_axis`` is s
    and whose other axis is c. The addend is addend_vec[row] when that
    vector is non-empty (a bias along out's axis 0), else alpha
    addend_mat[row, col] when alpha is non-zero (the L2 term), else nothing.

    Loops over tiles of PANEL v by NC c (``prange``), each summed by
    :func:`gemm_tile` over s in ascending order: every output element is
    computed by one tile in one order, whatever the thread count."""
    npan = (nvec + pw - 1) // pw
    ncb = (ncols + NC - 1) // NC
    isz = b.itemsize
    bss = b.strides[b_sum_axis] // isz
    bcs = b.strides[1 - b_sum_axis] // isz
    has_vec = addend_vec.shape[0] > 0
    for t in prange(npan * ncb):
        p = t % npan
        c0 = (t // npan) * NC
        nc = min(NC, ncols - c0)
        v0 = p * pw
        nv = min(pw, nvec - v0)
        tile = np.empty(NC * pw, dtype=out.dtype)
        gemm_tile(packed, p * nsum * pw, pw, b, c0 * bcs, bss, bcs, nsum, nc, tile)
        for c in range(nc):
            for v in range(nv):
                if v_axis == 0:
                    r = v0 + v
                    q = c0 + c
                else:
                    r = c0 + c
                    q = v0 + v
                x = tile[c * pw + v]
                if has_vec:
                    x += addend_vec[r]
                elif alpha != 0:
                    x += alpha * addend_mat[r, q]
                out[r, q] = x


@njit(cache=True)
def panel_gemm(p_src, p_vec_axis, b, b_sum_axis, out, v_axis, addend_vec, addend_mat, alpha):
    """One GEMM-shaped sum through the micro-kernel: pack the operand
    ``p_src`` along its axis ``p_vec_axis`` (the output index that becomes
    the vector), then :func:`panel_product` with the other operand ``b``."""
    pw = panel_rows(out)
    nvec = p_src.shape[p_vec_axis]
    nsum = p_src.shape[1 - p_vec_axis]
    ncols = b.shape[1 - b_sum_axis]
    packed = np.empty(((nvec + pw - 1) // pw) * nsum * pw, dtype=out.dtype)
    pack_panels(p_src, p_vec_axis, pw, packed)
    panel_product(
        packed, pw, nvec, nsum, b, b_sum_axis, ncols, out, v_axis, addend_vec, addend_mat, alpha
    )


#: Below this many multiply-adds the loops of :mod:`fnn_numba.kernels` run
#: the sum: packing and the tile's fixed costs outweigh the vectors there.
PANEL_MIN_WORK = 1 << 20


@njit(cache=True)
def use_panels(n, K, m):
    """True when an (n, K, m) sum is large enough for the micro-kernel and
    its output index (the vector) is at least one vector long."""
    return n * K * m >= PANEL_MIN_WORK and max(n, K, m) >= PANEL_F32


@njit(cache=True)
def z_forward_panels(w, b, a_prev, z):
    """P1 (1) through the micro-kernel: z[j,i] = sum_k w[j,k] a_prev[k,i] + b[j].

    The vectors run along j (w packed in panels of rows, when n <= m) or
    along i (a_prev packed in panels of examples), whichever operand is
    smaller to pack; the bias is added in the tile's store."""
    n, K = w.shape
    m = a_prev.shape[1]
    none = w[:0, :0]
    if n <= m:
        panel_gemm(w, 0, a_prev, 0, z, 0, b, none, 0.0)
    else:
        panel_gemm(a_prev, 1, w, 1, z, 1, b, none, 0.0)


@njit(cache=True)
def da_prev_panels(w, dz, da_prev):
    """P1 (21) through the micro-kernel: da_prev[k,i] = sum_j w[j,k] dz[j,i].

    The vectors run along k (w packed in panels of columns, when K <= m) or
    along i (dz packed in panels of examples)."""
    n, K = w.shape
    m = dz.shape[1]
    none_vec = w[0, :0]
    none = w[:0, :0]
    if K <= m:
        panel_gemm(w, 1, dz, 0, da_prev, 0, none_vec, none, 0.0)
    else:
        panel_gemm(dz, 1, w, 0, da_prev, 1, none_vec, none, 0.0)


@njit(cache=True)
def dw_db_panels(dz, a_prev, w, l2, dw, db):
    """P1 (13) (+ L2) through the micro-kernel and P1 (14) beside it:
    dw[j,k] = sum_i dz[j,i] a_prev[k,i] + l2 w[j,k];  db[j] = sum_i dz[j,i].

    The vectors run along k (a_prev packed in panels of rows, when K <= n)
    or along j (dz packed in panels of rows); the L2 term is added in the
    tile's store. db sums each row of dz in order i = 0..m-1."""
    n, K = dw.shape
    m = dz.shape[1]
    none_vec = w[0, :0]
    if K <= n:
        panel_gemm(a_prev, 0, dz, 1, dw, 1, none_vec, w, l2)
    else:
        panel_gemm(dz, 0, a_prev, 1, dw, 0, none_vec, w, l2)
    zero = dz.dtype.type(0)
    for j in range(n):
        s = zero
        for i in range(m):
            s += dz[j, i]
        db[j] = s
