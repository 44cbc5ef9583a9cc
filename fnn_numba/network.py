"""The :class:`Network` class: validation, workspaces and dispatch; no maths.

Every formula runs in the kernels of :mod:`fnn_numba.kernels` through the
drivers of :mod:`fnn_numba.engine`.
"""
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from . import _validation as V
from . import engine
from ._threading import kernel_section
from .activations import ACTIVATIONS, POSITIVE_OUTPUT, UNIT_INTERVAL_OUTPUT
from .costs import COST_ALIASES, COSTS, FUSED_PAIRS
from .init import INITIALISERS, initial_parameters
from .kernels import OPTIMIZERS

SCHEDULES = ("constant", "invscaling", "step", "exponential")

FORMAT_NAME = "fnn_numba.Network"
FORMAT_VERSION = 1

#: examples per call of the jitted forward pass in forward/predict/cost;
#: bounds the workspace for large inputs.
FORWARD_CHUNK = 4096


class TrainingDivergedError(FloatingPointError):
    """``fit`` met a non-finite cost or update. The network keeps the weights of
    the last finite step; ``history`` holds the completed epochs."""

    def __init__(self, message, epoch, batch, history):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history


@dataclass
class Gradients:
    """dJ/dW[l] (``weights[l-1]``), dJ/db[l] (``biases[l-1]``), dJ/dX
    (``inputs``, shape (n0, m)) and the cost J they belong to."""

    weights: list
    biases: list
    inputs: np.ndarray
    cost: float


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


