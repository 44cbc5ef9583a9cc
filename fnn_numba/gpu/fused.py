"""A whole epoch in one launch of one block, for networks too small to fill
the device: the GPU twin of :func:`fnn_numba.engine.train_batches` that the
~20 launches per batch of the per-equation path would leave idle.

It is built from the same device code as the per-equation kernels: the GEMM
tile of :mod:`fnn_numba.gpu.tiles` (staging, the 4 x 4 register tile and
the epilogues of P1 (1), (13), (14), (21)), the CPU kernels' column and
element workers (:mod:`fnn_numba.gpu.target`) and the fixed-tree
:func:`~fnn_numba.gpu.kernels.block_sum`. What the simulator tests and
``benchmarks/gpu_check.py`` verify kernel by kernel is what runs here.

Settings (module attributes, read at each launch): ``FUSED_EPOCH`` (False
forces the per-equation path), ``FUSED_MAX_FLOPS`` (:func:`fused_epoch_fits`)
and ``FUSED_THREADS`` (the block: T x T threads for the tiles, so a power of
four up to 256).
"""

import math
from collections import namedtuple

import numpy as np

from ..costs import loss_slope
from ..kernels import ADAM
from . import cache as _cache
from .kernels import MAX_THREADS, block_sum
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

#: use the one-kernel-per-epoch path for networks small enough (see
#: :func:`fused_epoch_fits`); tests and benchmarks switch it off to compare
FUSED_EPOCH = True
#: the fused path takes a fit when 6 (parameters) (batch size), the flops of
#: one training step, is at most this. One block runs on one of the device's
#: multiprocessors (132 on an H100), so it only wins while a step is too
#: small to keep the per-equation kernels busy: 2e6 takes 64-32-10 up to
#: batch 128 (1.9e6) and leaves 784-128-10 at batch 32 (2.0e7) to the
#: per-equation kernels. Provisional: ``benchmarks/bench_gpu.py --sweep``
#: measures where the two paths cross on a device.
FUSED_MAX_FLOPS = 2e6
#: threads of the fused kernel's single block: T x T for the GEMM tiles
FUSED_THREADS = 256

#: the network and its parameters: flat [W1, b1, ...] vectors, W[l] also as
#: wpad[l - 1, :n, :K] (a padded copy, so that device code gets an (n, K)
#: matrix without a reshape) and dW[l] as gpad[l - 1, :n, :K]
FusedNet = namedtuple(
    "FusedNet", "params grads wpad gpad sizes w_off b_off act_codes cost_code fused l2"
)
#: the epoch's data and workspace: batches [first, stop) of ``order``
FusedBatches = namedtuple(
    "FusedBatches", "X Y order batch_size first stop ws3 losses batch_costs status"
)
#: the optimizer: its kind, hyperparameters, step count t0 before ``first``
#: and state
FusedOptimizer = namedtuple(
    "FusedOptimizer",
    "kind t0 learning_rate momentum beta1 beta2 epsilon velocity second_moment step",
)


def fused_epoch_fits(sizes, batch_size):
    """Whether a network of ``sizes`` trained with ``batch_size`` takes the
    fused path (:data:`FUSED_MAX_FLOPS`)."""
    n_params = sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1))
    return 6.0 * n_params * batch_size <= FUSED_MAX_FLOPS


def fused_side():
    """The tile side T of the fused block (``FUSED_THREADS`` = T x T), checked."""
    threads = int(FUSED_THREADS)
    T = 1
    while T * T < threads:
        T *= 2
    if T * T != threads or T > MAX_GEMM_THREADS:
        raise ValueError(
            f"FUSED_THREADS: expected T x T with T a power of two up to "
            f"{MAX_GEMM_THREADS} (1, 4, 16, 64 or 256), got {threads}"
        )
    return T


@device
def _slot(ws3, slot, n, mb):
    """The (n, mb) matrix of a workspace slot: ws3[slot] is (capacity, nmax)
    C-ordered, so the transposed slice has each example's column contiguous
    (j fastest), the F-ordered layout of the other kernels. Slicing and .T
    make views in device code; reshape cannot (it calls a CPU runtime helper)."""
    return ws3[slot, :mb, :n].T


