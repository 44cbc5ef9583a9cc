"""The :class:`Network` class: validation, parameters, layers and history.

Every formula runs in the kernels of :mod:`fnn_numba.kernels`, through a
backend (:mod:`fnn_numba.backends`): the jitted drivers of
:mod:`fnn_numba.engine` on the CPU, their CUDA twins on a GPU. Training runs
the one loop of :mod:`fnn_numba.training`.
"""

import json
import numbers
import os
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

from . import _validation as V
from . import layers as layers_mod
from . import sparse as sparse_mod
from ._encoding import one_hot
from ._model_file import FORMAT_NAME, FORMAT_VERSION, read_model_file
from .activations import POSITIVE_OUTPUT, UNIT_INTERVAL_OUTPUT
from .backends import FORWARD_CHUNK, CPUBackend  # noqa: F401 (FORWARD_CHUNK is public)
from .costs import COST_ALIASES, COSTS, FUSED_PAIRS
from .init import INITIALISERS, initial_parameters
from .optimizers import OPTIMIZER_CLASSES, make_optimizer
from .training import (
    SCHEDULES,  # noqa: F401 (re-exported)
    History,
    Plan,
    TrainingDivergedError,
    check_batch_size,
    check_callback,
    make_schedule,
    run_epochs,
)

__all__ = ["Network", "Gradients", "History", "TrainingDivergedError", "ForwardPass"]


@dataclass
class Gradients:
    """dJ/dW[l] (``weights[l-1]``), dJ/db[l] (``biases[l-1]``), dJ/dX
    (``inputs``, the shape of the X passed) and the cost J they belong to
    (None for gradients from a given output gradient)."""

    weights: list
    biases: list
    inputs: np.ndarray
    cost: object


@dataclass
class ForwardPass:
    """Every layer's Z[l] and A[l] (l = 1..L, ``Z[l-1]``, ``A[l-1]``) for one
    batch, each of shape (n[l], m)."""

    Z: list
    A: list


def _default_output(cost_name):
    return {
        "categorical_cross_entropy": "softmax",
        "binary_cross_entropy": "sigmoid",
        "squared_error": "identity",
        "poisson": "exp",
    }[cost_name]