class Network:
    """A fully-connected feedforward network, as derived in the lalin posts.

    Parameters
    ----------
    sizes : list of int
        [n0, n1, ..., nL]: input size, hidden sizes, output size.
    activations : list of str, optional
        One per layer l = 1..L, from identity, sigmoid, tanh, relu,
        leaky_relu, elu, selu, softmax, exp. Default: relu for hidden layers and
        the output activation that matches ``cost`` (softmax for categorical
        cross-entropy, sigmoid for binary cross-entropy, identity for squared
        error, exp for poisson).
    cost : str
        squared_error, binary_cross_entropy, categorical_cross_entropy or
        poisson (half the Poisson deviance, for counts, with an exp output)
        (aliases mse, bce, cce).
    init : str
        zeros, normal (N(0, 0.01^2)), xavier, he, or auto (he when the first
        hidden activation is of the relu family, else xavier).
    dtype : float32 or float64
    seed : int, optional
        Seeds the initial weights and the shuffling of ``fit``.
    l2 : float
        lambda of the L2 term (lambda/2) sum ||W[l]||_F^2 (biases excluded).
    device : {"cpu", "cuda"}
        Where forward, cost, gradients, fit and predict run. "cuda" runs the
        CUDA twins of the kernels (:mod:`fnn_numba.gpu_kernels`) and needs
        ``pip install "fnn-numba[cuda]"`` and an NVIDIA GPU; see :meth:`to`.

    Data follow the derivation: X has shape (n0, m), columns are examples.
    ``X_samples_by_features.T`` is accepted without a copy.
    """

    def __init__(self, sizes, activations=None, cost="categorical_cross_entropy", init="auto",
                 dtype=np.float64, seed=None, l2=0.0, device="cpu"):
        self.sizes = V.check_sizes(sizes)
        device = _check_device(device)
        self.cost_name = V.check_choice("cost", cost, COSTS, COST_ALIASES)
        L = len(self.sizes) - 1
        if activations is None:
            out = {"categorical_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid",
                   "squared_error": "identity", "poisson": "exp"}[self.cost_name]
            activations = ["relu"] * (L - 1) + [out]
        if isinstance(activations, str) or not hasattr(activations, "__len__"):
            raise ValueError(f"activations: expected a list of {L} activation names, got {activations!r}")
        if len(activations) != L:
            raise ValueError(f"activations: expected {L} names (one per layer with weights), "
                             f"got {len(activations)}: {list(activations)!r}")
        self.activations = [V.check_choice("activations", a, ACTIVATIONS) for a in activations]
        if self.cost_name in ("binary_cross_entropy", "categorical_cross_entropy") and \
                self.activations[-1] not in UNIT_INTERVAL_OUTPUT:
            raise ValueError(
                f"activations: {self.cost_name} needs an output in (0, 1) by construction "
                f"(sigmoid or softmax as the last activation), got {self.activations[-1]!r}")
        if self.cost_name == "poisson" and self.activations[-1] not in POSITIVE_OUTPUT:
            raise ValueError(
                f"activations: poisson needs an output > 0 by construction (exp, sigmoid or "
                f"softmax as the last activation), got {self.activations[-1]!r}")
        self.dtype = V.check_dtype(dtype)
        self.l2 = V.check_positive("l2", l2, allow_zero=True)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed: expected None or a non-negative integer, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.init = V.check_choice("init", init, set(INITIALISERS) | {"auto"})
        if self.init == "auto":
            self.init = "he" if L > 1 and self.activations[0] in ("relu", "leaky_relu") else "xavier"

        self._sizes = np.asarray(self.sizes, dtype=np.int64)
        self._act_codes = np.asarray([ACTIVATIONS[a] for a in self.activations], dtype=np.int64)
        self._cost_code = COSTS[self.cost_name]
        self._fused = (self.activations[-1], self.cost_name) in FUSED_PAIRS
        self._w_off, self._b_off, n_params = engine.parameter_layout(self.sizes)
        self._rng = np.random.default_rng(self.seed)
        self._params = np.empty(n_params, dtype=self.dtype)
        initial_parameters(self.init, self.sizes, self._rng, self._params, self._w_off, self._b_off)
        self._lock = threading.RLock()
        self._workspaces = {}
        self._optimizer_state = None
        self._epochs_trained = 0
        self._gpu = None  # the gpu_engine.DeviceNetwork while device == "cuda"
        if device == "cuda":
            self.to("cuda")

    # ------------------------------------------------------------------ params
    @property
    def n_layers(self):
        """L, the number of layers with weights."""
        return len(self.sizes) - 1

    @property
    def n_parameters(self):
        return self._params.size

    def _w_view(self, buf, l):
        n, K = self.sizes[l + 1], self.sizes[l]
        return buf[self._w_off[l]:self._w_off[l] + n * K].reshape(n, K)

    def _b_view(self, buf, l):
        return buf[self._b_off[l]:self._b_off[l] + self.sizes[l + 1]]

    @property
    def weights(self):
        """[W[1], ..., W[L]], W[l] of shape (n[l], n[l-1]); views of the
        network's parameters (writing to them changes the network)."""
        return [self._w_view(self._params, l) for l in range(self.n_layers)]

    @weights.setter
    def weights(self, values):
        self._set_parameters(values, None)

    @property
    def biases(self):
        """[b[1], ..., b[L]], b[l] of shape (n[l],); views of the parameters."""
        return [self._b_view(self._params, l) for l in range(self.n_layers)]

    @biases.setter
    def biases(self, values):
        self._set_parameters(None, values)

    def _set_parameters(self, weights, biases):
        new = self._params.copy()
        for name, values, view, shape in (
                ("weights", weights, self._w_view, lambda l: (self.sizes[l + 1], self.sizes[l])),
                ("biases", biases, self._b_view, lambda l: (self.sizes[l + 1],))):
            if values is None:
                continue
            if len(values) != self.n_layers:
                raise ValueError(f"{name}: expected {self.n_layers} arrays, got {len(values)}")
            for l, v in enumerate(values):
                arr = np.asarray(v)
                if arr.shape != shape(l):
                    raise ValueError(f"{name}[{l}]: expected shape {shape(l)}, got {arr.shape}")
                if not np.issubdtype(arr.dtype, np.number):
                    raise TypeError(f"{name}[{l}]: expected a numeric array, got dtype {arr.dtype}")
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"{name}[{l}]: contains NaN or inf")
                view(new, l)[...] = arr
        self._params[...] = new

    def get_parameters(self):
        """A copy of the flat parameter vector [W1, b1, W2, b2, ...]."""
        return self._params.copy()

    # ------------------------------------------------------------------ device
    @property
    def device(self):
        """"cpu" or "cuda": where the network's computations run."""
        return "cpu" if self._gpu is None else "cuda"

    def to(self, device):
        """Run on ``device`` ("cpu" or "cuda") from now on; returns self.

        On "cuda" the parameters are uploaded to the GPU; ``weights``,
        ``biases`` and :meth:`get_parameters` keep reading (and writing) the
        host copy, which every device call uploads first and ``fit`` refreshes
        after each epoch, so ``save`` and the weights are always current.
        Raises ``fnn_numba.gpu_engine.CudaUnavailableError`` (a RuntimeError)
        saying why and what to install when no usable CUDA GPU is present; the
        network then stays where it was.
        """
        device = _check_device(device)
        with self._lock:
            if device == "cpu":
                self._gpu = None
            elif self._gpu is None:
                from .gpu_engine import DeviceNetwork

                gpu = DeviceNetwork(self.sizes, self._act_codes, self._cost_code, self._fused,
                                    self.dtype)
                gpu.upload_params(self._params)
                self._gpu = gpu
        return self

    def __getstate__(self):
        """Pickle support: the lock, the workspaces and any device copy are
        rebuilt on unpickling, not stored."""
        state = self.__dict__.copy()
        for transient in ("_lock", "_workspaces", "_gpu"):
            state.pop(transient, None)
        state["_device"] = self.device
        return state

    def __setstate__(self, state):
        state = dict(state)
        device = state.pop("_device", "cpu")
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._workspaces = {}
        self._gpu = None
        if device != "cpu":
            self.to(device)

    def __repr__(self):
        return (f"Network(sizes={self.sizes}, activations={self.activations}, cost={self.cost_name!r}, "
                f"dtype={np.dtype(self.dtype).name}, l2={self.l2})")

    # ---------------------------------------------------------------- checking
    def _check_x(self, X, name="X"):
        return V.as_float_matrix(name, X, self.dtype, rows=self.sizes[0])

    def _check_y(self, Y, m, name="Y"):
        nL = self.sizes[-1]
        arr = np.asarray(Y)
        if arr.ndim == 1 and self.cost_name == "categorical_cross_entropy":
            return self._one_hot(arr, m, name)
        if arr.ndim == 1 and nL == 1:
            arr = arr.reshape(1, -1)
        y = V.as_float_matrix(name, arr, self.dtype, rows=nL)
        if y.shape[1] != m:
            raise ValueError(f"{name}: expected {m} columns (as many examples as X), got {y.shape[1]}")
        if self.cost_name == "poisson" and np.any(y < 0):
            raise ValueError(f"{name}: poisson needs targets >= 0, got a minimum of {y.min()}")
        if self.cost_name in ("binary_cross_entropy", "categorical_cross_entropy") and \
                (np.any(y < 0) or np.any(y > 1)):
            raise ValueError(f"{name}: {self.cost_name} needs targets in [0, 1], got values in "
                             f"[{y.min()}, {y.max()}]")
        return y

    def _one_hot(self, labels, m, name):
        if labels.dtype == object or not (np.issubdtype(labels.dtype, np.integer) or
                                          np.issubdtype(labels.dtype, np.floating)):
            raise TypeError(f"{name}: expected integer class labels, got dtype {labels.dtype}")
        if labels.shape[0] != m:
            raise ValueError(f"{name}: expected {m} labels (as many examples as X), got {labels.shape[0]}")
        if np.issubdtype(labels.dtype, np.floating):
            if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
                raise ValueError(f"{name}: expected integer class labels, got non-integer values")
        nL = self.sizes[-1]
        if labels.size and (labels.min() < 0 or labels.max() >= nL):
            raise ValueError(f"{name}: labels must lie in [0, {nL}), got values in "
                             f"[{labels.min()}, {labels.max()}]")
        y = np.zeros((nL, m), dtype=self.dtype, order="F")
        y[labels.astype(np.int64), np.arange(m)] = 1
        return y

    # --------------------------------------------------------------- workspace
    def _workspace(self, capacity, purpose):
        """Buffers for batches of up to ``capacity`` examples, allocated once
        and reused while the capacity stays the same; one set per purpose
        ("fit", "forward") so that validating during fit allocates nothing."""
        ws = self._workspaces.get(purpose)
        if ws is None or ws["capacity"] != capacity:
            # inference needs A and Z only: no backward roles, input buffer or gradient
            backward = purpose != "forward"
            ws_off, total = engine.workspace_layout(self.sizes, capacity, backward=backward,
                                                    with_dx=False)
            ws = dict(capacity=capacity, ws_off=ws_off, ws=np.zeros(total, dtype=self.dtype),
                      x_buf=np.zeros(self.sizes[0] * capacity if backward else 0, dtype=self.dtype),
                      losses=np.zeros(capacity, dtype=self.dtype),
                      grads=np.zeros(self._params.size if backward else 0, dtype=self.dtype))
            self._workspaces[purpose] = ws
        return ws

    # ----------------------------------------------------------------- forward
    def _forward_chunks(self, X, with_cost_y=None):
        m = X.shape[1]
        cap = min(m, FORWARD_CHUNK)
        with self._lock, kernel_section():
            if self._gpu is not None:
                self._gpu.upload_params(self._params)
                return self._gpu.forward_chunks(X, with_cost_y, FORWARD_CHUNK)
            ws = self._workspace(cap, "forward")
            out = np.empty((self.sizes[-1], m), dtype=self.dtype, order="F")
            loss_sum = 0.0
            for s in range(0, m, cap):
                e = min(s + cap, m)
                a = engine.forward_pass(self._params, self._sizes, self._w_off, self._b_off,
                                        self._act_codes, X[:, s:e], ws["ws"], ws["ws_off"])
                out[:, s:e] = a
                if with_cost_y is not None:
                    J = engine.batch_cost(self._params, self._sizes, self._w_off, self._act_codes,
                                          self._cost_code, self._fused, 0.0, with_cost_y[:, s:e],
                                          ws["ws"], ws["ws_off"], ws["losses"])
                    loss_sum += J * (e - s)
        return out, loss_sum / m

    def forward(self, X):
        """Y_hat = A[L] for inputs X of shape (n0, m); returns (n[L], m)."""
        X = self._check_x(X)
        return self._forward_chunks(X)[0]

    def cost(self, X, Y):
        """J = (1/m) sum_i L_i, plus (lambda/2) sum ||W||^2 when l2 > 0."""
        X = self._check_x(X)
        Y = self._check_y(Y, X.shape[1])
        return self._cost_checked(X, Y)

    def _cost_checked(self, X, Y):
        J = self._forward_chunks(X, with_cost_y=Y)[1]
        if self.l2 > 0:
            J += 0.5 * self.l2 * float(sum(np.sum(w.astype(np.float64) ** 2) for w in self.weights))
        return float(J)

    def predict(self, X):
        """Class indices (argmax over j) for categorical cross-entropy, 0/1 at
        0.5 for binary cross-entropy, Y_hat for squared error."""
        Y_hat = self.forward(X)
        if self.cost_name == "categorical_cross_entropy":
            return np.argmax(Y_hat, axis=0)
        if self.cost_name == "binary_cross_entropy":
            return (Y_hat > 0.5).astype(np.int64)
        return Y_hat

    def accuracy(self, X, Y):
        """Fraction of examples classified correctly (classification costs)."""
        X = self._check_x(X)
        Y = self._check_y(Y, X.shape[1])
        return self._accuracy_checked(X, Y)

    def _accuracy_checked(self, X, Y):
        if self.cost_name in ("squared_error", "poisson"):
            return float("nan")
        Y_hat = self._forward_chunks(X)[0]
        if self.cost_name == "categorical_cross_entropy":
            return float(np.mean(np.argmax(Y_hat, axis=0) == np.argmax(Y, axis=0)))
        return float(np.mean((Y_hat > 0.5) == (Y > 0.5)))

    # ---------------------------------------------------------------- backward
    def gradients(self, X, Y):
        """dJ/dW[l], dJ/db[l] (L2 term included) and dJ/dX for the whole batch X."""
        X = self._check_x(X)
        Y = self._check_y(Y, X.shape[1])
        m = X.shape[1]
        with self._lock, kernel_section():
            if self._gpu is not None:
                self._gpu.upload_params(self._params)
                grads, dX, J = self._gpu.gradients(X, Y, self.l2)
                return Gradients([self._w_view(grads, l) for l in range(self.n_layers)],
                                 [self._b_view(grads, l) for l in range(self.n_layers)], dX, J)
            ws_off, total = engine.workspace_layout(self.sizes, m)
            ws = np.zeros(total, dtype=self.dtype)
            grads = np.zeros_like(self._params)
            losses = np.zeros(m, dtype=self.dtype)
            engine.forward_pass(self._params, self._sizes, self._w_off, self._b_off, self._act_codes,
                                X, ws, ws_off)
            J = engine.batch_cost(self._params, self._sizes, self._w_off, self._act_codes, self._cost_code,
                                  self._fused, self.l2, Y, ws, ws_off, losses)
            engine.backward_pass(self._params, grads, self._sizes, self._w_off, self._b_off,
                                 self._act_codes, self._cost_code, self._fused, self.l2, X, Y, ws, ws_off,
                                 True)
            dX = engine.view_f(ws, ws_off[engine.DA, 0], self.sizes[0], m).copy(order="F")
        return Gradients([self._w_view(grads, l) for l in range(self.n_layers)],
                         [self._b_view(grads, l) for l in range(self.n_layers)], dX, float(J))

    # -------------------------------------------------------------------- fit
    def fit(self, X, Y, epochs=10, batch_size=32, learning_rate=0.1, *, optimizer="sgd",
            momentum=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8, lr_schedule="constant",
            power_t=0.5, step_size=10, gamma=None, clip_norm=None, shuffle=True,
            validation_data=None, validation_fraction=0.0, early_stopping=False, patience=10,
            min_delta=1e-4, progress=None, callback=None, verbose=False):
        """Train with mini-batch gradient descent or one of its variants.

        Parameters
        ----------
        X : array of shape (n0, m)
            Inputs, columns are examples.
        Y : array of shape (nL, m), or (m,) integer labels for categorical CE
        epochs : int
        batch_size : int or None
            None is full-batch GD, 1 is SGD.
        learning_rate : float
            alpha, the initial learning rate of the schedule.
        optimizer : {"sgd", "momentum", "nesterov", "adam"}
            sgd is the slides' W <- W - alpha dJ/dW (with L2:
            (1 - alpha lambda) W - alpha dJ/dW); see
            :func:`fnn_numba.kernels.optimizer_step` for the others.
        momentum : float
            mu of momentum and nesterov, in [0, 1).
        beta1, beta2, epsilon : float
            Adam's decay rates and denominator guard.
        lr_schedule : {"constant", "invscaling", "step", "exponential"}
            Learning rate of epoch e (0-based): alpha, alpha / (e + 1)^power_t,
            alpha gamma^(e // step_size), alpha gamma^e.
        power_t, step_size, gamma : float, int, float
            Schedule parameters; gamma defaults to 0.5 (step) and 0.95
            (exponential).
        clip_norm : float or None
            Clip the global gradient norm of each batch to this value.
        shuffle : bool
            Shuffle the examples each epoch with the network's seeded generator.
        validation_data : (X_val, Y_val) or None
        validation_fraction : float
            When no validation_data is given, hold out this fraction of the
            examples (a seeded random subset) for validation.
        early_stopping : bool
            Stop when the monitored cost (validation cost, else the training
            cost) has not improved by min_delta for ``patience`` epochs, and
            restore the weights of the best epoch.
        progress : bool or None
            A progress bar (tqdm); None shows it only when stderr is a terminal.
        callback : callable or None
            callback(epoch, history) after each epoch (epoch counts from 1).
        verbose : bool
            Print one line per epoch.

        Returns
        -------
        History

        Raises
        ------
        TrainingDivergedError
            If the cost or an update becomes non-finite; the network keeps the
            weights of the last finite step.

        Notes
        -----
        ``fit`` continues from the current weights (warm start) and starts a
        fresh optimizer state; :meth:`partial_fit` keeps the state between
        calls. A KeyboardInterrupt is honoured between batches: the network
        keeps the weights of the last completed step and the history its
        completed epochs.
        """
        plan = self._training_plan(X, Y, epochs, batch_size, learning_rate, optimizer, momentum,
                                   beta1, beta2, epsilon, lr_schedule, power_t, step_size, gamma,
                                   clip_norm, validation_data, validation_fraction, early_stopping,
                                   patience, min_delta, callback)
        self._optimizer_state = None
        return self._run_epochs(plan, shuffle, progress, verbose)

    def partial_fit(self, X, Y, batch_size=32, learning_rate=0.1, *, optimizer="sgd", momentum=0.9,
                    beta1=0.9, beta2=0.999, epsilon=1e-8, clip_norm=None, shuffle=True):
        """One epoch of training that keeps the optimizer's state (velocity,
        Adam moments and step count) from the previous ``partial_fit``.
        Returns the epoch's :class:`History`."""
        plan = self._training_plan(X, Y, 1, batch_size, learning_rate, optimizer, momentum, beta1,
                                   beta2, epsilon, "constant", 0.5, 10, None, clip_norm, None, 0.0,
                                   False, 10, 1e-4, None)
        return self._run_epochs(plan, shuffle, False, False)

    def _training_plan(self, X, Y, epochs, batch_size, learning_rate, optimizer, momentum, beta1,
                       beta2, epsilon, lr_schedule, power_t, step_size, gamma, clip_norm,
                       validation_data, validation_fraction, early_stopping, patience, min_delta,
                       callback):
        """Validate every argument before anything changes."""
        X = self._check_x(X)
        m = X.shape[1]
        Y = self._check_y(Y, m)
        p = dict(epochs=V.check_positive("epochs", epochs, integer=True))
        p["batch_size"] = m if batch_size is None else V.check_positive("batch_size", batch_size,
                                                                         integer=True)
        p["learning_rate"] = V.check_positive("learning_rate", learning_rate)
        p["optimizer"] = V.check_choice("optimizer", optimizer, OPTIMIZERS)
        p["momentum"] = V.check_positive("momentum", momentum, allow_zero=True)
        for name, value in (("momentum", p["momentum"]), ("beta1", beta1), ("beta2", beta2)):
            value = V.check_positive(name, value, allow_zero=True)
            if value >= 1:
                raise ValueError(f"{name}: expected a value in [0, 1), got {value!r}")
            p[name] = value
        p["epsilon"] = V.check_positive("epsilon", epsilon)
        p["lr_schedule"] = V.check_choice("lr_schedule", lr_schedule, SCHEDULES)
        p["power_t"] = V.check_positive("power_t", power_t, allow_zero=True)
        p["step_size"] = V.check_positive("step_size", step_size, integer=True)
        if gamma is None:
            gamma = {"step": 0.5, "exponential": 0.95}.get(p["lr_schedule"], 1.0)
        p["gamma"] = V.check_positive("gamma", gamma)
        p["clip_norm"] = 0.0 if clip_norm is None else V.check_positive("clip_norm", clip_norm)
        p["patience"] = V.check_positive("patience", patience, integer=True)
        p["min_delta"] = V.check_positive("min_delta", min_delta, allow_zero=True)
        p["early_stopping"] = bool(early_stopping)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable or None, got {callback!r}")
        p["callback"] = callback
        fraction = V.check_positive("validation_fraction", validation_fraction, allow_zero=True)
        Xv = Yv = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(f"validation_data: expected a pair (X_val, Y_val), got {type(validation_data).__name__}")
            Xv = self._check_x(validation_data[0], "validation_data[0]")
            Yv = self._check_y(validation_data[1], Xv.shape[1], "validation_data[1]")
        elif fraction > 0:
            if fraction >= 1:
                raise ValueError(f"validation_fraction: expected a value in [0, 1), got {fraction!r}")
            n_val = int(round(fraction * m))
            if n_val < 1 or n_val >= m:
                raise ValueError(f"validation_fraction: {fraction} of {m} examples leaves "
                                 f"{n_val} for validation and {m - n_val} for training; need at least 1 of each")
            held = np.sort(self._rng.permutation(m)[:n_val])
            keep = np.setdiff1d(np.arange(m), held)
            Xv, Yv = np.asfortranarray(X[:, held]), np.asfortranarray(Y[:, held])
            X, Y = np.asfortranarray(X[:, keep]), np.asfortranarray(Y[:, keep])
        p.update(X=X, Y=Y, Xv=Xv, Yv=Yv)
        p["batch_size"] = min(p["batch_size"], X.shape[1])
        return p

    def _learning_rate_at(self, p, epoch):
        alpha, schedule = p["learning_rate"], p["lr_schedule"]
        if schedule == "invscaling":
            return alpha / (epoch + 1) ** p["power_t"]
        if schedule == "step":
            return alpha * p["gamma"] ** (epoch // p["step_size"])
        if schedule == "exponential":
            return alpha * p["gamma"] ** epoch
        return alpha

    def _run_epochs(self, p, shuffle, progress, verbose):
        X, Y, Xv, Yv = p["X"], p["Y"], p["Xv"], p["Yv"]
        m, batch_size = X.shape[1], p["batch_size"]
        n_batches = (m + batch_size - 1) // batch_size
        kind = OPTIMIZERS[p["optimizer"]]
        history = History()
        # kept on the network too, so that it survives an interrupted fit
        self.history = history
        bar = _progress_bar(p["epochs"], progress)
        # batches per call of the jitted driver: about 2e8 flops, so that a
        # KeyboardInterrupt is honoured within a few tens of milliseconds
        flops_per_batch = 6.0 * self._params.size * batch_size
        chunk = int(max(1, min(n_batches, 2e8 // flops_per_batch)))
        if self._gpu is not None:
            chunk = n_batches  # one call per epoch: the GPU syncs with the host only per epoch
        best_cost, best_params, best_epoch, waited = np.inf, None, 0, 0
        with self._lock, kernel_section():
            ws = self._workspace(batch_size, "fit")
            state = self._optimizer_state
            if state is None or state["kind"] != kind:
                state = _new_optimizer_state(kind, self._params, full=self._gpu is not None)
                self._optimizer_state = state
            elif self._gpu is not None:
                # state from the CPU keeps only what its optimizer uses; the
                # arrays it left empty are unused, so zeros lose nothing
                for key in ("velocity", "second"):
                    if state[key].size == 0:
                        state[key] = np.zeros_like(self._params)
            # plain SGD on the CPU keeps no state and needs no step buffer
            step = np.zeros(0 if kind == OPTIMIZERS["sgd"] and self._gpu is None else self._params.size,
                            dtype=self.dtype)
            gpu_fit = None
            if self._gpu is not None:
                self._gpu.upload_params(self._params)
                gpu_fit = self._gpu.begin_fit(X, Y, batch_size, state["velocity"], state["second"])
            batch_costs = np.zeros(n_batches, dtype=np.float64)
            batch_sizes = np.full(n_batches, batch_size, dtype=np.float64)
            batch_sizes[-1] = m - batch_size * (n_batches - 1)
            try:
                for epoch in range(p["epochs"]):
                    t_start = time.perf_counter()
                    lr = self._learning_rate_at(p, self._epochs_trained)
                    order = (self._rng.permutation(m) if shuffle else np.arange(m)).astype(np.int64)
                    for first in range(0, n_batches, chunk):
                        stop = min(first + chunk, n_batches)
                        if gpu_fit is not None:
                            bad = self._gpu.train_batches(
                                gpu_fit, order, first, stop, batch_costs, kind, int(state["t"][0]), lr,
                                p["momentum"], p["beta1"], p["beta2"], p["epsilon"],
                                p["clip_norm"], self.l2, state["velocity"], state["second"],
                                self._params)
                            # the CPU driver advances state["t"] itself, step by step
                            state["t"] += (stop - first) if bad < 0 else (bad - first)
                        else:
                            bad = engine.train_batches(
                                self._params, ws["grads"], self._sizes, self._w_off,
                                self._b_off, self._act_codes, self._cost_code, self._fused, self.l2,
                                X, Y, order, batch_size, first, stop, ws["x_buf"], ws["ws"],
                                ws["ws_off"], ws["losses"], batch_costs, kind, state["velocity"],
                                state["second"], step, state["t"], lr, p["momentum"], p["beta1"],
                                p["beta2"], p["epsilon"], p["clip_norm"])
                        if bad >= 0:
                            raise TrainingDivergedError(
                                f"training diverged at epoch {epoch + 1}, batch {bad + 1} of "
                                f"{n_batches}: the cost or an updated parameter became NaN or inf "
                                f"(learning_rate={lr:g} may be too large); the weights of the last "
                                f"finite step are kept", epoch + 1, bad + 1, history)
                    self._epochs_trained += 1
                    history.cost.append(float(np.dot(batch_costs, batch_sizes) / m))
                    history.learning_rate.append(lr)
                    if Xv is not None:
                        history.val_cost.append(self._cost_checked(Xv, Yv))
                        history.val_accuracy.append(self._accuracy_checked(Xv, Yv))
                    history.epoch_seconds.append(time.perf_counter() - t_start)
                    monitored = history.val_cost[-1] if Xv is not None else history.cost[-1]
                    if monitored < best_cost - p["min_delta"]:
                        best_cost, best_epoch, waited = monitored, epoch + 1, 0
                        if p["early_stopping"]:
                            best_params = self._params.copy()
                    else:
                        waited += 1
                    history.best_epoch = best_epoch
                    if verbose:
                        print(_epoch_line(history, epoch + 1, p["epochs"], self.cost_name), flush=True)
                    if bar is not None:
                        bar.update(epoch + 1, history)
                    if p["callback"] is not None:
                        p["callback"](epoch + 1, history)
                    if p["early_stopping"] and waited >= p["patience"]:
                        history.stopped_epoch = epoch + 1
                        break
            finally:
                if bar is not None:
                    bar.close()
            if p["early_stopping"] and best_params is not None:
                self._params[...] = best_params
        return history

    # ------------------------------------------------------------- save/load
    def _metadata(self):
        return dict(format=FORMAT_NAME, version=FORMAT_VERSION, sizes=self.sizes,
                    activations=self.activations, cost=self.cost_name, init=self.init,
                    dtype=np.dtype(self.dtype).name, l2=self.l2, seed=self.seed)

    def save(self, path):
        """Write the network to ``path`` (.npz), atomically: a temporary file in
        the same directory is written, flushed and renamed over ``path``, so a
        crash mid-save never leaves a half-written model under that name.

        The file holds a versioned JSON header (format, version, sizes,
        activations, cost, init, dtype, l2, seed, epochs trained, the state of
        the shuffling generator, optimizer name), the flat parameter vector [W1, b1, W2, b2, ...] and, after
        training, the optimizer's state (velocity / first moment, second
        moment, step count)."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".fnn-", suffix=".tmp", dir=directory)
        try:
            arrays = dict(params=self._params)
            meta = self._metadata()
            meta["epochs_trained"] = self._epochs_trained
            # the shuffling generator's state: training resumed after a load
            # draws the same batches as it would have without the round trip
            meta["rng_state"] = self._rng.bit_generator.state
            state = self._optimizer_state
            if state is not None:
                # the optimizer's state, so that partial_fit resumes exactly after a load
                meta["optimizer"] = next(n for n, c in OPTIMIZERS.items() if c == state["kind"])
                arrays.update(optimizer_velocity=state["velocity"], optimizer_second=state["second"],
                              optimizer_steps=state["t"])
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, metadata=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                         **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path, device="cpu"):
        """Read a network written by :meth:`save` (on any device); the round
        trip is exact. ``device`` says where the loaded network runs."""
        device = _check_device(device)
        try:
            with np.load(os.fspath(path), allow_pickle=False) as data:
                meta = json.loads(bytes(data["metadata"]).decode())
                params = data["params"]
                optimizer_arrays = {key: data[key] for key in
                                    ("optimizer_velocity", "optimizer_second", "optimizer_steps")
                                    if key in data.files}
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise ValueError(f"path: {path!s} is not a readable fnn_numba model file ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise ValueError(f"path: {path!s} is not an fnn_numba model file")
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"path: {path!s} has format version {meta.get('version')!r}; "
                             f"this fnn_numba reads version {FORMAT_VERSION}")
        net = cls(meta["sizes"], meta["activations"], meta["cost"], meta["init"], meta["dtype"],
                  meta["seed"], meta["l2"])
        if params.shape != net._params.shape or params.dtype != net._params.dtype:
            raise ValueError(f"path: {path!s} holds {params.shape[0]} {params.dtype} parameters, "
                             f"its architecture needs {net._params.shape[0]} {net._params.dtype}")
        net._params[...] = params
        net._epochs_trained = int(meta.get("epochs_trained", 0))
        if meta.get("rng_state") is not None:
            try:
                net._rng.bit_generator.state = meta["rng_state"]
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"path: {path!s} has an unreadable generator state ({exc})") from exc
        if meta.get("optimizer") is not None:
            if meta["optimizer"] not in OPTIMIZERS or len(optimizer_arrays) != 3 or any(
                    optimizer_arrays[k].shape not in (params.shape, (0,))
                    for k in ("optimizer_velocity", "optimizer_second")):
                raise ValueError(f"path: {path!s} has an incomplete or inconsistent optimizer state")
            net._optimizer_state = dict(
                kind=OPTIMIZERS[meta["optimizer"]],
                velocity=optimizer_arrays["optimizer_velocity"].astype(net.dtype),
                second=optimizer_arrays["optimizer_second"].astype(net.dtype),
                t=optimizer_arrays["optimizer_steps"].astype(np.int64).reshape(1))
        return net.to(device) if device != "cpu" else net


def _new_optimizer_state(kind, params, full=False):
    """Zeroed optimizer state: the velocity (first moment) and second moment
    the optimizer ``kind`` uses, empty for those it does not (plain SGD uses
    neither, momentum and nesterov no second moment); ``full`` sizes both
    (the GPU engine takes both whatever the optimizer)."""
    uses_velocity = full or kind != OPTIMIZERS["sgd"]
    uses_second = full or kind == OPTIMIZERS["adam"]
    return dict(kind=kind, velocity=np.zeros(params.size if uses_velocity else 0, dtype=params.dtype),
                second=np.zeros(params.size if uses_second else 0, dtype=params.dtype),
                t=np.zeros(1, dtype=np.int64))


def _check_device(device):
    if isinstance(device, str) and device.lower() in ("cpu", "cuda"):
        return device.lower()
    raise ValueError(f"device: expected one of cpu, cuda; got {device!r}")


def _epoch_line(history, epoch, epochs, cost_name):
    line = f"epoch {epoch:4d}/{epochs}  cost {history.cost[-1]:.6f}"
    if history.val_cost:
        line += f"  val_cost {history.val_cost[-1]:.6f}"
        if cost_name not in ("squared_error", "poisson"):
            line += f"  val_accuracy {history.val_accuracy[-1]:.4f}"
    return line


def _progress_bar(total, enabled):
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