@device
def _copy_weights(src, src_off, dst_pad, sizes, to_pad, tid, nthreads):
    """W[l] between the flat vector (at src_off[l]) and the padded copy,
    either way (``to_pad``); q runs along k, contiguous on both sides."""
    for l in range(sizes.shape[0] - 1):
        n = sizes[l + 1]
        K = sizes[l]
        o = src_off[l]
        for q in range(tid, n * K, nthreads):
            if to_pad:
                dst_pad[l, q // K, q % K] = src[o + q]
            else:
                src[o + q] = dst_pad[l, q // K, q % K]


@device
def _tiles(count, T):
    return (count + REG * T - 1) // (REG * T)


@kernel
def train_epoch_fused_cuda(net, data, opt):
    """Batches [first, stop) of one epoch in ONE launch of ONE block of
    T x T threads (``net``, ``data``, ``opt``: :class:`FusedNet`,
    :class:`FusedBatches`, :class:`FusedOptimizer`).

    Each phase is the same equation as its per-equation kernel, with
    ``syncthreads`` between phases: gather; P1 (1) by the tiles of
    :func:`~fnn_numba.gpu.tiles.gemm_tile` (x = j, y = i), each tile by the
    whole block in turn; P1 (2) (``activation_column``, t -> i); L_i
    (``loss_of_example``); J = mean + L2 by the fixed tree; the seed
    (``loss_slope``) and P1 (17) (``dz_column``), or the fused delta
    (``fused_delta_column``); P1 (13) + (14) by the tiles (x = k, y = j, db
    from the staged dz); P1 (21) by the tiles (x = k, y = i); the optimizer
    (``step_element``, the finiteness check, ``commit_element``; t -> q).
    A non-finite J or update stops the kernel with status[0] = the batch,
    before anything of that batch is written, as the CPU driver does.

    Storage: the workspace ``ws3`` has one slot per (role, layer), slot =
    role (L + 1) + l for the roles A, Z, DA, DZ (0..3) and slot 4 (L + 1) for
    the batch's targets (see :func:`_slot`). The tiles read W from the padded
    copy ``wpad``, refreshed from ``params`` after every update, and write dW
    to ``gpad``, copied into the flat gradient before the optimizer reads it.
    """
    params, grads, wpad, gpad = net.params, net.grads, net.wpad, net.gpad
    sizes, w_off, b_off, act_codes = net.sizes, net.w_off, net.b_off, net.act_codes
    X, Y, order, ws3, losses = data.X, data.Y, data.order, data.ws3, data.losses
    tid = cuda.threadIdx.x
    NT = cuda.blockDim.x
    T = 1
    while T * T < NT:
        T *= 2
    tx = tid % T
    ty = tid // T
    buf = cuda.shared.array(MAX_THREADS, dtype=np.float64)
    xt = cuda.shared.array(TILE_SHAPE, params.dtype, SMEM_ALIGN)
    yt = cuda.shared.array(TILE_SHAPE, params.dtype, SMEM_ALIGN)
    L = sizes.shape[0] - 1
    L1 = L + 1
    m = X.shape[1]
    P = params.shape[0]
    n0 = sizes[0]
    nL = sizes[L]
    dt = params.dtype.type
    one = dt(1)
    l2 = net.l2
    l2v = dt(l2)
    out_code = act_codes[L - 1]
    _copy_weights(params, w_off, wpad, sizes, True, tid, NT)
    cuda.syncthreads()
    for bi in range(data.first, data.stop):
        start = bi * data.batch_size
        mb = min(data.batch_size, m - start)
        x = _slot(ws3, 0, n0, mb)
        y = _slot(ws3, 4 * L1, nL, mb)
        for t in range(tid, n0 * mb, NT):
            x[t % n0, t // n0] = X[t % n0, order[start + t // n0]]
        for t in range(tid, nL * mb, NT):
            y[t % nL, t // nL] = Y[t % nL, order[start + t // nL]]
        cuda.syncthreads()
        # forward: P1 (1) then P1 (2), layer by layer
        for l in range(1, L + 1):
            n = sizes[l]
            K = sizes[l - 1]
            w = wpad[l - 1, :n, :K]
            b = params[b_off[l - 1] : b_off[l - 1] + n]
            a_prev = _slot(ws3, l - 1, K, mb)
            z = _slot(ws3, L1 + l, n, mb)
            a = _slot(ws3, l, n, mb)
            nj = _tiles(n, T)
            for tile in range(nj * _tiles(mb, T)):
                jb = tile % nj
                ib = tile // nj
                acc, _ = gemm_tile(
                    w, True, a_prev.T, True, n, mb, K, jb, ib, tx, ty, T, xt, yt, False
                )
                store_z_tile(z, b, acc, REG * (jb * T + tx), REG * (ib * T + ty), n, mb)
            cuda.syncthreads()
            for i in range(tid, mb, NT):
                activation_column(act_codes[l - 1], z, a, i)
            cuda.syncthreads()
        # the cost: L_i per example, then J = (1/m) sum_i L_i + L2 by the fixed tree
        zL = _slot(ws3, L1 + L, nL, mb)
        aL = _slot(ws3, L, nL, mb)
        for i in range(tid, mb, NT):
            loss_of_example(net.cost_code, out_code, net.fused, zL, aL, y, losses, i)
        cuda.syncthreads()
        acc0 = 0.0
        for i in range(tid, mb, NT):
            acc0 += losses[i]
        block_sum(buf, acc0)
        J = buf[0] / mb
        cuda.syncthreads()
        if l2 > 0:
            acc0 = 0.0
            for l in range(L):
                for q in range(w_off[l] + tid, w_off[l] + sizes[l + 1] * sizes[l], NT):
                    acc0 += params[q] * params[q]
            block_sum(buf, acc0)
            J += 0.5 * l2 * buf[0]
            cuda.syncthreads()
        if not math.isfinite(J):
            if tid == 0:
                data.status[0] = bi
            return
        if tid == 0:
            data.batch_costs[bi] = J
        # backward: the fused delta, or the seed and P1 (17) at the output
        dzL = _slot(ws3, 3 * L1 + L, nL, mb)
        if net.fused:
            for i in range(tid, mb, NT):
                fused_delta_column(out_code, aL, y, dzL, i)
        else:
            daL = _slot(ws3, 2 * L1 + L, nL, mb)
            inv_m = dt(1.0 / mb)
            for t in range(tid, nL * mb, NT):
                j = t % nL
                i = t // nL
                daL[j, i] = loss_slope(net.cost_code, aL[j, i], y[j, i]) * inv_m
            cuda.syncthreads()
            for i in range(tid, mb, NT):
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
                for i in range(tid, mb, NT):
                    dz_column(act_codes[l - 1], z, a, da, dz, i)
                cuda.syncthreads()
            w = wpad[l - 1, :n, :K]
            dw = gpad[l - 1, :n, :K]
            db = grads[b_off[l - 1] : b_off[l - 1] + n]
            a_prev = _slot(ws3, l - 1, K, mb)
            # P1 (13) + L2 and P1 (14)
            nk = _tiles(K, T)
            for tile in range(nk * _tiles(n, T)):
                kb = tile % nk
                jb = tile // nk
                with_db = kb == 0 and tx == 0
                acc, ysum = gemm_tile(
                    a_prev, False, dz, False, K, n, mb, kb, jb, tx, ty, T, xt, yt, with_db
                )
                j0 = REG * (jb * T + ty)
                store_dw_tile(dw, w, l2v, acc, REG * (kb * T + tx), j0, n, K)
                if with_db:
                    store_db(db, ysum, j0, n)
            if l > 1:
                # P1 (21)
                da_prev = _slot(ws3, 2 * L1 + l - 1, K, mb)
                for tile in range(nk * _tiles(mb, T)):
                    kb = tile % nk
                    ib = tile // nk
                    acc, _ = gemm_tile(
                        w.T, False, dz.T, True, K, mb, n, kb, ib, tx, ty, T, xt, yt, False
                    )
                    store_da_tile(da_prev, acc, REG * (kb * T + tx), REG * (ib * T + ty), K, mb)
            cuda.syncthreads()
        _copy_weights(grads, w_off, gpad, sizes, False, tid, NT)
        # the optimizer reads every gradient, copied by other threads
        cuda.syncthreads()
        # the optimizer: step, finiteness check, commit
        t = opt.t0 + (bi - data.first) + 1
        c1 = c2 = one
        if opt.kind == ADAM:
            c1 = dt(1.0 - opt.beta1**t)
            c2 = dt(1.0 - opt.beta2**t)
        alpha, mu = dt(opt.learning_rate), dt(opt.momentum)
        b1, b2, eps = dt(opt.beta1), dt(opt.beta2), dt(opt.epsilon)
        bad = 0
        for q in range(tid, P, NT):
            sq = step_element(
                opt.kind,
                grads[q],
                opt.velocity[q],
                opt.second_moment[q],
                alpha,
                mu,
                b1,
                b2,
                one,
                eps,
                c1,
                c2,
            )
            opt.step[q] = sq
            if not math.isfinite(params[q] + sq):
                bad = 1
        # the barrier ORs every thread's verdict: no shared flag that many
        # threads would write at once
        if cuda.syncthreads_or(bad):
            if tid == 0:
                data.status[0] = bi
            return
        for q in range(tid, P, NT):
            commit_element(
                opt.kind,
                q,
                params,
                grads,
                opt.velocity,
                opt.second_moment,
                alpha,
                mu,
                b1,
                b2,
                one,
                opt.step,
            )
        cuda.syncthreads()
        _copy_weights(params, w_off, wpad, sizes, True, tid, NT)
        cuda.syncthreads()


def fused_workspace(sizes, w_off, b_off, act_codes, batch_size, dtype):
    """The device arrays the fused kernel needs beyond the network's and the
    fit's: the workspace slots, the losses, the geometry and the padded
    W / dW copies."""
    L1 = len(sizes)
    L = L1 - 1
    n_out = max(sizes[1:])
    n_in = max(sizes[:-1])
    return dict(
        ws3=cuda.device_array((4 * L1 + 1, batch_size, max(sizes)), dtype=dtype),
        losses=cuda.device_array(batch_size, dtype=dtype),
        sizes=cuda.to_device(np.asarray(sizes, dtype=np.int64)),
        w_off=cuda.to_device(np.asarray(w_off, dtype=np.int64)),
        b_off=cuda.to_device(np.asarray(b_off, dtype=np.int64)),
        act_codes=cuda.to_device(np.asarray(act_codes, dtype=np.int64)),
        wpad=cuda.device_array((L, n_out, n_in), dtype=dtype),
        gpad=cuda.device_array((L, n_out, n_in), dtype=dtype),
    )


def launch_train_epoch_fused(dev, fit, first, stop, upd, t0, l2, stream=0):
    """Launch :func:`train_epoch_fused_cuda` for a fit prepared by
    :meth:`fnn_numba.gpu.backend.DeviceNetwork.begin_fit`: one block of
    ``FUSED_THREADS``; the optimizer's hyperparameters from ``upd`` (an
    :class:`~fnn_numba.engine.Update`), its step count ``t0``."""
    T = fused_side()
    fz = fit.get("fused")
    if fz is None:
        fz = fit["fused"] = fused_workspace(
            dev.sizes, dev.w_off, dev.b_off, dev.act_codes, fit["batch_size"], dev.dtype
        )
    net = FusedNet(
        dev.params,
        dev.grads,
        fz["wpad"],
        fz["gpad"],
        fz["sizes"],
        fz["w_off"],
        fz["b_off"],
        fz["act_codes"],
        dev.cost_code,
        dev.fused,
        float(l2),
    )
    data = FusedBatches(
        fit["X"],
        fit["Y"],
        fit["order"],
        fit["batch_size"],
        first,
        stop,
        fz["ws3"],
        fz["losses"],
        fit["batch_costs"],
        fit["status"],
    )
    opt = FusedOptimizer(
        upd.kind,
        t0,
        float(upd.learning_rate),
        float(upd.momentum),
        float(upd.beta1),
        float(upd.beta2),
        float(upd.epsilon),
        fit["velocity"],
        fit["second"],
        fit["step"],
    )
    configured(train_epoch_fused_cuda, 1, T * T, stream)(net, data, opt)


_cache.invalidate_stale_cuda_cache(_cache.cuda_cache_dirs(KERNELS))
