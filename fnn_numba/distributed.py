"""Data-parallel training across processes and machines with MPI (mpi4py).

Every process (rank) holds a replica of the network and a shard of the
examples. One training step is one *global* mini-batch, the union of the
ranks' local mini-batches: each rank runs the forward and backward passes of
:mod:`fnn_numba.engine` on its local batch, the gradients are summed across
ranks with one in-place ``Allreduce`` over the flat gradient vector, and every
rank applies the same update to its replica, so the replicas stay identical
(as PyTorch's DistributedDataParallel and Horovod do).

The 1/m of J = (1/m) sum_i L_i. Rank r's backward pass gives the gradient of
its local mean cost J_r = (1/m_r) sum_{i in r} L_i (plus the L2 term). The
global-batch mean cost is J = (1/M) sum_i L_i with M = sum_r m_r, so
J = sum_r (m_r / M) J_r and dJ/dW = sum_r (m_r / M) dJ_r/dW: each rank scales
its gradient and its cost by m_r / M before the sum. The weights add up to 1,
so the L2 term lambda W that every rank's gradient holds (and the penalty in
every J_r) is counted exactly once. M is known on every rank without
communication, because the shard sizes are exchanged once at the start.

Global example order (what makes a run reproducible, and what the single-
process equivalent is). Rank r holds m_r examples, its local columns
0..m_r-1. In epoch e (0-based, counted from the start of training, resumed
epochs included):

- rank r's local order is ``np.random.default_rng([seed, e, r]).permutation(m_r)``
  (``np.arange(m_r)`` when ``shuffle=False``);
- there are S = ceil(max_r m_r / b) steps, b the local batch size; at step s,
  rank r's local batch is its local order's positions [s b, min((s+1) b, m_r)),
  empty once its shard is used up;
- the global batch of step s is the concatenation of the local batches in
  rank order r = 0, 1, ..., P-1.

With equal shards split by :func:`shard_indices` (rank r holds global
examples start_r .. start_r + m - 1), P ranks with local batch b therefore
train exactly like one process with batch P b over the order
concat_s concat_r (start_r + order_r[s b:(s+1) b]), to float64 round-off
(``tests/test_distributed.py`` checks it for P = 1, 2, 3).

Faults. Bad input is checked on every rank before anything is trained, and
the findings of all ranks are exchanged, so every rank raises the same
ValueError/TypeError. During training, each step's Allreduce carries, beside
the gradient, the weighted cost and a failure flag: a rank whose local step
raises still joins the Allreduce with the flag set, and then every rank raises
:class:`RankFailedError`; a non-finite cost or update is seen identically by
every rank (they all hold the same sums) and every rank raises
:class:`~fnn_numba.network.TrainingDivergedError`. A process that dies outright
(killed, out of memory) cannot report; launch scripts with
``python -m mpi4py script.py`` so that an uncaught exception aborts the whole
job instead of leaving the other ranks waiting.
"""

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field, replace

import numpy as np
from numba import njit

from . import _validation as V
from ._threading import kernel_section
from .engine import apply_update, batch_gradient, gather_columns, view_f
from .network import History, Network
from .optimizers import make_optimizer
from .training import BatchRunner, make_schedule, run_epochs

CHECKPOINT_FORMAT = "fnn_numba.DistributedCheckpoint"
CHECKPOINT_VERSION = 1
#: the per-epoch lists of the history that a checkpoint carries
_HISTORY_LISTS = (
    "cost",
    "val_cost",
    "val_accuracy",
    "learning_rate",
    "epoch_seconds",
    "allreduce_seconds",
)

__all__ = [
    "DistributedHistory",
    "RankFailedError",
    "fit_distributed",
    "global_batches",
    "load_npy_shard",
    "local_order",
    "shard_array",
    "shard_indices",
]


class RankFailedError(RuntimeError):
    """A rank failed during a training step (or, unexpectedly, while checking
    its input); raised on every rank so that no rank waits forever in the
    next collective. ``rank`` is the first failing rank, ``epoch`` and
    ``step`` (1-based; 0 before training) where it failed."""

    def __init__(self, message, rank, epoch, step):
        super().__init__(message)
        self.rank = rank
        self.epoch = epoch
        self.step = step


@dataclass
class DistributedHistory(History):
    """:class:`~fnn_numba.network.History` plus the figures of the distributed
    run: ``allreduce_seconds[e]`` is the time epoch e spent in the gradient
    Allreduce on this rank (waiting for slower ranks included);
    ``examples`` the global number of training examples; ``world_size`` P."""

    allreduce_seconds: list = field(default_factory=list)
    examples: int = 0
    world_size: int = 1