class Network:
    """A feedforward network, as derived in Lalin's "Feedforward Neural
    Networks in Depth".

    Parameters
    ----------
    layers : list of layers, or list of int (also accepted as ``sizes=``)
        The general form is a list of :mod:`fnn_numba.layers` objects, the
        first an :class:`~fnn_numba.layers.Input`::

            Network([layers.Input(64), layers.Dense(32, activation="relu"),
                     layers.Dense(10, activation="softmax")])

        A list of ints [n0, n1, ..., nL] is the shorthand for a stack of
        dense layers with the given ``activations``; it builds the same
        network (the same parameters for the same seed).
    activations : list of str, optional
        Shorthand only: one per layer l = 1..L, from identity, sigmoid, tanh,
        relu, leaky_relu, elu, selu, softmax, exp. Default: relu for hidden
        layers and the output activation that matches ``cost`` (softmax for
        categorical cross-entropy, sigmoid for binary cross-entropy, identity
        for squared error, exp for poisson).
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
        CUDA twins of the kernels and needs ``pip install "fnn-numba[cuda]"``
        and an NVIDIA GPU; see :meth:`to`.

    Data follow the derivation: X has shape (n0, m), columns are examples.
    ``X_samples_by_features.T`` is accepted without a copy. A network whose
    Input has maps (C, H, W) (convolutional layers, docs/convolution.rst)
    also takes X of shape (C, H, W, m); ``gradients(...).inputs`` then has
    that shape too.
    """

    def __init__(
        self,
        layers=None,
        activations=None,
        cost="categorical_cross_entropy",
        init="auto",
        dtype=np.float64,
        seed=None,
        l2=0.0,
        device="cpu",
        *,
        sizes=None,
    ):
        if sizes is not None:
            if layers is not None:
                raise ValueError("sizes: give the layers or the sizes, not both")
            layers = sizes
        device = _check_device(device)
        self.cost_name = V.check_choice("cost", cost, COSTS, COST_ALIASES)
        stack = self._layer_list(layers, activations)
        self.input_layer, stack = layers_mod.build_stack(stack)
        self.layers = [self.input_layer] + stack
        self.sizes = [self.input_layer.size] + [layer.size for layer in stack]
        self.activations = [layer.activation for layer in stack]
        if (
            self.cost_name in ("binary_cross_entropy", "categorical_cross_entropy")
            and self.activations[-1] not in UNIT_INTERVAL_OUTPUT
        ):
            raise ValueError(
                f"activations: {self.cost_name} needs an output in (0, 1) by construction "
                f"(sigmoid or softmax as the last activation), got {self.activations[-1]!r}"
            )
        if self.cost_name == "poisson" and self.activations[-1] not in POSITIVE_OUTPUT:
            raise ValueError(
                f"activations: poisson needs an output > 0 by construction (exp, sigmoid or "
                f"softmax as the last activation), got {self.activations[-1]!r}"
            )
        self.dtype = V.check_dtype(dtype)
        self.l2 = V.check_positive("l2", l2, allow_zero=True)
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
        ):
            raise ValueError(f"seed: expected None or a non-negative integer, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.init = V.check_choice("init", init, set(INITIALISERS) | {"auto"})
        if self.init == "auto":
            self.init = (
                "he"
                if len(stack) > 1 and self.activations[0] in ("relu", "leaky_relu")
                else "xavier"
            )

        self._cost_code = COSTS[self.cost_name]
        self._fused = (self.activations[-1], self.cost_name) in FUSED_PAIRS
        self._geom, n_params = layers_mod.parameter_layout(stack)
        self._hyper = layers_mod.hyper_table(stack)
        self._rng = np.random.default_rng(self.seed)
        self._params = np.empty(n_params, dtype=self.dtype)
        initial_parameters(self.init, stack, self._rng, self._params, self._geom)
        self._lock = threading.RLock()
        self._optimizer = None
        self._epochs_trained = 0
        self.history = History()
        self._backend = CPUBackend(self)
        if device == "cuda":
            self.to("cuda")

    def _layer_list(self, layers, activations):
        if isinstance(layers, (list, tuple)) and layers and isinstance(layers[0], layers_mod.Layer):
            if activations is not None:
                raise ValueError(
                    "activations: give each layer its activation (Dense(units, "
                    "activation=...)); activations= is only for the list-of-sizes form"
                )
            return list(layers)
        sizes = V.check_sizes(layers)
        L = len(sizes) - 1
        if activations is None:
            activations = ["relu"] * (L - 1) + [_default_output(self.cost_name)]
        if isinstance(activations, str) or not hasattr(activations, "__len__"):
            raise ValueError(
                f"activations: expected a list of {L} activation names, got {activations!r}"
            )
        if len(activations) != L:
            raise ValueError(
                f"activations: expected {L} names (one per layer with weights), "
                f"got {len(activations)}: {list(activations)!r}"
            )
        for a in activations:
            layers_mod.Dense(1, a)  # names the bad activation in the error
        return layers_mod.dense_stack(sizes, activations)

    # ------------------------------------------------------------------ params
    @property
    def n_layers(self):
        """L, the number of layers after the input."""
        return len(self.layers) - 1

    @property
    def n_parameters(self):
        return self._params.size

    @property
    def epochs_trained(self):
        """Epochs completed by ``fit`` and ``partial_fit`` since the network was built."""
        return self._epochs_trained

    def _parametrised(self):
        return [(i, layer) for i, layer in enumerate(self.layers[1:]) if layer.parameter_shapes()]

    def _param_view(self, buf, i, name):
        g = self._geom[i]
        shape = dict(self.layers[i + 1].parameter_shapes())[name]
        off = g[layers_mod.W_OFF] if name == "W" else g[layers_mod.B_OFF]
        return buf[off : off + int(np.prod(shape))].reshape(shape)

    def _unflatten(self, buf):
        """(weights, biases) views of a flat vector laid out as the parameters."""
        # (offset, size, shape) of every W and b, worked out once: this runs
        # on every gradients() and step() of a custom training loop
        layout = self.__dict__.get("_view_layout")
        if layout is None:
            layout = self._view_layout = [
                [
                    (int(off), int(np.prod(shape)), shape)
                    for off, shape in (
                        (
                            self._geom[i][layers_mod.W_OFF if name == "W" else layers_mod.B_OFF],
                            dict(layer.parameter_shapes())[name],
                        )
                        for i, layer in self._parametrised()
                    )
                ]
                for name in ("W", "b")
            ]
        return tuple([buf[o : o + n].reshape(shape) for o, n, shape in part] for part in layout)

    @property
    def weights(self):
        """The weights of the parametrised layers in order (W[l] of shape
        (n[l], n[l-1]) for a dense layer); views of the network's parameters
        (writing to them changes the network)."""
        return self._unflatten(self._params)[0]

    @weights.setter
    def weights(self, values):
        self._set_parameters(values, None)

    @property
    def biases(self):
        """The biases of the parametrised layers in order (b[l] of shape
        (n[l],) for a dense layer); views of the parameters."""
        return self._unflatten(self._params)[1]

    @biases.setter
    def biases(self, values):
        self._set_parameters(None, values)

    def _set_parameters(self, weights, biases):
        new = self._params.copy()
        new_w, new_b = self._unflatten(new)
        for name, values, views in (("weights", weights, new_w), ("biases", biases, new_b)):
            if values is None:
                continue
            if len(values) != len(views):
                raise ValueError(f"{name}: expected {len(views)} arrays, got {len(values)}")
            for l, (v, view) in enumerate(zip(values, views)):
                arr = np.asarray(v)
                if arr.shape != view.shape:
                    raise ValueError(f"{name}[{l}]: expected shape {view.shape}, got {arr.shape}")
                if not np.issubdtype(arr.dtype, np.number):
                    raise TypeError(f"{name}[{l}]: expected a numeric array, got dtype {arr.dtype}")
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"{name}[{l}]: contains NaN or inf")
                view[...] = arr
        self._params[...] = new

    def get_parameters(self):
        """A copy of the flat parameter vector [W1, b1, W2, b2, ...]."""
        return self._params.copy()

    def set_parameters(self, flat):
        """Set every parameter from a flat vector laid out as
        :meth:`get_parameters` returns it (checked: length, finiteness)."""
        arr = np.asarray(flat)
        if arr.ndim != 1 or arr.shape[0] != self._params.size:
            raise ValueError(
                f"flat: expected a vector of {self._params.size} parameters, got shape {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ValueError("flat: expected finite numbers")
        self._params[...] = arr

    # ------------------------------------------------------------------ device
    @property
    def device(self):
        """ "cpu" or "cuda": where the network's computations run."""
        return self._backend.name

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
            if device == "cpu" and self.device != "cpu":
                self._backend = CPUBackend(self)
            elif device == "cuda" and self.device != "cuda":
                from .backends import CUDABackend

                self._backend = CUDABackend(self)
        return self

    def __getstate__(self):
        """Pickle support: the lock and the backend (with its workspaces and
        any device copy) are rebuilt on unpickling, not stored."""
        state = self.__dict__.copy()
        for transient in ("_lock", "_backend", "_sparse_backend"):
            state.pop(transient, None)
        state["_device"] = self.device
        return state

    def __setstate__(self, state):
        state = dict(state)
        device = state.pop("_device", "cpu")
        self.__dict__.update(state)
        if "_hyper" not in state:  # pickled before the float table existed
            self._hyper = layers_mod.hyper_table(self.layers[1:])
        self._lock = threading.RLock()
        self._backend = CPUBackend(self)
        if device != "cpu":
            self.to(device)

    def __repr__(self):
        if all(isinstance(layer, layers_mod.Dense) for layer in self.layers[1:]):
            arch = f"sizes={self.sizes}, activations={self.activations}"
        else:
            arch = f"layers={self.layers[1:]!r}"
        return (
            f"Network({arch}, cost={self.cost_name!r}, "
            f"dtype={np.dtype(self.dtype).name}, l2={self.l2})"
        )

    # ---------------------------------------------------------------- checking
    def _check_x(self, X, name="X", sparse=False):
        """X as (n0, m) columns. A network whose Input has maps (C, H, W) also
        takes X of shape (C, H, W, m), read as its (C H W, m) columns (C order
        of channel, row, column). With ``sparse``, a SciPy sparse X becomes
        the canonical CSC matrix of :mod:`fnn_numba.sparse` (never dense)."""
        if sparse and sparse_mod.issparse(X):
            sparse_mod.check_network(self, name)
            return sparse_mod.as_sparse_columns(name, X, self.dtype, self.sizes[0])
        shape = self.input_layer.shape
        arr = X
        if len(shape) == 3 and np.ndim(X) == 4:
            arr = np.asarray(X)
            if arr.shape[:3] != shape:
                raise ValueError(
                    f"{name}: expected maps of shape {shape} (channels, height, "
                    f"width) then examples, got shape {arr.shape}"
                )
            arr = arr.reshape(self.sizes[0], arr.shape[3])
        return V.as_float_matrix(name, arr, self.dtype, rows=self.sizes[0])

    def _backend_for(self, X):
        """The backend that runs X: the network's, or for a sparse X the
        sparse drivers of :mod:`fnn_numba.sparse` (CPU, Dense layers)."""
        if not sparse_mod.issparse(X):
            return self._backend
        backend = self.__dict__.get("_sparse_backend")
        if backend is None or backend.cpu is not self._backend:
            # kept, with its workspaces, while the network's backend stays
            backend = self._sparse_backend = sparse_mod.SparseCPUBackend(self._backend)
        return backend

    def _check_y(self, Y, m, name="Y"):
        nL = self.sizes[-1]
        arr = np.asarray(Y)
        if arr.ndim == 1 and self.cost_name == "categorical_cross_entropy":
            return self._one_hot(arr, m, name)
        if arr.ndim == 1 and nL == 1:
            arr = arr.reshape(1, -1)
        y = V.as_float_matrix(name, arr, self.dtype, rows=nL)
        if y.shape[1] != m:
            raise ValueError(
                f"{name}: expected {m} columns (as many examples as X), got {y.shape[1]}"
            )
        if self.cost_name == "poisson" and np.any(y < 0):
            raise ValueError(f"{name}: poisson needs targets >= 0, got a minimum of {y.min()}")
        if self.cost_name in ("binary_cross_entropy", "categorical_cross_entropy") and (
            np.any(y < 0) or np.any(y > 1)
        ):
            raise ValueError(
                f"{name}: {self.cost_name} needs targets in [0, 1], got values in "
                f"[{y.min()}, {y.max()}]"
            )
        return y

    def _check_sample_weight(self, sample_weight, m, name="sample_weight"):
        """The example weights s as a C-contiguous vector of the network's
        dtype, or None: shape (m,), finite, >= 0, not all zero."""
        if sample_weight is None:
            return None
        if self.device != "cpu":
            raise NotImplementedError(
                f"{name}: sample_weight is not supported on "
                f"device={self.device!r} yet; use device='cpu'"
            )
        arr = np.asarray(sample_weight)
        if (
            arr.dtype == object
            or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
            or np.issubdtype(arr.dtype, np.complexfloating)
        ):
            raise TypeError(
                f"{name}: expected real numbers, one weight per example, got dtype {arr.dtype}"
            )
        if arr.shape != (m,):
            raise ValueError(
                f"{name}: expected shape ({m},), one weight per example (column of "
                f"X), got shape {arr.shape}"
            )
        out = np.ascontiguousarray(arr, dtype=self.dtype)
        if not np.all(np.isfinite(out)):
            raise ValueError(f"{name}: contains NaN or inf (in {np.dtype(self.dtype).name})")
        if np.any(out < 0):
            raise ValueError(f"{name}: expected weights >= 0, got a minimum of {out.min()}")
        if not np.any(out > 0):
            raise ValueError(f"{name}: expected at least one weight > 0, got all zero")
        return out

    def _one_hot(self, labels, m, name):
        return one_hot(labels, self.sizes[-1], self.dtype, name=name, m=m)

    # ----------------------------------------------------------------- forward
    def forward(self, X, return_all=False):
        """Y_hat = A[L] for inputs X of shape (n0, m); returns (n[L], m).

        With ``return_all=True`` returns a :class:`ForwardPass` holding every
        layer's Z[l] and A[l] instead (hidden layers included)."""
        X = self._check_x(X, sparse=True)
        with self._lock:
            if return_all:
                return ForwardPass(*self._backend_for(X).forward_all(X))
            return self._backend_for(X).forward(X)[0]

    def cost(self, X, Y, sample_weight=None):
        """J = (1/m) sum_i L_i, plus (lambda/2) sum ||W||^2 when l2 > 0.

        With ``sample_weight`` s of shape (m,) (finite, >= 0, not all zero):
        J = sum_i s_i L_i / sum_i s_i, plus the same L2 term."""
        X = self._check_x(X, sparse=True)
        Y = self._check_y(Y, X.shape[1])
        S = self._check_sample_weight(sample_weight, X.shape[1])
        return self._cost_checked(X, Y, S)

    def _cost_checked(self, X, Y, S=None):
        with self._lock:
            J = self._forward_cost(X, Y, S)[1]
            if self.l2 > 0:
                J += self._backend.penalty()
        return float(J)

    def _forward_cost(self, X, Y, S):
        # the unweighted call keeps the backends' common signature
        backend = self._backend_for(X)
        return backend.forward(X, Y) if S is None else backend.forward(X, Y, S)

    def _validation_figures(self, X, Y, S=None):
        """(cost, accuracy) on validated data, from one forward pass; both
        weighted by S when given."""
        with self._lock:
            Y_hat, J = self._forward_cost(X, Y, S)
            if self.l2 > 0:
                J += self._backend.penalty()
        return float(J), self._accuracy_of(Y_hat, Y, S)

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
        X = self._check_x(X, sparse=True)
        Y = self._check_y(Y, X.shape[1])
        return self._accuracy_checked(X, Y)

    def _accuracy_checked(self, X, Y):
        if self.cost_name in ("squared_error", "poisson"):
            return float("nan")
        with self._lock:
            Y_hat = self._backend_for(X).forward(X)[0]
        return self._accuracy_of(Y_hat, Y)

    def _accuracy_of(self, Y_hat, Y, S=None):
        """The fraction classified correctly; with example weights S, the
        weighted fraction sum_i s_i [correct_i] / sum_i s_i."""
        if self.cost_name in ("squared_error", "poisson"):
            return float("nan")
        if self.cost_name == "categorical_cross_entropy":
            correct = np.argmax(Y_hat, axis=0) == np.argmax(Y, axis=0)
        else:
            correct = (Y_hat > 0.5) == (Y > 0.5)
        if S is None:
            return float(np.mean(correct))
        # binary CE with several outputs scores each (output, example) pair
        return float(np.average(correct, weights=np.broadcast_to(S, correct.shape)))

    # ---------------------------------------------------------------- backward
    def gradients(self, X, Y=None, sample_weight=None, *, output_gradient=None):
        """Gradients of the whole batch X, as a :class:`Gradients`.

        With targets ``Y``: dJ/dW, dJ/db (L2 term included) and dJ/dX of the
        network's cost J; with ``sample_weight`` s of shape (m,), of the
        weighted cost J = sum_i s_i L_i / sum_i s_i (+ the L2 term), whose
        seed is (s_i / sum s) dL_i/dA[L][:, i].

        With ``output_gradient`` G = dJ/dA[L] of shape (n[L], m) instead (for
        a cost or a model the network is part of): back-propagation seeded
        with G as is (no 1/m applied), P1 (17) at the output (the cross-sum
        P2 (8) for softmax), then P1 (13), (14), (21) layer by layer; no L2
        term. This equals ``y = torch_net(x); y.backward(G)``.
        """
        x_shape = X.shape if sparse_mod.issparse(X) else np.shape(X)
        X = self._check_x(X, sparse=True)
        m = X.shape[1]
        if (Y is None) == (output_gradient is None):
            raise ValueError(
                "gradients: give either Y (targets of the network's cost) or "
                "output_gradient (dJ/dA[L]), not both and not neither"
            )
        if sample_weight is not None and output_gradient is not None:
            raise ValueError(
                "sample_weight: weights the network's cost, so it goes with Y; "
                "with output_gradient, scale G's columns instead"
            )
        with self._lock:
            if output_gradient is not None:
                G = V.as_float_matrix(
                    "output_gradient", output_gradient, self.dtype, rows=self.sizes[-1]
                )
                if G.shape[1] != m:
                    raise ValueError(
                        f"output_gradient: expected {m} columns (as many examples "
                        f"as X), got {G.shape[1]}"
                    )
                grads, dX = self._backend_for(X).output_gradients(X, G)
                J = None
            else:
                Y = self._check_y(Y, m)
                S = self._check_sample_weight(sample_weight, m)
                backend = self._backend_for(X)
                grads, dX, J = backend.gradients(X, Y) if S is None else backend.gradients(X, Y, S)
            grads = np.array(grads, copy=True)
        weights, biases = self._unflatten(grads)
        if len(x_shape) == 4:
            dX = dX.reshape(x_shape)
        return Gradients(weights, biases, dX, J)

    def step(
        self, gradients, learning_rate=0.01, *, optimizer=None, clip_norm=None, clip_value=None
    ):
        """Apply given gradients with the network's optimizer and its state.

        ``gradients`` is a :class:`Gradients` (as :meth:`gradients` returns)
        or a flat vector laid out as :meth:`get_parameters`. ``optimizer``
        ("sgd", "momentum", "nesterov", "adam" or an
        :class:`~fnn_numba.optimizers.Optimizer`) replaces the network's
        optimizer (and its state) when it differs from the current one;
        None keeps the current one (plain SGD if there is none). The update is
        the same kernel ``fit`` runs. Raises
        :class:`TrainingDivergedError` (nothing written) when a parameter
        would become non-finite.
        """
        flat = self.flatten_gradients(gradients)
        if not np.all(np.isfinite(flat)):
            raise ValueError("gradients: contains NaN or inf")
        lr = V.check_positive("learning_rate", learning_rate)
        cn = 0.0 if clip_norm is None else V.check_positive("clip_norm", clip_norm)
        cv = 0.0 if clip_value is None else V.check_positive("clip_value", clip_value)
        with self._lock:
            opt = self._optimizer_for(optimizer)
            if not self._backend.apply(flat, opt, lr, cn, cv):
                raise TrainingDivergedError(
                    "step: the update would make a parameter NaN or inf; nothing was written",
                    0,
                    0,
                    self.history,
                )

    def flatten_gradients(self, gradients):
        """A :class:`Gradients` (or a flat vector, checked) as one vector laid
        out as :meth:`get_parameters`: [dJ/dW1, dJ/db1, dJ/dW2, ...]."""
        if isinstance(gradients, Gradients):
            flat = np.empty_like(self._params)
            w, b = self._unflatten(flat)
            for name, src, dst in (
                ("weights", gradients.weights, w),
                ("biases", gradients.biases, b),
            ):
                if len(src) != len(dst):
                    raise ValueError(
                        f"gradients.{name}: expected {len(dst)} arrays, got {len(src)}"
                    )
                for l, (g, d) in enumerate(zip(src, dst)):
                    if np.shape(g) != d.shape:
                        raise ValueError(
                            f"gradients.{name}[{l}]: expected shape {d.shape}, got {np.shape(g)}"
                        )
                    d[...] = g
            return flat
        flat = np.asarray(gradients, dtype=self.dtype)
        if flat.shape != self._params.shape:
            raise ValueError(
                f"gradients: expected a Gradients or a flat vector of "
                f"{self._params.size} values, got shape {flat.shape}"
            )
        return flat

    def _optimizer_for(self, optimizer):
        """The optimizer to use: the current one when ``optimizer`` is None
        or names its kind, else a new one (with fresh state)."""
        cur = self._optimizer
        if optimizer is None:
            if cur is None:
                cur = self._optimizer = make_optimizer("sgd")
            return cur
        if (
            isinstance(optimizer, str)
            and cur is not None
            and V.check_choice("optimizer", optimizer, OPTIMIZER_CLASSES) == cur.name
        ):
            return cur
        self._optimizer = make_optimizer(optimizer)
        return self._optimizer

    @property
    def optimizer(self):
        """The optimizer of the last ``fit``, ``partial_fit`` or :meth:`step`
        (hyper-parameters and state), or None."""
        return self._optimizer

    # -------------------------------------------------------------------- fit
    def fit(
        self,
        X,
        Y,
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
        validation_data=None,
        validation_fraction=0.0,
        early_stopping=False,
        patience=10,
        min_delta=1e-4,
        progress=None,
        callback=None,
        verbose=False,
        tol=1e-4,
        max_fun=15000,
        sample_weight=None,
    ):
        """Train with mini-batch gradient descent or one of its variants.

        Parameters
        ----------
        X : array of shape (n0, m)
            Inputs, columns are examples. A SciPy sparse matrix (CSC or
            CSR) of that shape is read in place, never densified (networks of
            Dense layers on the CPU: :mod:`fnn_numba.sparse`); so is it in
            ``partial_fit``, ``forward``, ``predict``, ``cost``, ``accuracy``
            and ``gradients`` (whose dJ/dX is then dense).
        Y : array of shape (nL, m), or (m,) integer labels for categorical CE
        epochs : int
        batch_size : int or None
            None is full-batch GD, 1 is SGD. A value larger than the number of
            training examples runs as one batch, with a warning.
        learning_rate : float
            alpha, the initial learning rate of the schedule.
        optimizer : {"sgd", "momentum", "nesterov", "adam", "lbfgs"} or Optimizer
            sgd is W <- W - alpha dJ/dW (with L2:
            (1 - alpha lambda) W - alpha dJ/dW); see
            :mod:`fnn_numba.optimizers` for the others. "lbfgs" is
            full-batch L-BFGS (:func:`fnn_numba.lbfgs.fit_lbfgs`, needs
            SciPy): ``epochs`` is its most iterations, ``tol`` and
            ``max_fun`` its gradient tolerance and most cost evaluations;
            ``batch_size``, the learning rate and its schedule, clipping,
            shuffling and early stopping do not apply, and ``history.cost``
            holds J after each iteration.
        momentum : float
            mu of momentum and nesterov, in [0, 1).
        beta1, beta2, epsilon : float
            Adam's decay rates and denominator guard.
        lr_schedule : {"constant", "invscaling", "step", "exponential"}
            Learning rate of epoch e of this call (0-based: every ``fit``
            starts its schedule, and its optimizer state, afresh): alpha,
            alpha / (e + 1)^power_t, alpha gamma^(e // step_size), alpha gamma^e.
        power_t, step_size, gamma : float, int, float
            Schedule parameters; gamma defaults to 0.5 (step) and 0.95
            (exponential).
        clip_norm : float or None
            Clip the global gradient norm of each batch to this value.
        clip_value : float or None
            Clip each gradient element to [-clip_value, clip_value] (before
            ``clip_norm`` when both are given).
        shuffle : bool
            Shuffle the examples each epoch with the network's seeded generator.
        validation_data : (X_val, Y_val), (X_val, Y_val, sample_weight_val) or None
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
        tol, max_fun : float, int
            L-BFGS only (see ``optimizer``).
        sample_weight : array of shape (m,) or None
            Example weights s (finite, >= 0, not all zero): each batch's cost
            is J = sum_i s_i L_i / sum_i s_i (+ the L2 term, unscaled), its
            gradient the weighted one. Integer weights train as repeating
            each example that many times would (up to the batches' make-up).
            ``history.cost`` stays the mean of the batch costs weighted by
            their example counts. Validation figures (cost and accuracy) are
            weighted by the held-out examples' weights with
            ``validation_fraction``, by the third element of
            ``validation_data`` when given, and unweighted otherwise. CPU only.

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
        ``fit`` continues from the current weights (warm start) with a fresh
        optimizer state and a schedule from its epoch 0; :meth:`partial_fit`
        keeps the state between calls. A KeyboardInterrupt is honoured
        between batches: the network keeps the weights of the last completed
        step and ``history`` its completed epochs.
        """
        if isinstance(optimizer, str) and optimizer.lower() == "lbfgs":
            return self._fit_lbfgs(
                X, Y, epochs, tol, max_fun, validation_data, callback, verbose, sample_weight
            )
        plan = self._training_plan(
            X,
            Y,
            epochs=epochs,
            batch_size=batch_size,
            schedule=make_schedule(learning_rate, lr_schedule, power_t, step_size, gamma),
            optimizer=make_optimizer(optimizer, momentum, beta1, beta2, epsilon),
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
            sample_weight=sample_weight,
            sparse=True,
        )
        return self._train(plan)

    def _fit_lbfgs(
        self, X, Y, epochs, tol, max_fun, validation_data, callback, verbose, sample_weight=None
    ):
        from .lbfgs import fit_lbfgs

        epochs = V.check_positive("epochs", epochs, integer=True)
        callback = check_callback(callback)
        X = self._check_x(X, sparse=True)
        Y = self._check_y(Y, X.shape[1])
        S = self._check_sample_weight(sample_weight, X.shape[1])
        Xv, Yv, Sv = self._check_validation_data(validation_data, sparse=True)
        history = self.history = History()

        def after_iteration(iteration, J):
            self._epochs_trained += 1
            history.cost.append(J)
            history.learning_rate.append(float("nan"))
            if Xv is not None:
                val_cost, val_accuracy = self._validation_figures(Xv, Yv, Sv)
                history.val_cost.append(val_cost)
                history.val_accuracy.append(val_accuracy)
            if callback is not None:
                callback(iteration, history)

        with self._lock:
            fit_lbfgs(
                self,
                X,
                Y,
                max_iter=epochs,
                max_fun=max_fun,
                tol=tol,
                verbose=verbose,
                callback=after_iteration,
                sample_weight=S,
            )
        history.best_epoch = (
            int(np.argmin(history.val_cost if Xv is not None else history.cost)) + 1
            if history.cost
            else 0
        )
        return history

    def partial_fit(
        self,
        X,
        Y,
        batch_size=32,
        learning_rate=0.1,
        *,
        optimizer="sgd",
        momentum=0.9,
        beta1=0.9,
        beta2=0.999,
        epsilon=1e-8,
        clip_norm=None,
        clip_value=None,
        shuffle=True,
        sample_weight=None,
        l2_per_weight=False,
    ):
        """One epoch of training that keeps the optimizer's state (velocity,
        Adam moments and step count) from the previous ``partial_fit`` (or
        ``fit``, or :meth:`step`) when the optimizer is of the same kind.
        ``sample_weight`` as in :meth:`fit`; with ``l2_per_weight`` each
        batch's lambda is l2 m_b / S_b (m_b examples of weight sum S_b), the
        penalty of scikit-learn's MLP, (alpha/2) ||W||^2 / S_b, when
        l2 = alpha / m_b. Returns the epoch's :class:`History`."""
        opt = make_optimizer(optimizer, momentum, beta1, beta2, epsilon)
        cur = self._optimizer
        if cur is not None and cur.kind == opt.kind:
            opt.velocity, opt.second, opt.t = cur.velocity, cur.second, cur.t
        plan = self._training_plan(
            X,
            Y,
            epochs=1,
            batch_size=batch_size,
            schedule=make_schedule(learning_rate),
            optimizer=opt,
            clip_norm=clip_norm,
            clip_value=clip_value,
            shuffle=shuffle,
            progress=False,
            sample_weight=sample_weight,
            l2_per_weight=bool(l2_per_weight),
            sparse=True,
        )
        return self._train(plan)

    def _training_plan(
        self,
        X,
        Y,
        *,
        epochs,
        batch_size,
        schedule,
        optimizer,
        clip_norm=None,
        clip_value=None,
        shuffle=True,
        validation_data=None,
        validation_fraction=0.0,
        early_stopping=False,
        patience=10,
        min_delta=1e-4,
        callback=None,
        progress=None,
        verbose=False,
        whole_batches=True,
        names=("X", "Y"),
        sample_weight=None,
        l2_per_weight=False,
        sparse=False,
    ):
        """Validate every argument before anything changes; a frozen :class:`Plan`.

        ``whole_batches``: a batch size above the number of examples becomes
        that number (with a warning); distributed training keeps its local
        batch size, which the other ranks' shards may fill. ``sparse``: X (and
        the validation data) may be SciPy sparse (the CPU runner reads them
        in place)."""
        X = self._check_x(X, names[0], sparse=sparse)
        m = X.shape[1]
        Y = self._check_y(Y, m, names[1])
        S = self._check_sample_weight(sample_weight, m)
        epochs = V.check_positive("epochs", epochs, integer=True)
        if batch_size is not None:
            V.check_positive("batch_size", batch_size, integer=True)
        patience = V.check_positive("patience", patience, integer=True)
        min_delta = V.check_positive("min_delta", min_delta, allow_zero=True)
        clip_norm = 0.0 if clip_norm is None else V.check_positive("clip_norm", clip_norm)
        clip_value = 0.0 if clip_value is None else V.check_positive("clip_value", clip_value)
        callback = check_callback(callback)
        fraction = V.check_positive("validation_fraction", validation_fraction, allow_zero=True)
        Xv, Yv, Sv = self._check_validation_data(validation_data, sparse=sparse)
        if validation_data is None and fraction > 0:
            if fraction >= 1:
                raise ValueError(
                    f"validation_fraction: expected a value in [0, 1), got {fraction!r}"
                )
            n_val = int(round(fraction * m))
            if n_val < 1 or n_val >= m:
                raise ValueError(
                    f"validation_fraction: {fraction} of {m} examples leaves "
                    f"{n_val} for validation and {m - n_val} for training; need at "
                    f"least 1 of each"
                )
            held = np.sort(self._rng.permutation(m)[:n_val])
            keep = np.setdiff1d(np.arange(m), held)
            Xv, X = _take_columns(X, held), _take_columns(X, keep)
            Yv, Y = np.asfortranarray(Y[:, held]), np.asfortranarray(Y[:, keep])
            if S is not None:
                # the held-out examples keep their weights for the validation figures
                # (training weights that are all zero leave only the L2 term: a
                # batch of weight sum 0 has no data term)
                Sv, S = S[held], S[keep]
        if whole_batches:
            batch_size = check_batch_size(batch_size, X.shape[1])
        return Plan(
            X=X,
            Y=Y,
            Xv=Xv,
            Yv=Yv,
            epochs=epochs,
            batch_size=batch_size,
            schedule=schedule,
            optimizer=optimizer,
            clip_norm=clip_norm,
            clip_value=clip_value,
            shuffle=bool(shuffle),
            early_stopping=bool(early_stopping),
            patience=patience,
            min_delta=min_delta,
            callback=callback,
            progress=progress,
            verbose=bool(verbose),
            sample_weight=S,
            Sv=Sv,
            l2_per_weight=bool(l2_per_weight),
        )

    def _check_validation_data(self, validation_data, sparse=False):
        """(X_val, Y_val, weights or None) checked, or (None, None, None)."""
        if validation_data is None:
            return None, None, None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                f"validation_data: expected a pair (X_val, Y_val) or a triple "
                f"(X_val, Y_val, sample_weight_val), got "
                f"{type(validation_data).__name__}"
            )
        Xv = self._check_x(validation_data[0], "validation_data[0]", sparse=sparse)
        Yv = self._check_y(validation_data[1], Xv.shape[1], "validation_data[1]")
        Sv = None
        if len(validation_data) == 3:
            Sv = self._check_sample_weight(validation_data[2], Xv.shape[1], "validation_data[2]")
        return Xv, Yv, Sv

    def _train(self, plan):
        """Run a plan through the one training loop with this network's backend."""
        history = History()
        # kept on the network too, so that it survives an interrupted fit
        self.history = history
        with self._lock:
            self._optimizer = plan.optimizer
            runner = self._backend_for(plan.X).runner(plan)

            def epoch_done(epoch, stopping):
                self._epochs_trained += 1

            return run_epochs(plan, runner, history, self.cost_name, epoch_done)

    # ------------------------------------------------------------- save/load
    def _metadata(self):
        return dict(
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            sizes=self.sizes,
            activations=self.activations,
            layers=[layer.config() for layer in self.layers],
            cost=self.cost_name,
            init=self.init,
            dtype=np.dtype(self.dtype).name,
            l2=self.l2,
            seed=self.seed,
        )

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
            opt = self._optimizer
            if opt is not None:
                # the optimizer's state, so that partial_fit resumes exactly after a load
                opt.ensure_state(self._params)
                meta["optimizer"] = opt.name
                meta["optimizer_hyperparameters"] = opt.hyperparameters()
                arrays.update(
                    optimizer_velocity=opt.velocity,
                    optimizer_second=opt.second,
                    optimizer_steps=opt.t,
                )
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

    @classmethod
    def load(cls, path, device="cpu"):
        """Read a network written by :meth:`save` (on any device); the round
        trip is exact. ``device`` says where the loaded network runs. A file
        that is not a model, or a damaged one (NaN parameters included),
        raises ValueError naming the file; nothing is ever unpickled."""
        device = _check_device(device)
        contents = read_model_file(path)
        meta, params, opt_state = contents["metadata"], contents["params"], contents["optimizer"]
        try:
            if meta.get("layers") is not None:
                arch = [layers_mod.from_config(c) for c in meta["layers"]]
                net = cls(
                    arch, None, meta["cost"], meta["init"], meta["dtype"], meta["seed"], meta["l2"]
                )
            else:
                net = cls(
                    meta["sizes"],
                    meta["activations"],
                    meta["cost"],
                    meta["init"],
                    meta["dtype"],
                    meta["seed"],
                    meta["l2"],
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"path: {path!s} describes no valid network ({exc})") from exc
        if params.shape != net._params.shape:
            raise ValueError(
                f"path: {path!s} holds {params.shape[0]} {params.dtype} parameters, "
                f"its architecture needs {net._params.shape[0]} {net._params.dtype}"
            )
        net._params[...] = params
        net._epochs_trained = int(meta.get("epochs_trained", 0))
        if meta.get("rng_state") is not None:
            try:
                net._rng.bit_generator.state = meta["rng_state"]
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(
                    f"path: {path!s} has an unreadable generator state ({exc})"
                ) from exc
        if opt_state is not None:
            if opt_state["name"] not in OPTIMIZER_CLASSES:
                raise ValueError(
                    f"path: {path!s} names the unknown optimizer {opt_state['name']!r}"
                )
            opt = make_optimizer(opt_state["name"], **meta.get("optimizer_hyperparameters", {}))
            opt.velocity, opt.second, opt.t = (
                opt_state["velocity"],
                opt_state["second"],
                opt_state["steps"],
            )
            net._optimizer = opt
        return net.to(device) if device != "cpu" else net


def _take_columns(X, idx):
    """Columns idx of validated data, in the same form (F-ordered, or the
    canonical CSC of :mod:`fnn_numba.sparse`)."""
    if sparse_mod.issparse(X):
        out = X[:, idx]
        out.sort_indices()
        return out
    return np.asfortranarray(X[:, idx])


def _check_device(device):
    if isinstance(device, str) and device.lower() in ("cpu", "cuda"):
        return device.lower()
    raise ValueError(f"device: expected one of cpu, cuda; got {device!r}")
