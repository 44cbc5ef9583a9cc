"""Scenarios of data-parallel training, run under ``mpiexec -n P`` by
tests/test_distributed.py:

    mpiexec -n P python tests/mpi_scripts/scenarios.py OUT_DIR SCENARIO [SCENARIO ...]

Every rank writes OUT_DIR/rank<r>.json: per scenario, what happened on that
rank (the error it raised, digests of its weights, ...); rank 0 adds the
comparisons against the single-process reference. The pytest side asserts.
A scenario that expects an error catches it on every rank and the job goes
on to the next one, which shows that every rank stopped cleanly (a rank left
behind in a collective would hang the job, and the test's timeout reports it).
"""

import hashlib
import json
import os
import sys
import traceback

import numpy as np
from mpi4py import MPI

import fnn_numba as fnn
from fnn_numba import distributed

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
OUT = sys.argv[1]
results = {}


def digest(net):
    return hashlib.sha256(net.get_parameters().tobytes()).hexdigest()


def data(m, n0=5, nL=3, seed=0, cost="cce"):
    """The global data set, identical on every rank (each rank then takes its shard)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n0, m))
    if cost == "cce":
        return X, rng.integers(0, nL, m)
    return X, rng.standard_normal((nL, m))


CONFIGS = {
    # softmax + CCE with L2 (each rank's gradient holds lambda W: must count once)
    "cce_l2_sgd": dict(
        net=dict(sizes=[5, 6, 4, 3], activations=["tanh", "relu", "softmax"], cost="cce", l2=0.01),
        fit=dict(learning_rate=0.2, optimizer="sgd"),
    ),
    # squared error with momentum and clipping of the global gradient norm
    "mse_momentum_clip": dict(
        net=dict(sizes=[5, 7, 3], activations=["sigmoid", "identity"], cost="mse", l2=0.0),
        fit=dict(learning_rate=0.05, optimizer="momentum", clip_norm=0.5),
    ),
}


def make_net(cfg, seed=3):
    return fnn.Network(
        cfg["net"]["sizes"],
        cfg["net"]["activations"],
        cfg["net"]["cost"],
        seed=seed,
        l2=cfg["net"]["l2"],
    )


def shard_offsets(shard_sizes):
    return np.concatenate([[0], np.cumsum(shard_sizes)[:-1]]).astype(int)


def hand_built_batches(shard_sizes, b, seed, epoch):
    """The documented global order, written out independently of the library:
    rank r's order is default_rng([seed, epoch, r]).permutation(m_r); step s
    takes positions [s b, (s+1) b) of each rank's order, ranks in order."""
    offsets = shard_offsets(shard_sizes)
    orders = [
        np.random.default_rng([seed, epoch, r]).permutation(m) for r, m in enumerate(shard_sizes)
    ]
    steps = -(-max(shard_sizes) // b)
    return [
        np.concatenate(
            [offsets[r] + orders[r][s * b : (s + 1) * b] for r in range(len(shard_sizes))]
        )
        for s in range(steps)
    ]


def equivalence(name, m_global, b, epochs, seed=11):
    """P ranks with local batch b against one process fed the same global
    batches: per global batch (partial_fit on exactly those columns, one
    step), and, when every global batch but the last has P b examples, one
    partial_fit per epoch with batch P b over the concatenated order."""
    for cfg_name, cfg in CONFIGS.items():
        X, Y = data(m_global, nL=cfg["net"]["sizes"][-1], cost=cfg["net"]["cost"])
        net = make_net(cfg)
        initial = net.get_parameters()
        hist = distributed.fit_distributed(
            net,
            distributed.shard_array(X, comm),
            distributed.shard_array(Y, comm),
            comm,
            epochs=epochs,
            batch_size=b,
            seed=seed,
            **cfg["fit"],
        )
        digests = comm.allgather(digest(net))
        shard_sizes = [len(distributed.shard_indices(m_global, r, size)) for r in range(size)]
        out = dict(
            replicas_identical=len(set(digests)) == 1, shard_sizes=shard_sizes, cost=hist.cost
        )
        if rank == 0:
            # the same seed gives the same initial weights as rank 0's, which fit_distributed broadcast
            per_batch = make_net(cfg)
            assert np.array_equal(per_batch.get_parameters(), initial)
            ref_cost = []
            order_ok = True
            for e in range(epochs):
                batches = hand_built_batches(shard_sizes, b, seed, e)
                lib = distributed.global_batches(shard_sizes, b, seed, e)
                order_ok &= len(lib) == len(batches) and all(
                    np.array_equal(u, v) for u, v in zip(lib, batches)
                )
                total = 0.0
                for cols in batches:
                    h = per_batch.partial_fit(
                        X[:, cols], Y[..., cols], batch_size=len(cols), shuffle=False, **cfg["fit"]
                    )
                    total += h.cost[0] * len(cols)
                ref_cost.append(total / m_global)
            out["order_matches_documentation"] = bool(order_ok)
            out["max_weight_diff_per_batch"] = float(
                np.max(np.abs(per_batch.get_parameters() - net.get_parameters()))
            )
            out["max_cost_diff"] = float(np.max(np.abs(np.array(ref_cost) - np.array(hist.cost))))
            out["weight_scale"] = float(np.max(np.abs(net.get_parameters())))
            out["moved"] = float(np.max(np.abs(net.get_parameters() - initial)))
            if len(set(shard_sizes)) == 1:
                whole = make_net(cfg)
                for e in range(epochs):
                    order = np.concatenate(hand_built_batches(shard_sizes, b, seed, e))
                    whole.partial_fit(
                        X[:, order], Y[..., order], batch_size=size * b, shuffle=False, **cfg["fit"]
                    )
                out["max_weight_diff_batch_Pb"] = float(
                    np.max(np.abs(whole.get_parameters() - net.get_parameters()))
                )
        results[f"{name}:{cfg_name}"] = out


def scenario_equivalence():
    # shards of equal size (10 per rank); b = 4 leaves a partial last step
    equivalence("equal", 10 * size, 4, 3)
    # unequal shards (one rank holds one more), so global batch sizes vary
    equivalence("unequal", 10 * size + 1, 3, 2)


def scenario_single_rank_matches_fit():
    """P = 1, no shuffling: bit-for-bit what Network.fit computes."""
    X, y = data(37)
    a, b = fnn.Network([5, 8, 3], seed=5, l2=0.001), fnn.Network([5, 8, 3], seed=5, l2=0.001)
    ha = distributed.fit_distributed(
        a, X, y, comm, epochs=3, batch_size=8, learning_rate=0.3, shuffle=False, optimizer="adam"
    )
    hb = b.fit(X, y, epochs=3, batch_size=8, learning_rate=0.3, shuffle=False, optimizer="adam")
    results["single_rank_matches_fit"] = dict(
        identical=bool(np.array_equal(a.get_parameters(), b.get_parameters())),
        cost_diff=float(np.max(np.abs(np.array(ha.cost) - np.array(hb.cost)))),
    )
    # fit's other options, through the same training loop
    Xv, yv = data(11, seed=1)
    opts = dict(
        epochs=6,
        batch_size=8,
        learning_rate=0.3,
        shuffle=False,
        optimizer="momentum",
        lr_schedule="exponential",
        gamma=0.7,
        clip_value=0.05,
        early_stopping=True,
        patience=1,
        min_delta=10.0,
        validation_data=(Xv, yv),
    )
    a, b = fnn.Network([5, 8, 3], seed=5), fnn.Network([5, 8, 3], seed=5)
    ha = distributed.fit_distributed(a, X, y, comm, **opts)
    hb = b.fit(X, y, **opts)
    results["single_rank_matches_fit_options"] = dict(
        identical=bool(np.array_equal(a.get_parameters(), b.get_parameters())),
        histories=[ha.cost, hb.cost, ha.val_cost, hb.val_cost, ha.learning_rate, hb.learning_rate],
        stopped=[ha.stopped_epoch, hb.stopped_epoch],
    )


def expect_error(name, thunk):
    """Run ``thunk`` on every rank; record the exception type and message."""
    try:
        thunk()
        results[name] = dict(error=None)
    except Exception as exc:
        results[name] = dict(
            error=type(exc).__name__,
            message=str(exc),
            rank_attr=getattr(exc, "rank", None),
            epoch=getattr(exc, "epoch", None),
            step=getattr(exc, "step", None),
            batch=getattr(exc, "batch", None),
        )
    comm.Barrier()


def scenario_faults():
    X, y = data(12 * size)
    Xs, ys = distributed.shard_array(X, comm), distributed.shard_array(y, comm)
    last = size - 1

    def fit(net=None, Xr=None, yr=None, **kw):
        args = dict(epochs=2, batch_size=4, learning_rate=0.1, seed=1)
        args.update(kw)
        net = net if net is not None else fnn.Network([5, 6, 3], seed=2)
        return distributed.fit_distributed(
            net, Xs if Xr is None else Xr, ys if yr is None else yr, comm, **args
        )

    expect_error(
        "comm_not_a_communicator",
        lambda: distributed.fit_distributed(
            fnn.Network([5, 6, 3], seed=2), Xs, ys, comm="COMM_WORLD"
        ),
    )
    expect_error(
        "features_differ",
        lambda: fit(
            net=fnn.Network([6 if rank == last else 5, 6, 3], seed=2),
            Xr=np.vstack([Xs, Xs[:1]]) if rank == last else Xs,
        ),
    )
    expect_error("x_dtype_differs", lambda: fit(Xr=Xs.astype(np.float32) if rank == last else Xs))
    expect_error(
        "zero_examples",
        lambda: fit(Xr=Xs[:, :0] if rank == last else Xs, yr=ys[:0] if rank == last else ys),
    )
    expect_error(
        "architecture_differs",
        lambda: fit(net=fnn.Network([5, 7 if rank == last else 6, 3], seed=2)),
    )
    expect_error(
        "activation_differs",
        lambda: fit(
            net=fnn.Network([5, 6, 3], ["tanh" if rank == last else "relu", "softmax"], seed=2)
        ),
    )
    expect_error("epochs_differ", lambda: fit(epochs=3 if rank == last else 2))
    expect_error(
        "nan_in_shard",
        lambda: fit(Xr=np.where(np.arange(Xs.shape[1]) == 1, np.nan, Xs) if rank == last else Xs),
    )

    # divergence on one rank only: its huge inputs overflow the squared error
    Yr = np.random.default_rng(4).standard_normal((3, Xs.shape[1]))
    huge = Xs * 1e155 if rank == last else Xs
    div_net = fnn.Network([5, 6, 3], ["identity", "identity"], "mse", seed=2)
    expect_error("divergence_on_one_rank", lambda: fit(net=div_net, Xr=huge, yr=Yr))
    results["divergence_on_one_rank"]["digest"] = digest(div_net)
    results["divergence_on_one_rank"]["finite"] = bool(
        np.all(np.isfinite(div_net.get_parameters()))
    )

    # a rank whose local step raises at its third step
    real = distributed._local_gradient
    calls = [0]

    def failing(*args):
        calls[0] += 1
        if rank == last and calls[0] == 3:
            raise OSError("shard file vanished")
        return real(*args)

    distributed._local_gradient = failing
    try:
        expect_error("rank_raises_mid_training", lambda: fit())
    finally:
        distributed._local_gradient = real

    # a replica that drifts by one ulp-sized nudge: verify_replicas must see it
    real_step = distributed.apply_update

    def drifting(params, *args):
        ok = real_step(params, *args)
        if rank == last:
            params[0] += 1e-12
        return ok

    distributed.apply_update = drifting
    try:
        expect_error("verify_replicas_detects_drift", lambda: fit(verify_replicas=True))
    finally:
        distributed.apply_update = real_step
    expect_error("verify_replicas_quiet_when_identical", lambda: fit(verify_replicas=True))

    # after all of that, the communicator still works and training agrees
    net = fnn.Network([5, 6, 3], seed=2)
    fit(net=net)
    results["after_faults"] = dict(replicas_identical=len(set(comm.allgather(digest(net)))) == 1)


def checkpoint_run(path, epochs, crash_in_epoch=None):
    """4 epochs of adam (its moments and step count must survive a restart)
    with a checkpoint after every epoch; optionally rank P-1 dies hard
    (os._exit) at the start of epoch ``crash_in_epoch`` (0-based)."""
    X, y = data(9 * size + 2)
    if crash_in_epoch is not None:
        real = distributed.local_order

        def crashing(seed, epoch, r, m, shuffle=True):
            if r == size - 1 and epoch == crash_in_epoch:
                os._exit(17)
            return real(seed, epoch, r, m, shuffle)

        distributed.local_order = crashing
    net = fnn.Network([5, 6, 3], seed=8, l2=0.001)
    hist = distributed.fit_distributed(
        net,
        distributed.shard_array(X, comm),
        distributed.shard_array(y, comm),
        comm,
        epochs=epochs,
        batch_size=3,
        learning_rate=0.05,
        optimizer="adam",
        seed=21,
        checkpoint_path=path,
        checkpoint_every=1,
    )
    return net, hist


def scenario_uninterrupted():
    net, hist = checkpoint_run(os.path.join(OUT, "uninterrupted.npz"), 4)
    if rank == 0:
        np.save(os.path.join(OUT, "uninterrupted_params.npy"), net.get_parameters())
    results["uninterrupted"] = dict(cost=hist.cost, digest=digest(net))


def scenario_crash():
    checkpoint_run(os.path.join(OUT, "..", "shared.npz"), 4, crash_in_epoch=2)


def scenario_resume():
    # which epochs this run trains itself: a resume that silently started over
    # would reach the same weights, so the weights alone cannot tell
    real, trained = distributed.local_order, []

    def recording(seed, epoch, r, m, shuffle=True):
        trained.append(int(epoch))
        return real(seed, epoch, r, m, shuffle)

    distributed.local_order = recording
    try:
        net, hist = checkpoint_run(os.path.join(OUT, "..", "shared.npz"), 4)
    finally:
        distributed.local_order = real
    if rank == 0:
        np.save(os.path.join(OUT, "resumed_params.npy"), net.get_parameters())
    results["resume"] = dict(
        cost=hist.cost, digest=digest(net), epochs_in_history=len(hist.cost), epochs_trained=trained
    )


def scenario_memmap():
    """Shards memory-mapped from .npy files, sample-major X (axis=0) and labels."""
    X, y = data(8 * size + 1)
    if rank == 0:
        np.save(os.path.join(OUT, "X_samples.npy"), np.ascontiguousarray(X.T))
        np.save(os.path.join(OUT, "y.npy"), y)
    comm.Barrier()
    Xs = distributed.load_npy_shard(os.path.join(OUT, "X_samples.npy"), comm, axis=0)
    ys = distributed.load_npy_shard(os.path.join(OUT, "y.npy"), comm)
    block = distributed.shard_indices(X.shape[1], rank, size)
    net = fnn.Network([5, 6, 3], seed=2)
    ref = fnn.Network([5, 6, 3], seed=2)
    distributed.fit_distributed(net, Xs, ys, comm, epochs=2, batch_size=4, seed=5)
    distributed.fit_distributed(
        ref,
        X[:, block.start : block.stop],
        y[block.start : block.stop],
        comm,
        epochs=2,
        batch_size=4,
        seed=5,
    )
    results["memmap"] = dict(
        is_memmap=isinstance(Xs, np.memmap) and isinstance(ys, np.memmap),
        shape=list(Xs.shape),
        f_ordered=bool(Xs.flags.f_contiguous),
        same_as_in_memory=digest(net) == digest(ref),
    )


def scenario_gpu_staging():
    """Replicas on (simulated) GPUs, staged through host buffers, against the
    same run on the CPU; rank 0 alone on the GPU when P > 1, so that mixed
    replicas are covered too. Needs NUMBA_ENABLE_CUDASIM=1 (set by the test)."""
    from fnn_numba import gpu_kernels

    # tiny blocks: the simulator runs every thread of a block as a Python thread
    gpu_kernels.THREADS_PER_BLOCK, gpu_kernels.GEMM_THREADS, gpu_kernels.FUSED_THREADS = 8, 2, 8
    # 2 steps an epoch: the simulator takes seconds per step
    X, y = data(6 * size)
    on_gpu = rank == 0 or size == 1
    out = {}
    for optimizer in ("adam",):
        cpu = fnn.Network([5, 6, 3], ["tanh", "softmax"], seed=4, l2=0.01)
        gpu = fnn.Network(
            [5, 6, 3], ["tanh", "softmax"], seed=4, l2=0.01, device="cuda" if on_gpu else "cpu"
        )
        args = dict(epochs=2, batch_size=3, learning_rate=0.2, seed=6, optimizer=optimizer)
        Xs, ys = distributed.shard_array(X, comm), distributed.shard_array(y, comm)
        hc = distributed.fit_distributed(cpu, Xs, ys, comm, **args)
        hg = distributed.fit_distributed(gpu, Xs, ys, comm, **args)
        a, b = cpu.get_parameters(), gpu.get_parameters()
        out[optimizer] = dict(
            device=gpu.device,
            rel_diff=float(np.max(np.abs(a - b)) / np.max(np.abs(a))),
            cost_diff=float(np.max(np.abs(np.array(hc.cost) - np.array(hg.cost)))),
            moved=float(
                np.max(
                    np.abs(a - fnn.Network([5, 6, 3], ["tanh", "softmax"], seed=4).get_parameters())
                )
            ),
            replicas_identical=len(set(comm.allgather(digest(gpu)))) == 1,
        )
    results["gpu_staging"] = out


SCENARIOS = {
    name[len("scenario_") :]: fn for name, fn in globals().items() if name.startswith("scenario_")
}

if __name__ == "__main__":
    try:
        for scenario in sys.argv[2:]:
            SCENARIOS[scenario]()
    except Exception:
        results["__crash__"] = traceback.format_exc()
        with open(os.path.join(OUT, f"rank{rank}.json"), "w") as fh:
            json.dump(results, fh, indent=1, default=str)
        raise
    with open(os.path.join(OUT, f"rank{rank}.json"), "w") as fh:
        json.dump(results, fh, indent=1, default=str)
