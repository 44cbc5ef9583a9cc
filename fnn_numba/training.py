"""The one training loop: epochs, batches, schedules, validation, early
stopping, callbacks, progress, history, divergence and interrupts.

:meth:`fnn_numba.Network.fit`, :meth:`~fnn_numba.Network.partial_fit`, the
scikit-learn estimators and :func:`fnn_numba.distributed.fit_distributed` all
run :func:`run_epochs`; they differ only in the :class:`BatchRunner` that
trains a range of batches (the CPU backend's jitted driver, the CUDA
backend's, or a data-parallel step with an allreduce).
"""

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _validation as V

SCHEDULES = ("constant", "invscaling", "step", "exponential")


class TrainingDivergedError(FloatingPointError):
    """``fit`` met a non-finite cost or update. The network keeps the weights of
    the last finite step; ``history`` holds the completed epochs."""

    def __init__(self, message, epoch, batch, history):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history


@dataclass
class History:
    """Per-epoch figures of a ``fit``. ``cost[e]`` is the mean over epoch e's
    batches of the batch cost J (L2 term included) before each update;
    ``val_cost``/``val_accuracy`` are computed after the epoch when validation
    data is given (accuracy only for classification costs); ``learning_rate``
    is the rate each epoch used; ``best_epoch`` (1-based) had the lowest
    monitored cost, ``stopped_epoch`` is where early stopping ended (0: it
    did not)."""

    cost: list = field(default_factory=list)
    val_cost: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0

    def __getitem__(self, key):
        return getattr(self, key)

    def __len__(self):
        return len(self.cost)