# ----------------------------------------------------------------- sharding
def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def shard_indices(n, rank, size):
    """The examples rank ``rank`` of ``size`` holds when n examples are split
    into contiguous, balanced blocks: a ``range``. The first n % size ranks
    hold one example more than the others; every example belongs to exactly
    one rank, in rank order."""
    n = _check_int("n", n, 0)
    size = _check_int("size", size, 1)
    rank = _check_int("rank", rank, 0)
    if rank >= size:
        raise ValueError(f"rank: expected a rank in [0, {size}), got {rank}")
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


def _rank_size(comm):
    if comm is None:
        comm = _world()
    return comm, comm.Get_rank(), comm.Get_size()


def shard_array(array, comm=None, axis=-1):
    """This rank's block of ``array`` along the example ``axis`` (default the
    last: columns of an (n, m) matrix, entries of a label vector), as given by
    :func:`shard_indices`. A view: nothing is copied, so a memory-mapped array
    stays on disk."""
    comm, rank, size = _rank_size(comm)
    if not hasattr(array, "ndim") or not hasattr(array, "shape"):
        array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError("array: expected an array with an example axis, got a 0-d array")
    axis = _check_int("axis", axis, -array.ndim)
    if axis >= array.ndim:
        raise ValueError(f"axis: expected an axis of a {array.ndim}-d array, got {axis}")
    axis %= array.ndim
    block = shard_indices(array.shape[axis], rank, size)
    index = [slice(None)] * array.ndim
    index[axis] = slice(block.start, block.stop)
    return array[tuple(index)]