@dataclass(frozen=True)
class Schedule:
    """The learning rate of epoch e (0-based, counted from the start of the
    ``fit`` call): alpha (constant), alpha / (e + 1)^power_t (invscaling),
    alpha gamma^(e // step_size) (step), alpha gamma^e (exponential)."""

    learning_rate: float
    kind: str = "constant"
    power_t: float = 0.5
    step_size: int = 10
    gamma: float = 1.0

    def at(self, epoch):
        alpha = self.learning_rate
        if self.kind == "invscaling":
            return alpha / (epoch + 1) ** self.power_t
        if self.kind == "step":
            return alpha * self.gamma ** (epoch // self.step_size)
        if self.kind == "exponential":
            return alpha * self.gamma**epoch
        return alpha


def make_schedule(learning_rate, lr_schedule="constant", power_t=0.5, step_size=10, gamma=None):
    """A validated :class:`Schedule`; gamma defaults to 0.5 (step) and 0.95
    (exponential)."""
    kind = V.check_choice("lr_schedule", lr_schedule, SCHEDULES)
    if gamma is None:
        gamma = {"step": 0.5, "exponential": 0.95}.get(kind, 1.0)
    return Schedule(
        V.check_positive("learning_rate", learning_rate),
        kind,
        V.check_positive("power_t", power_t, allow_zero=True),
        V.check_positive("step_size", step_size, integer=True),
        V.check_positive("gamma", gamma),
    )


@dataclass(frozen=True)
class Plan:
    """Everything one ``fit`` needs, validated before anything changes.

    X, Y are the training data (validation examples already held out), Xv, Yv
    the validation data or None. ``optimizer`` is an
    :class:`~fnn_numba.optimizers.Optimizer`. ``sample_weight`` and ``Sv``
    are the example weights of X and Xv (1-D, the network's dtype) or None
    (unweighted); ``l2_per_weight`` scales each batch's lambda by
    m_b / S_b (:class:`fnn_numba.engine.Model`).
    """

    X: np.ndarray
    Y: np.ndarray
    Xv: object
    Yv: object
    epochs: int
    batch_size: int
    schedule: Schedule
    optimizer: object
    clip_norm: float = 0.0
    clip_value: float = 0.0
    shuffle: bool = True
    early_stopping: bool = False
    patience: int = 10
    min_delta: float = 1e-4
    callback: object = None
    progress: object = False
    verbose: bool = False
    sample_weight: object = None
    Sv: object = None
    l2_per_weight: bool = False

    @property
    def n_batches(self):
        return -(-self.X.shape[1] // self.batch_size)


def check_batch_size(batch_size, m):
    """The batch size for m examples: None means m; a value larger than m
    runs as one batch of m, with a warning (as scikit-learn's MLP does)."""
    if batch_size is None:
        return m
    batch_size = V.check_positive("batch_size", batch_size, integer=True)
    if batch_size > m:
        warnings.warn(
            f"batch_size: {batch_size} is larger than the {m} training examples; "
            f"training runs on batches of {m}",
            UserWarning,
            stacklevel=4,
        )
        return m
    return batch_size


def check_callback(callback):
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable or None, got {callback!r}")
    return callback


class BatchRunner:
    """What :func:`run_epochs` needs from a backend.

    ``n_batches`` batches make an epoch; ``batch_weights[b]`` is the number
    of examples batch b averages over, ``examples`` their sum (the epoch's
    cost is the batch costs' weighted mean). :meth:`order` gives epoch e's
    example order. ``chunk`` batches go to each :meth:`run` call (small
    enough that a KeyboardInterrupt is honoured quickly); :meth:`run` trains
    batches [first, stop) at ``learning_rate``, writes each batch's J into
    batch_costs[b] and returns the index of the first batch whose cost or
    update was non-finite (nothing written for it), or -1. :meth:`validate`
    returns (cost, accuracy) on the validation data; :meth:`snapshot` and
    :meth:`restore` save and put back the parameters (early stopping), by
    default the host array ``params`` that the runner trains;
    :meth:`finish` runs once at the end, also after an exception.
    """

    chunk = 1
    n_batches = 0
    batch_weights = None
    examples = 0
    params = None

    def order(self, epoch):
        raise NotImplementedError

    def run(self, order, first, stop, learning_rate, batch_costs):
        raise NotImplementedError

    def validate(self):
        raise NotImplementedError

    def snapshot(self):
        return self.params.copy()

    def restore(self, snapshot):
        self.params[...] = snapshot

    def finish(self):
        pass

    def epoch_note(self, history):
        """Extra figures for the verbose line of the epoch just ended."""
        return ""


class LocalBatches:
    """The batches of one process: plan.n_batches batches of plan.batch_size
    examples (the last one shorter), in an order drawn from ``rng`` each
    epoch (``rng.permutation(m)``, the network's seeded generator, so a
    seeded fit is reproducible and every epoch sees a new order)."""

    def __init__(self, plan, rng):
        m = plan.X.shape[1]
        self.n_batches = plan.n_batches
        self.batch_weights = np.full(self.n_batches, plan.batch_size, dtype=np.float64)
        self.batch_weights[-1] = m - plan.batch_size * (self.n_batches - 1)
        self.examples = m
        self._rng, self._shuffle, self._m = rng, plan.shuffle, m

    def order(self, epoch):
        m = self._m
        return (self._rng.permutation(m) if self._shuffle else np.arange(m)).astype(np.int64)


def run_epochs(plan, runner, history, cost_name, on_epoch_end=None, first_epoch=0):
    """Train epochs first_epoch..plan.epochs-1 through ``runner``; fill
    ``history``. ``on_epoch_end(epoch)`` runs after each completed epoch
    (1-based), before validation (it advances the network's epoch count, or
    writes a checkpoint). The schedule's epoch is the loop's epoch.
    """
    n_batches = runner.n_batches
    bar = progress_bar(plan.epochs - first_epoch, plan.progress)
    best_cost, best_params, best_epoch, waited = np.inf, None, 0, 0
    batch_costs = np.zeros(n_batches, dtype=np.float64)
    try:
        for epoch in range(first_epoch, plan.epochs):
            t_start = time.perf_counter()
            lr = plan.schedule.at(epoch)
            order = runner.order(epoch)
            for first in range(0, n_batches, runner.chunk):
                stop = min(first + runner.chunk, n_batches)
                bad = runner.run(order, first, stop, lr, batch_costs)
                if bad >= 0:
                    raise TrainingDivergedError(
                        f"training diverged at epoch {epoch + 1}, batch {bad + 1} of {n_batches}: "
                        f"the cost or an updated parameter became NaN or inf "
                        f"(learning_rate={lr:g} may be too large); the weights of the last finite "
                        f"step are kept",
                        epoch + 1,
                        bad + 1,
                        history,
                    )
            history.cost.append(float(np.dot(batch_costs, runner.batch_weights) / runner.examples))
            history.learning_rate.append(lr)
            if plan.Xv is not None:
                val_cost, val_accuracy = runner.validate()
                history.val_cost.append(val_cost)
                history.val_accuracy.append(val_accuracy)
            history.epoch_seconds.append(time.perf_counter() - t_start)
            monitored = history.val_cost[-1] if plan.Xv is not None else history.cost[-1]
            if monitored < best_cost - plan.min_delta:
                best_cost, best_epoch, waited = monitored, epoch + 1, 0
                if plan.early_stopping:
                    best_params = runner.snapshot()
            else:
                waited += 1
            history.best_epoch = best_epoch
            stopping = plan.early_stopping and waited >= plan.patience
            if stopping:
                history.stopped_epoch = epoch + 1
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, stopping)
            if plan.verbose:
                print(
                    epoch_line(history, epoch + 1, plan.epochs, cost_name)
                    + runner.epoch_note(history),
                    flush=True,
                )
            if bar is not None:
                bar.update(epoch + 1 - first_epoch, history)
            if plan.callback is not None:
                plan.callback(epoch + 1, history)
            if stopping:
                break
    finally:
        if bar is not None:
            bar.close()
        runner.finish()
    if plan.early_stopping and best_params is not None:
        runner.restore(best_params)
    return history


def chunk_for(flops_per_batch, n_batches):
    """Batches per call of a jitted driver: about 2e8 flops, so that a
    KeyboardInterrupt is honoured within a few tens of milliseconds."""
    return int(max(1, min(n_batches, 2e8 // max(flops_per_batch, 1.0))))


def epoch_line(history, epoch, epochs, cost_name):
    line = f"epoch {epoch:4d}/{epochs}  cost {history.cost[-1]:.6f}"
    if history.val_cost:
        line += f"  val_cost {history.val_cost[-1]:.6f}"
        if cost_name not in ("squared_error", "poisson") and not math.isnan(
            history.val_accuracy[-1]
        ):
            line += f"  val_accuracy {history.val_accuracy[-1]:.4f}"
    return line


def progress_bar(total, enabled):
    """A progress bar from :mod:`fnn_numba.progress` when asked for (or, with
    ``enabled=None``, when stderr is a terminal); None otherwise."""
    if enabled is False:
        return None
    try:
        from .progress import EpochProgress
    except ImportError:
        if enabled:
            raise
        return None
    bar = EpochProgress(total, enabled)
    return bar if getattr(bar, "enabled", True) else None