def load_npy_shard(path, comm=None, axis=None):
    """This rank's shard of the array stored in the .npy file ``path``,
    memory-mapped (``np.load(mmap_mode="r")``): only the pages of the shard
    are ever read, so no rank loads the whole data set.

    ``axis`` is the example axis *of the stored array*: for a 2-D array, 1
    (the default: the file holds X of shape (n0, M), columns are examples) or
    0 (the file holds scikit-learn's (M, n0) layout); for a 1-D array of
    labels, 0. The result always has the examples along its last axis, so a
    2-D shard is (n0, m_rank), ready for :func:`fit_distributed`; a 2-D file
    stored sample-major, sharded with axis=0, comes back as the F-ordered
    transpose of its block, which the training reads without a copy.
    """
    comm, rank, size = _rank_size(comm)
    try:
        data = np.load(os.fspath(path), mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(f"path: {path!s} is not a readable .npy file ({exc})") from exc
    if data.ndim not in (1, 2):
        raise ValueError(
            f"path: expected a 1-d (labels) or 2-d (examples) array in {path!s}, "
            f"got shape {data.shape}"
        )
    if axis is None:
        axis = 1 if data.ndim == 2 else 0
    axis = _check_int("axis", axis, 0)
    if axis >= data.ndim:
        raise ValueError(
            f"axis: expected 0{' or 1' if data.ndim == 2 else ''} for the "
            f"{data.ndim}-d array in {path!s}, got {axis}"
        )
    shard = shard_array(data, comm, axis)
    return shard.T if (data.ndim == 2 and axis == 0) else shard


# ------------------------------------------------------------- global order
def local_order(seed, epoch, rank, m, shuffle=True):
    """Rank ``rank``'s order of its m local examples in epoch ``epoch``:
    ``np.random.default_rng([seed, epoch, rank]).permutation(m)``, or
    ``np.arange(m)`` without shuffling (int64)."""
    if not shuffle:
        return np.arange(m, dtype=np.int64)
    return np.random.default_rng([int(seed), int(epoch), int(rank)]).permutation(m).astype(np.int64)


def _steps_per_epoch(shard_sizes, batch_size):
    return -(-max(shard_sizes) // batch_size)


def _local_range(step, batch_size, m):
    start = min(step * batch_size, m)
    return start, min(start + batch_size, m)


def global_batches(shard_sizes, batch_size, seed, epoch, shuffle=True, offsets=None):
    """The global mini-batches of epoch ``epoch`` as lists of global example
    indices, with rank r's local column i at global index offsets[r] + i
    (default: contiguous shards in rank order, as :func:`shard_indices`).
    One process training on these batches in this order is what P ranks
    compute (see the module's docstring)."""
    shard_sizes = [int(m) for m in shard_sizes]
    if offsets is None:
        offsets = np.concatenate([[0], np.cumsum(shard_sizes)[:-1]]).astype(np.int64)
    orders = [local_order(seed, epoch, r, m, shuffle) for r, m in enumerate(shard_sizes)]
    batches = []
    for s in range(_steps_per_epoch(shard_sizes, batch_size)):
        parts = []
        for r, m in enumerate(shard_sizes):
            start, stop = _local_range(s, batch_size, m)
            parts.append(offsets[r] + orders[r][start:stop])
        batches.append(np.concatenate(parts))
    return batches


# ----------------------------------------------------------- jitted drivers
@njit(cache=True)
def _local_gradient(model, buf, X, Y, order, start, stop, weight, out, spatial):
    """This rank's share of one global step, written into ``out`` =
    [gradient (n_params), weighted cost, failure flag]: the engine's forward
    pass, J and backward pass on local columns order[start:stop], then
    gradient and J scaled by ``weight`` = m_r / M (see the module docstring).
    An empty local batch contributes zeros. A non-finite J skips the backward
    pass and puts NaN in the cost slot, which the sum carries to every rank.
    ``spatial``: :func:`fnn_numba.engine.spatial_argument` of the network."""
    n_params = model.params.shape[0]
    grads = out[:n_params]
    mb = stop - start
    out[n_params + 1] = 0
    if mb == 0:
        grads[:] = 0
        out[n_params] = 0
        return
    J = batch_gradient(model, X, Y, order, start, stop, buf, spatial)
    if not np.isfinite(J):
        grads[:] = 0
        out[n_params] = np.nan
        return
    w = grads.dtype.type(weight)
    for q in range(n_params):
        grads[q] = buf.grads[q] * w
    out[n_params] = J * weight


# ------------------------------------------------------------------ helpers
def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "fnn_numba.distributed needs mpi4py and an MPI library: "
            "pip install 'fnn-numba[mpi]' (mpi4py and the mpich wheel)"
        ) from exc
    return MPI


def _world():
    return _mpi().COMM_WORLD


def architecture_digest(net):
    """SHA-256 of what every replica must share: sizes, activations, cost,
    dtype and the L2 coefficient."""
    spec = dict(
        sizes=net.sizes,
        activations=net.activations,
        cost=net.cost_name,
        dtype=np.dtype(net.dtype).name,
        l2=net.l2,
    )
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _params_digest(params):
    return hashlib.blake2b(np.ascontiguousarray(params).view(np.uint8), digest_size=16).hexdigest()


def _raise_collective(reports, what):
    """Raise on every rank the first local error any rank reported."""
    for r, report in enumerate(reports):
        if report["error"] is not None:
            kind, message = report["error"]
            if kind in ("TypeError", "ValueError"):
                raise (TypeError if kind == "TypeError" else ValueError)(
                    f"{what}: rank {r} of {len(reports)}: {message}"
                )
            raise RankFailedError(
                f"{what}: rank {r} of {len(reports)} failed while checking its "
                f"input: {kind}: {message}",
                r,
                0,
                0,
            )


def _first_difference(reports, key, describe):
    values = [rep[key] for rep in reports]
    if any(v != values[0] for v in values):
        listing = ", ".join(f"rank {r}: {describe(v)}" for r, v in enumerate(values))
        return listing
    return None


# ------------------------------------------------------------- checkpoints
def _write_checkpoint(path, meta, arrays):
    """Atomic: a temporary file in the same directory, flushed to disk, then
    renamed over ``path``, so a crash leaves the old checkpoint or the new
    one, never half of one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fnn-ckpt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh, metadata=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        # the rename itself is durable only once the directory is synced
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _read_checkpoint(path):
    try:
        with np.load(os.fspath(path), allow_pickle=False) as data:
            meta = json.loads(bytes(data["metadata"]).decode())
            arrays = {k: data[k] for k in ("params", "velocity", "second_moment")}
    except Exception as exc:
        raise ValueError(
            f"checkpoint_path: {path!s} is not a readable fnn_numba checkpoint ({exc})"
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint_path: {path!s} is not an fnn_numba distributed checkpoint")
    if meta.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint_path: {path!s} has checkpoint version {meta.get('version')!r}; "
            f"this fnn_numba reads version {CHECKPOINT_VERSION}"
        )
    return meta, arrays


# --------------------------------------------------------------------- fit
def fit_distributed(
    net,
    X_shard,
    Y_shard,
    comm=None,
    epochs=10,
    batch_size=32,
    learning_rate=0.1,
    *,
    optimizer="sgd",
    momentum=0.9,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    lr_schedule="constant",
    power_t=0.5,
    step_size=10,
    gamma=None,
    clip_norm=None,
    clip_value=None,
    shuffle=True,
    seed=None,
    validation_data=None,
    validation_fraction=0.0,
    early_stopping=False,
    patience=10,
    min_delta=1e-4,
    progress=False,
    callback=None,
    verbose=False,
    verify_replicas=False,
    checkpoint_path=None,
    checkpoint_every=None,
    resume=True,
):
    """Train ``net`` data-parallel: call it on every rank of ``comm`` with that
    rank's shard. The entry point for training across processes; every rank
    returns the same weights. It runs the same training loop as
    :meth:`Network.fit <fnn_numba.network.Network.fit>`
    (:func:`fnn_numba.training.run_epochs`), with a step that sums the ranks'
    gradients, so it takes the same options.

    Parameters
    ----------
    net : Network
        This rank's replica. All ranks' replicas must have the same
        architecture (layers, cost, dtype, l2); rank 0's weights are broadcast
        to the others before training.
    X_shard : array of shape (n0, m_rank)
        This rank's examples, columns are examples (:func:`shard_array`,
        :func:`load_npy_shard`). Every rank needs at least one.
    Y_shard : array of shape (nL, m_rank), or (m_rank,)
        This rank's targets; integer labels for categorical cross-entropy.
    comm : mpi4py communicator, default ``MPI.COMM_WORLD``
    epochs : int
        The total number of epochs; a resumed run trains only those missing.
    batch_size : int
        b, the *local* batch size: a global step uses up to P b examples.
    learning_rate, optimizer, momentum, beta1, beta2, epsilon, lr_schedule, power_t, step_size, gamma, clip_norm, clip_value
        As in :meth:`Network.fit <fnn_numba.network.Network.fit>`; the
        optimizer acts on the summed (global-batch) gradient and clip_norm
        clips its global norm. The schedule's epoch counts from the start of
        training, resumed epochs included.
    shuffle : bool
        Shuffle each rank's examples every epoch (see the module docstring
        for the exact order).
    seed : int, optional
        The shuffling seed, shared by all ranks; default rank 0's
        ``net.seed``, else a fresh one drawn by rank 0.
    validation_data : (X_val_shard, Y_val_shard), optional
        Per-rank validation shards; ``history.val_cost`` and ``val_accuracy``
        are over the union of the shards.
    validation_fraction : float
        Without validation_data, each rank holds out this fraction of its
        shard (drawn by its replica's generator) for validation.
    early_stopping, patience, min_delta, callback
        As in :meth:`Network.fit <fnn_numba.network.Network.fit>`, decided on
        the global figures, so every rank stops at the same epoch.
    progress, verbose : bool
        A progress bar, one line per epoch; rank 0 only.
    verify_replicas : bool
        Debug: after every step, compare a checksum of every rank's weights
        and raise RuntimeError on every rank if they differ (costs one small
        collective and a hash of the parameters per step).
    checkpoint_path : str or path, optional
        Rank 0 writes the weights, the optimizer's state, the epoch, the
        shuffling seed (with the epoch, the shuffle's whole state) and the
        history there, atomically, every ``checkpoint_every`` epochs and
        after the last. With ``resume`` (the default) and an existing file,
        training continues from it: the weights and the result are those of
        an uninterrupted run. Only rank 0 reads or writes the file, so it
        need not be on a shared file system.
    checkpoint_every : int, optional
        Epochs between checkpoints (default 1 when checkpoint_path is given).
    resume : bool
        Continue from an existing checkpoint at ``checkpoint_path``.

    Returns
    -------
    DistributedHistory
        The same on every rank; ``cost[e]`` is the mean over epoch e's global
        batches of the global-batch cost, weighted by batch size.

    Raises
    ------
    ValueError, TypeError
        Bad input on any rank (raised on every rank, naming the rank).
    TrainingDivergedError
        A non-finite cost or update (on every rank; the weights of the last
        finite step are kept).
    RankFailedError
        A rank's local step raised (on every rank).
    """
    MPI = _mpi()
    if comm is None:
        comm = MPI.COMM_WORLD
    if not isinstance(comm, MPI.Comm):
        raise TypeError(
            f"comm: expected an mpi4py communicator (such as MPI.COMM_WORLD), "
            f"got {type(comm).__name__}"
        )
    rank, size = comm.Get_rank(), comm.Get_size()
    fit_options = dict(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        optimizer=optimizer,
        momentum=momentum,
        beta1=beta1,
        beta2=beta2,
        epsilon=epsilon,
        lr_schedule=lr_schedule,
        power_t=power_t,
        step_size=step_size,
        gamma=gamma,
        clip_norm=clip_norm,
        clip_value=clip_value,
        shuffle=shuffle,
        validation_data=validation_data,
        validation_fraction=validation_fraction,
        early_stopping=early_stopping,
        patience=patience,
        min_delta=min_delta,
        callback=callback,
        progress=progress,
        verbose=verbose,
    )
    cfg, local = _validate_locally(
        net,
        X_shard,
        Y_shard,
        fit_options,
        seed,
        verify_replicas,
        checkpoint_path,
        checkpoint_every,
        resume,
    )
    reports = comm.allgather(local)
    _check_across_ranks(reports, size)
    plan = cfg["plan"]
    if rank != 0:
        plan = replace(plan, verbose=False, progress=False)
    shard_sizes = [rep["m"] for rep in reports]

    # the shuffling seed: rank 0's choice, so that no rank can disagree
    if rank == 0:
        chosen = cfg["seed"] if cfg["seed"] is not None else net.seed
        if chosen is None:
            chosen = int(np.random.SeedSequence().entropy)
    else:
        chosen = None
    seed = comm.bcast(chosen, root=0)

    opt = plan.optimizer
    opt.ensure_state(net._params, full=True)
    first_epoch = 0
    history = DistributedHistory(examples=int(sum(shard_sizes)), world_size=size)
    run_spec = dict(
        architecture=reports[0]["arch"],
        world_size=size,
        shard_sizes=shard_sizes,
        batch_size=plan.batch_size,
        shuffle=plan.shuffle,
        optimizer=opt.name,
    )

    resumed = _resume(comm, rank, cfg, run_spec, seed)
    with net._lock:
        if resumed is not None:
            meta, arrays = resumed
            seed = meta["seed"]
            first_epoch = meta["epoch"]
            opt.t[0] = meta["steps"]
            net._params[...] = arrays["params"]
            opt.velocity[...] = arrays["velocity"]
            opt.second[...] = arrays["second_moment"]
            for key, values in meta["history"].items():
                if hasattr(history, key):
                    getattr(history, key).extend(values)
        else:
            # DDP's rule: the replicas start from rank 0's weights
            comm.Bcast(net._params, root=0)
        net._optimizer = opt
        net.history = history
        runner = _DistributedRunner(
            net, comm, MPI, rank, plan, shard_sizes, seed, cfg["verify_replicas"], history
        )

        def epoch_done(done, stopping):
            net._epochs_trained += 1
            history.allreduce_seconds.append(runner.reduce_seconds)
            runner.reduce_seconds = 0.0
            if cfg["checkpoint_path"] is not None and (
                done % cfg["checkpoint_every"] == 0 or done == plan.epochs or stopping
            ):
                _checkpoint(comm, rank, cfg, net, opt, seed, done, history, run_spec)

        with kernel_section():
            return run_epochs(plan, runner, history, net.cost_name, epoch_done, first_epoch)


def _validate_locally(
    net,
    X_shard,
    Y_shard,
    fit_options,
    seed,
    verify_replicas,
    checkpoint_path,
    checkpoint_every,
    resume,
):
    """This rank's checks, caught rather than raised: a rank that raised
    alone would leave the others waiting in the exchange that follows. The
    options of ``fit`` are checked by the network's own plan."""
    local = dict(
        error=None,
        m=0,
        n_features=None,
        x_dtype=None,
        y_shape=None,
        y_dtype=None,
        arch=None,
        hyper=None,
    )
    cfg = {}
    try:
        if not isinstance(net, Network):
            raise TypeError(f"net: expected a fnn_numba.Network, got {type(net).__name__}")
        local["arch"] = architecture_digest(net)
        X_raw = X_shard if hasattr(X_shard, "dtype") else np.asarray(X_shard)
        Y_raw = Y_shard if hasattr(Y_shard, "dtype") else np.asarray(Y_shard)
        local["x_dtype"] = str(X_raw.dtype)
        local["y_dtype"] = str(Y_raw.dtype)
        if X_raw.ndim == 2:
            local["n_features"] = int(X_raw.shape[0])
            local["m"] = int(X_raw.shape[1])
            if X_raw.shape[1] == 0:
                raise ValueError(
                    f"this rank holds no examples (X_shard has shape {X_raw.shape}); "
                    f"every rank needs at least one: use fewer processes, or "
                    f"shard_indices to split the examples evenly"
                )
        local["y_shape"] = tuple(int(s) for s in Y_raw.shape[:-1])
        opts = dict(fit_options)
        if not isinstance(opts["shuffle"], (bool, np.bool_)):
            raise TypeError(f"shuffle: expected True or False, got {opts['shuffle']!r}")
        if opts["batch_size"] is None:
            raise TypeError("batch_size: expected an integer (the local batch size), got None")
        plan = net._training_plan(
            X_raw,
            Y_raw,
            epochs=opts.pop("epochs"),
            batch_size=opts.pop("batch_size"),
            schedule=make_schedule(
                opts.pop("learning_rate"),
                opts.pop("lr_schedule"),
                opts.pop("power_t"),
                opts.pop("step_size"),
                opts.pop("gamma"),
            ),
            optimizer=make_optimizer(
                opts.pop("optimizer"),
                opts.pop("momentum"),
                opts.pop("beta1"),
                opts.pop("beta2"),
                opts.pop("epsilon"),
            ),
            whole_batches=False,
            names=("X_shard", "Y_shard"),
            **opts,
        )
        local["m"] = int(plan.X.shape[1])
        cfg["plan"] = plan
        if seed is not None:
            seed = _check_int("seed", seed, 0)
        cfg["seed"] = seed
        if not isinstance(verify_replicas, (bool, np.bool_)):
            raise TypeError(f"verify_replicas: expected True or False, got {verify_replicas!r}")
        cfg["verify_replicas"] = bool(verify_replicas)
        if checkpoint_path is not None:
            checkpoint_path = os.fspath(checkpoint_path)
            if checkpoint_every is None:
                checkpoint_every = 1
            checkpoint_every = V.check_positive("checkpoint_every", checkpoint_every, integer=True)
        elif checkpoint_every is not None:
            raise ValueError(
                f"checkpoint_every: given ({checkpoint_every!r}) without a checkpoint_path"
            )
        cfg["checkpoint_path"], cfg["checkpoint_every"] = checkpoint_path, checkpoint_every
        cfg["resume"] = bool(resume)
        # everything a collective depends on: a mismatch would hang or desynchronise
        hyper = {
            k: fit_options[k]
            for k in (
                "epochs",
                "batch_size",
                "learning_rate",
                "optimizer",
                "momentum",
                "beta1",
                "beta2",
                "epsilon",
                "lr_schedule",
                "power_t",
                "step_size",
                "gamma",
                "clip_norm",
                "clip_value",
                "shuffle",
                "early_stopping",
                "patience",
                "min_delta",
            )
        }
        hyper.update(
            seed=seed,
            verify_replicas=cfg["verify_replicas"],
            checkpoint_every=checkpoint_every,
            resume=cfg["resume"],
            checkpoint=checkpoint_path is not None,
            validation=plan.Xv is not None,
        )
        local["hyper"] = {
            k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
            for k, v in hyper.items()
        }
    except Exception as exc:  # any failure here must reach the other ranks, or they would wait
        local["error"] = (type(exc).__name__, str(exc))
    return cfg, local


def _check_across_ranks(reports, size):
    """The same verdict on every rank, from the same gathered reports."""
    _raise_collective(reports, "fit_distributed")
    diff = _first_difference(reports, "n_features", lambda v: f"{v} features")
    if diff:
        raise ValueError(
            f"X_shard: every rank must hold examples with the same number of "
            f"features (rows); got {diff}"
        )
    diff = _first_difference(reports, "x_dtype", str)
    if diff:
        raise TypeError(f"X_shard: every rank must hold the same dtype; got {diff}")
    diff = _first_difference(reports, "y_shape", lambda v: f"shape {v + ('m',)}")
    if diff:
        raise ValueError(f"Y_shard: every rank must hold targets of the same shape; got {diff}")
    diff = _first_difference(reports, "y_dtype", str)
    if diff:
        raise TypeError(f"Y_shard: every rank must hold the same dtype; got {diff}")
    diff = _first_difference(reports, "arch", lambda v: v[:12])
    if diff:
        raise ValueError(
            f"net: every rank needs the same architecture (sizes, activations, cost, "
            f"dtype, l2); the digests differ: {diff}"
        )
    values = [rep["hyper"] for rep in reports]
    for key in values[0]:
        if any(v[key] != values[0][key] for v in values):
            listing = ", ".join(f"rank {r}: {v[key]!r}" for r, v in enumerate(values))
            raise ValueError(f"{key}: every rank must pass the same value; got {listing}")


def _resume(comm, rank, cfg, run_spec, seed):
    """Rank 0 reads the checkpoint (if any) and sends it to every rank;
    every rank then checks the same metadata, so they agree on the verdict."""
    if cfg["checkpoint_path"] is None or not cfg["resume"]:
        return None
    found = None
    if rank == 0 and os.path.exists(cfg["checkpoint_path"]):
        try:
            found = _read_checkpoint(cfg["checkpoint_path"])
        except ValueError as exc:
            found = str(exc)
    found = comm.bcast(found, root=0)
    if found is None:
        return None
    if isinstance(found, str):
        raise ValueError(found)
    meta, arrays = found
    for key, value in run_spec.items():
        if meta.get(key) != value:
            raise ValueError(
                f"checkpoint_path: {cfg['checkpoint_path']} was written by a run with "
                f"{key}={meta.get(key)!r}, this run has {key}={value!r}; a resumed run "
                f"must keep the architecture, the processes, their shards, the batch "
                f"size, the shuffling and the optimizer (or use resume=False)"
            )
    if cfg["seed"] is not None and meta["seed"] != cfg["seed"]:
        raise ValueError(
            f"seed: the checkpoint {cfg['checkpoint_path']} was shuffled with seed "
            f"{meta['seed']}, this run asks for {cfg['seed']}"
        )
    return meta, arrays


def _global_validation(net, comm, MPI, Xv, Yv):
    """Cost and accuracy over the union of the ranks' validation shards: sums
    of (cost x examples, correct, examples), one Allreduce."""
    m = Xv.shape[1]
    J = net._cost_checked(Xv, Yv)
    acc = net._accuracy_checked(Xv, Yv)
    sums = np.array([J * m, (0.0 if np.isnan(acc) else acc * m), m], dtype=np.float64)
    comm.Allreduce(MPI.IN_PLACE, sums, op=MPI.SUM)
    accuracy = float("nan") if net.cost_name == "squared_error" else float(sums[1] / sums[2])
    return float(sums[0] / sums[2]), accuracy


def _checkpoint(comm, rank, cfg, net, opt, seed, epoch, history, run_spec):
    status = None
    if rank == 0:
        meta = dict(
            format=CHECKPOINT_FORMAT,
            version=CHECKPOINT_VERSION,
            seed=seed,
            epoch=epoch,
            steps=opt.steps,
            learning_rate=cfg["plan"].schedule.learning_rate,
            history={key: getattr(history, key) for key in _HISTORY_LISTS if hasattr(history, key)},
            **run_spec,
        )
        try:
            _write_checkpoint(
                cfg["checkpoint_path"],
                meta,
                dict(params=net._params, velocity=opt.velocity, second_moment=opt.second),
            )
        except OSError as exc:
            status = f"checkpoint_path: rank 0 could not write {cfg['checkpoint_path']}: {exc}"
    status = comm.bcast(status, root=0)
    if status is not None:
        raise OSError(status)


class _DistributedRunner(BatchRunner):
    """The training loop's step for P ranks: each global step is this rank's
    local gradient (scaled by m_r / M), one Allreduce of [gradient, cost,
    failure flag], and the same update on every replica."""

    def __init__(self, net, comm, MPI, rank, plan, shard_sizes, seed, verify, history):
        self.net, self.comm, self.MPI, self.rank, self.plan = net, comm, MPI, rank, plan
        self.params = net._params
        self.seed, self.verify, self.history = seed, verify, history
        b, self.m_local = plan.batch_size, plan.X.shape[1]
        self.n_batches = _steps_per_epoch(shard_sizes, b)
        # M_s, the size of global batch s, from the shard sizes alone
        self.batch_weights = np.array(
            [
                sum(_local_range(s, b, m)[1] - _local_range(s, b, m)[0] for m in shard_sizes)
                for s in range(self.n_batches)
            ],
            dtype=np.float64,
        )
        self.examples = int(sum(shard_sizes))
        capacity = min(b, self.m_local)
        if net.device == "cuda":
            # the replica's passes run on its GPU, staged through host buffers
            self.gpu = net._backend.device
            self.x_host = np.zeros(net.sizes[0] * capacity, dtype=net.dtype)
            self.y_host = np.zeros(net.sizes[-1] * capacity, dtype=net.dtype)
            self.v_cache = {}
        else:
            self.gpu = None
            self.buf = net._backend.buffers(capacity, "fit")
            self.model = net._backend.model(training=True)
            self.spatial = net._backend.spatial
        self.out = np.zeros(net._params.size + 2, dtype=net.dtype)
        self.chunk = self.n_batches
        self.reduce_seconds = 0.0
        self.upd = None

    def order(self, epoch):
        return local_order(self.seed, epoch, self.rank, self.m_local, self.plan.shuffle)

    def run(self, order, first, stop, learning_rate, batch_costs):
        p, net, out = self.plan, self.net, self.out
        n_params = net._params.size
        if self.upd is None or self.upd.learning_rate != learning_rate:
            self.upd = p.optimizer.update_args(
                net._params,
                learning_rate,
                p.clip_norm,
                p.clip_value,
                step=None if self.upd is None else self.upd.step,
            )
        for s in range(first, stop):
            start, end = _local_range(s, p.batch_size, self.m_local)
            weight = (end - start) / self.batch_weights[s]
            try:
                if self.gpu is None:
                    _local_gradient(
                        self.model, self.buf, p.X, p.Y, order, start, end, weight, out, self.spatial
                    )
                else:
                    self._local_gradient_gpu(order, start, end, weight)
                failure = None
            except Exception as exc:  # reported to every rank through the flag below
                out[:] = 0
                out[n_params + 1] = 1
                failure = exc
            t0 = time.perf_counter()
            self.comm.Allreduce(self.MPI.IN_PLACE, out, op=self.MPI.SUM)
            self.reduce_seconds += time.perf_counter() - t0
            if out[n_params + 1] != 0:
                _raise_rank_failure(self.comm, self.rank, failure, len(self.history.cost), s)
            J = float(out[n_params])
            if not np.isfinite(J) or not apply_update(net._params, out[:n_params], self.upd):
                return s
            batch_costs[s] = J
            if self.verify:
                _verify_replicas(self.comm, net._params, len(self.history.cost), s)
        return -1

    def _local_gradient_gpu(self, order, start, stop, weight):
        """:func:`_local_gradient` for a replica on a GPU, staged through host
        buffers: the batch is gathered on the host and uploaded, the device's
        forward, cost and backward passes run, and the gradient comes back
        into ``self.out`` for the Allreduce (MPI here is not CUDA-aware); the
        update then runs on the host, and the new parameters are uploaded
        before the next step. Two copies of the parameters cross the bus per
        step."""
        net, gpu, out, p = self.net, self.gpu, self.out, self.plan
        n_params = net._params.size
        mb = stop - start
        out[n_params + 1] = 0
        if mb == 0:
            out[: n_params + 1] = 0
            return
        X, Y = p.X, p.Y
        n0, nL = X.shape[0], Y.shape[0]
        x = view_f(self.x_host, 0, n0, mb)
        y = view_f(self.y_host, 0, nL, mb)
        gather_columns(X, order, start, stop, x)
        gather_columns(Y, order, start, stop, y)
        v = self.v_cache.get(mb)
        if v is None:
            v = self.v_cache[mb] = gpu.views(
                gpu.workspace(self.x_host.shape[0] // n0, "distributed"), mb
            )
        gpu.upload_params(net._params)
        J = gpu.batch_gradient(v, x, y, net.l2, False, finite_only=True)
        if not np.isfinite(J):
            out[:n_params] = 0
            out[n_params] = np.nan
            return
        grads = out[:n_params]
        gpu.grads.copy_to_host(grads)
        grads *= grads.dtype.type(weight)
        out[n_params] = J * weight

    def epoch_note(self, history):
        return (
            f"  ({self.comm.Get_size()} ranks, allreduce {history.allreduce_seconds[-1]:.3f} s "
            f"of {history.epoch_seconds[-1]:.3f} s)"
        )

    def validate(self):
        return _global_validation(self.net, self.comm, self.MPI, self.plan.Xv, self.plan.Yv)


def _raise_rank_failure(comm, rank, failure, epoch, step):
    """Every rank learns who failed and why (one extra, rare collective)."""
    messages = comm.allgather(None if failure is None else f"{type(failure).__name__}: {failure}")
    first = next(r for r, msg in enumerate(messages) if msg is not None)
    err = RankFailedError(
        f"rank {first} failed at epoch {epoch + 1}, step {step + 1}: "
        f"{messages[first]}; every rank stopped",
        first,
        epoch + 1,
        step + 1,
    )
    if failure is not None:
        raise err from failure
    raise err


def _verify_replicas(comm, params, epoch, step):
    digests = comm.allgather(_params_digest(params))
    if any(d != digests[0] for d in digests):
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        raise RuntimeError(
            f"verify_replicas: after epoch {epoch + 1}, step {step + 1} the weights "
            f"of rank(s) {odd} differ from rank 0's: the replicas have diverged"
        )


# --------------------------------------------------------- command line
def _cli_rank_setup(args):
    """``fnn-numba train --distributed``, before anything is printed: only
    rank 0 prints and saves, so that the output comes once, not P times."""
    if _world().Get_rank() != 0:
        import sys

        sys.stdout = open(os.devnull, "w")
        args.output = None


def _fit_for_cli(net, X, Y, fit_kwargs, args):
    """``fnn-numba train --distributed``: every rank has loaded the whole
    (small, bundled or local) data set and trains on its shard of it."""
    comm = _world()
    kwargs = {k: v for k, v in fit_kwargs.items() if k != "validation_data"}
    if "validation_data" in fit_kwargs:
        Xv, Yv = fit_kwargs["validation_data"]
        kwargs["validation_data"] = (shard_array(Xv, comm), shard_array(Yv, comm))
    kwargs["verbose"] = kwargs.get("verbose", False) and comm.Get_rank() == 0
    return fit_distributed(
        net,
        shard_array(X, comm),
        shard_array(Y, comm),
        comm,
        seed=getattr(args, "seed", None),
        **kwargs,
    )
