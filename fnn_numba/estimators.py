"""scikit-learn's MLPClassifier and MLPRegressor, on fnn_numba's kernels.

:class:`FNNClassifier` and :class:`FNNRegressor` take scikit-learn's
parameters under scikit-learn's names, defaults and meanings, set the same
fitted attributes and raise the same warnings and errors, so that changing
``from sklearn.neural_network import MLPClassifier`` into
``from fnn_numba import FNNClassifier as MLPClassifier`` is the whole port.
Every forward pass, backward pass and optimizer step runs in the jitted
kernels behind :class:`fnn_numba.Network`.

Orientation: X arrives as (n_samples, n_features); the network takes
``X.T``, whose examples are columns as in the derivation. The transpose of a
C-ordered array is Fortran-ordered, exactly the layout the kernels read, so
no copy is made (nor for a sparse X: see below).

How scikit-learn's training is reproduced (module-level so that the
estimators' docstrings stay short):

- **Initial weights**: Glorot uniform, U(-b, b) with
  b = sqrt(f / (fan_in + fan_out)), f = 2 for logistic hidden units and 6
  otherwise, drawn per layer (weights, then biases) from
  ``check_random_state(random_state)``: the same draws as scikit-learn.
- **Epochs**: the estimator drives the network one epoch at a time
  (:meth:`Network.partial_fit`, which keeps the optimizer's state), so that
  the learning rate can change between epochs. Each epoch shuffles the
  sample order with the same generator and the same calls as scikit-learn,
  then runs the full batches and, when ``batch_size`` does not divide
  n_samples, the short last batch.
- **alpha**: scikit-learn adds (alpha / 2) ||W||^2 / n_b to the loss of a
  batch of n_b examples; the network's L2 term is (lambda / 2) ||W||^2 on top
  of the mean loss J (P1 (14) with the L2 term). So lambda = alpha / n_b,
  set per batch size: alpha / batch_size for the full batches and
  alpha / n_last for the short last one (the two runs of each epoch), and
  alpha / n_samples for lbfgs. The penalty and its gradient are therefore
  exactly scikit-learn's for every batch.
- **Loss values**: ``loss_curve_[e]`` is the mean over epoch e's batches,
  weighted by batch size, of the batch cost before each update, L2 term
  included, as scikit-learn computes it. For squared error with k > 1
  outputs scikit-learn reports 1/2 the mean over outputs of the squared
  error while its gradient is that of 1/2 the sum; the network's J is
  1/2 the sum (the gradient both use), so ``loss_`` is k times
  scikit-learn's data term there. Convergence with ``tol`` is judged on
  these values.
- **Learning rate**: "constant"; "invscaling" lr = learning_rate_init /
  (t + 1)^power_t with t the number of samples seen so far (``t_``), set at
  the end of every epoch; "adaptive": the rate is divided by 5 each time
  n_iter_no_change + 1 consecutive epochs fail to improve by tol, and
  training stops once it is at most 1e-6. Only the sgd solver uses
  ``learning_rate``; adam keeps learning_rate_init.
- **Stopping**: an epoch that does not lower the training loss below
  ``best_loss_ - tol`` (or, with ``early_stopping``, does not raise the
  validation score above ``best_validation_score_ + tol``) counts as no
  improvement; after more than n_iter_no_change such epochs in a row
  training stops (or the adaptive rate drops). ``n_iter_no_change=np.inf``
  never stops early.
- **Validation split** (``early_stopping``): ``train_test_split`` with the
  estimator's generator and ``validation_fraction``, stratified for
  single-output classifiers (binary labels), as scikit-learn 1.9 does; the
  score is accuracy (classifier) or R^2 (regressor), NaN when the
  predictions are not finite; the weights of the best-scoring epoch are
  restored at the end.
- **Divergence**: the network refuses a step that would make the cost or a
  parameter non-finite (:class:`fnn_numba.TrainingDivergedError`).
  Without early stopping that is scikit-learn's ValueError for non-finite
  weights; with early stopping the epoch scores NaN (as scikit-learn's
  non-finite predictions do), training stops with a ConvergenceWarning and
  the weights of the best epoch are restored.
- **Optimizers**: sgd with momentum 0 is plain SGD; with momentum > 0 it is
  momentum or, with ``nesterovs_momentum``, Nesterov's update, as
  :func:`fnn_numba.kernels.optimizer_step` writes them (scikit-learn's
  formulas). adam is the kernels' Adam,
  -lr m_hat / (sqrt(s_hat) + epsilon), where scikit-learn's step is
  -lr m_hat / (sqrt(s_hat) + epsilon / sqrt(1 - beta_2^t)): the two differ
  only in how epsilon is scaled during the first steps.
- **lbfgs**: :func:`fnn_numba.lbfgs.fit_lbfgs`, SciPy's L-BFGS-B on the
  network's own cost and gradient, with maxiter=max_iter,
  maxfun=max_fun, gtol=tol.

- **sample_weight** (scikit-learn 1.9's semantics): a batch's loss is
  sum_i s_i L_i / S_b and its penalty (alpha / 2) ||W||^2 / S_b, S_b the
  batch's weight sum (n_b without weights); in the network that is the
  weighted cost of the kernels (the seed scaled by s_i / S_b,
  :func:`fnn_numba.kernels.cost_seed_weighted`) with lambda = alpha / n_b
  and ``l2_per_weight`` (lambda_b = alpha / S_b), and for lbfgs
  lambda = alpha / sum_i s_i over the whole set. ``loss_curve_`` still
  weighs each batch's loss by its example count, as scikit-learn's does.
  With ``early_stopping`` the weights split with their examples (the same
  split as without weights) and the validation score is the weighted
  accuracy or R^2. Weights must be >= 0 (scikit-learn also takes negative
  ones); on ``device="cuda"`` they are refused. A run of examples whose
  weights are all zero (the short last batch, say) is skipped, where
  scikit-learn fails dividing by a zero weight sum. ``class_weight``
  (classifier, fnn_numba only) multiplies them by the weights of the
  classes.

- **Sparse X** (SciPy CSR or CSC, as scikit-learn's MLP takes it): never
  densified. The CSR matrix of shape (n_samples, n_features) transposed is
  the CSC matrix of shape (n_features, n_samples) that the network takes,
  the same arrays; layer 1's P1 (1) and P1 (13) run as loops over the
  stored entries (:mod:`fnn_numba.sparse`), everything else as for dense X.
  CPU only, and for the estimators' networks (Dense layers) only.
"""

import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels

    # validate_data (and the tags API used below) arrived in scikit-learn 1.6
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:
    raise ImportError(
        "FNNClassifier and FNNRegressor need scikit-learn >= 1.6: "
        'pip install "fnn-numba[sklearn]" (' + str(exc) + ")"
    ) from exc

from . import _validation as V
from . import sparse as sparse_mod
from .lbfgs import fit_lbfgs, set_flat_parameters
from .network import Network, TrainingDivergedError
from .vectorized import cost_vectorized, losses_vectorized

__all__ = ["FNNClassifier", "FNNRegressor"]

#: scikit-learn's activation names and fnn_numba's extra ones -> the
#: network's names
HIDDEN_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "selu": "selu",
}
#: network output activation -> scikit-learn's name for it (``out_activation_``)
OUT_ACTIVATION_NAMES = {
    "identity": "identity",
    "sigmoid": "logistic",
    "softmax": "softmax",
    "exp": "exp",
}
#: network output activation -> the cost it is trained with
OUTPUT_COSTS = {
    "identity": "squared_error",
    "sigmoid": "binary_cross_entropy",
    "softmax": "categorical_cross_entropy",
    "exp": "poisson",
}
SOLVERS = ("lbfgs", "sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: scikit-learn's message for non-finite weights after fit (its test suite matches it)
NON_FINITE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain "
    "large values and need to be preprocessed."
)
#: below this an adaptive learning rate stops training, as in scikit-learn
ADAPTIVE_FLOOR = 1e-6

_COMMON_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Sizes of the hidden layers; ``()`` gives a network without hidden
        layers.
    activation : str or list of str, default="relu"
        Hidden activation: "identity", "logistic", "tanh", "relu", or
        fnn_numba's "leaky_relu", "elu", "selu". A list gives one per hidden
        layer (fnn_numba only).
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
    alpha : float, default=0.0001
        Strength of the L2 penalty (alpha / 2) ||W||^2 / n_batch (biases
        excluded), scaled as scikit-learn scales it (module doc).
    batch_size : int or "auto", default="auto"
        Examples per step of sgd and adam; "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of the sgd solver (module doc).
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
        Exponent of "invscaling".
    max_iter : int, default=200
        Epochs of sgd and adam; iterations of lbfgs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the shuffling.
    tol : float, default=1e-4
    verbose : bool or int, default=False
        Print "Iteration %d, loss = %.8f" after each epoch (and lbfgs
        iteration).
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's constants.
    n_iter_no_change : int or np.inf, default=10
    max_fun : int, default=15000
        Most cost evaluations of lbfgs.
    dtype : None, "float32" or "float64", default=None
        fnn_numba only: precision of the parameters and arithmetic; None
        follows X (float32 X gives float32 parameters, anything else
        float64), as scikit-learn does.
    device : {"cpu", "cuda"}, default="cpu"
        fnn_numba only: where the network runs (see :meth:`Network.to`).
    clip_norm : float or None, default=None
        fnn_numba only: clip the global gradient norm of each batch.
"""

_COMMON_ATTRIBUTES = """
    loss_ : float
        Loss of the last epoch (lbfgs: the final cost), L2 term included.
    best_loss_ : float or None
        Lowest training loss seen (None with early stopping; sgd and adam).
    loss_curve_ : list of float
        Loss per epoch (per iteration for lbfgs).
    validation_scores_ : list of float or None
        Accuracy or R^2 on the validation split per epoch (early stopping).
    best_validation_score_ : float or None
    validation_loss_curve_ : list of float
        fnn_numba only: validation loss per epoch (L2 term excluded) with
        early stopping, else empty.
    t_ : int
        Training samples seen (sgd and adam).
    learning_rate_ : float
        fnn_numba only: the learning rate the next epoch of sgd or adam
        uses (after invscaling or adaptive changed it).
    coefs_ : list of ndarray
        ``coefs_[l]`` of shape (fan_in, fan_out) = W[l+1].T, views of the
        network's parameters. Assigning new arrays (or a new list) before
        ``partial_fit``, ``predict`` or a warm-started ``fit`` writes them
        into the network.
    intercepts_ : list of ndarray
        ``intercepts_[l]`` = b[l+1], shape (fan_out,); views as well.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.
    n_iter_ : int
        Epochs of the last ``fit`` (1 after ``partial_fit``); lbfgs
        iterations.
    n_layers_ : int
        Layers including input and output.
    n_outputs_ : int
    out_activation_ : str
        "identity", "exp", "logistic" or "softmax".
    network_ : fnn_numba.Network
        fnn_numba only: the network behind the estimator (X of shape
        (n_features, m) in its own API).
"""


def _as_rows(X, dtype):
    """Validated X of shape (n_samples, n_features) with examples as rows:
    C-ordered, or a canonical CSR matrix (sorted indices, no duplicates),
    in ``dtype``."""
    if not sparse_mod.issparse(X):
        return np.ascontiguousarray(X, dtype=dtype)
    X = X.tocsr().astype(dtype, copy=False)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _with_docs(text):
    return text.replace("%(parameters)s", _COMMON_PARAMETERS.strip("\n")).replace(
        "%(attributes)s", _COMMON_ATTRIBUTES.strip("\n")
    )


class _Schedule:
    """The learning rate of the stochastic solvers between epochs (kept as
    ``_optimizer``, where scikit-learn keeps its optimizer object, which has
    the same ``learning_rate``).

    ``iteration_ends(t)`` after each epoch: invscaling sets
    lr = lr_init / (t + 1)^power_t. ``trigger_stopping`` when the epochs
    stopped improving: True (stop) unless the schedule is adaptive with a
    rate above 1e-6, which is divided by 5 instead."""

    def __init__(self, learning_rate_init, schedule, power_t):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.schedule = schedule
        self.power_t = float(power_t)

    def iteration_ends(self, samples_seen):
        if self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (samples_seen + 1) ** self.power_t

    def trigger_stopping(self, message, verbose):
        if self.schedule != "adaptive":
            if verbose:
                print(message + " Stopping.")
            return True
        if self.learning_rate <= ADAPTIVE_FLOOR:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + f" Setting learning rate to {self.learning_rate:f}")
        return False


class _FNNBase(BaseEstimator):
    """Shared machinery; use :class:`FNNClassifier` or :class:`FNNRegressor`."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        device="cpu",
        clip_norm=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.device = device
        self.clip_norm = clip_norm

    # ------------------------------------------------------------- parameters
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise ValueError(
                f"hidden_layer_sizes: expected an int or a sequence of positive ints, "
                f"got {self.hidden_layer_sizes!r}"
            )
        sizes = list(sizes)
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(
                    f"hidden_layer_sizes: every size must be > 0, got {self.hidden_layer_sizes!r}"
                )
        return [int(s) for s in sizes]

    def _hidden_activations(self, n_hidden):
        acts = self.activation
        if isinstance(acts, str):
            acts = [acts] * n_hidden
        elif not isinstance(acts, (list, tuple)) or len(acts) != n_hidden:
            raise ValueError(
                f"activation: expected one of {', '.join(HIDDEN_ACTIVATIONS)} or a "
                f"list of {n_hidden} of them (one per hidden layer), got "
                f"{self.activation!r}"
            )
        return [
            HIDDEN_ACTIVATIONS[V.check_choice("activation", a, HIDDEN_ACTIVATIONS)] for a in acts
        ]

    def _check_params(self):
        """Validate every parameter before anything changes (scikit-learn
        validates in fit, never in __init__); returns the hidden sizes and
        the network's names of the hidden activations."""
        hidden = self._hidden_sizes()
        activations = self._hidden_activations(len(hidden))
        V.check_choice("solver", self.solver, SOLVERS)
        V.check_choice("learning_rate", self.learning_rate, LEARNING_RATES)
        V.check_positive("alpha", self.alpha, allow_zero=True)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            V.check_positive("batch_size", self.batch_size, integer=True)
        V.check_positive("learning_rate_init", self.learning_rate_init)
        V.check_positive("power_t", self.power_t, allow_zero=True)
        V.check_positive("max_iter", self.max_iter, integer=True)
        V.check_positive("max_fun", self.max_fun, integer=True)
        V.check_positive("tol", self.tol, allow_zero=True)
        V.check_positive("epsilon", self.epsilon)
        for name in ("momentum", "beta_1", "beta_2", "validation_fraction"):
            value = V.check_positive(name, getattr(self, name), allow_zero=True)
            if value >= 1:
                raise ValueError(f"{name}: expected a value in [0, 1), got {value!r}")
        n = self.n_iter_no_change
        if not (isinstance(n, numbers.Real) and not isinstance(n, bool) and n == np.inf):
            V.check_positive("n_iter_no_change", n, integer=True)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}: expected True or False, got {getattr(self, name)!r}")
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise TypeError(f"verbose: expected a bool or an int, got {self.verbose!r}")
        if self.dtype is not None:
            V.check_dtype(self.dtype)
        if self.clip_norm is not None:
            V.check_positive("clip_norm", self.clip_norm)
        V.check_choice("device", self.device, ("cpu", "cuda"))
        return hidden, activations

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str):
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                stacklevel=2,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _network_optimizer(self):
        if self.solver == "adam":
            return "adam"
        if self.momentum == 0:
            return "sgd"
        return "nesterov" if self.nesterovs_momentum else "momentum"

    # --------------------------------------------------------- the network
    def _new_network(self, layer_units, hidden_acts, out_activation, cost, dtype):
        """A network with scikit-learn's Glorot-uniform initial weights,
        drawn from ``self._random_state`` in scikit-learn's order."""
        net = Network(
            layer_units,
            hidden_acts + [out_activation],
            cost,
            init="zeros",
            dtype=dtype,
            seed=0,
            device=self.device,
        )
        weights, biases = [], []
        for l in range(len(layer_units) - 1):
            fan_in, fan_out = layer_units[l], layer_units[l + 1]
            # scikit-learn's factor follows the hidden activation, the output
            # layer included; with a list, the last hidden layer's
            act = hidden_acts[min(l, len(hidden_acts) - 1)] if hidden_acts else None
            bound = np.sqrt((2.0 if act == "sigmoid" else 6.0) / (fan_in + fan_out))
            weights.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)).T)
            biases.append(self._random_state.uniform(-bound, bound, fan_out))
        net.weights = weights
        net.biases = biases
        return net

    def _network_like(self, net):
        """A fresh network with ``net``'s architecture and parameters and no
        optimizer state (each ``fit`` starts a new optimizer, as
        scikit-learn's does)."""
        fresh = Network(
            net.sizes,
            net.activations,
            net.cost_name,
            init="zeros",
            dtype=net.dtype,
            seed=0,
            device=self.device,
        )
        fresh.weights = net.weights
        fresh.biases = net.biases
        return fresh

    def _expose(self, net):
        """Point ``coefs_``/``intercepts_`` at the network's parameters."""
        self.network_ = net
        self.coefs_ = [w.T for w in net.weights]
        self.intercepts_ = list(net.biases)
        self._exposed = (self.coefs_, self.intercepts_, list(self.coefs_), list(self.intercepts_))

    def _current_network(self, dtype, out_activation=None, cost=None):
        """The network behind ``coefs_``/``intercepts_``: the fitted one, with
        any arrays assigned to ``coefs_``/``intercepts_`` since written into
        it, or a new one built from them when they were set by hand (its
        output from ``out_activation``/``cost``, or else from
        ``out_activation_``)."""
        coefs, intercepts = self.__dict__["coefs_"], self.__dict__["intercepts_"]
        net = self.__dict__.get("network_")
        exposed = self.__dict__.get("_exposed")
        if (
            net is not None
            and exposed is not None
            and coefs is exposed[0]
            and intercepts is exposed[1]
            and all(a is b for a, b in zip(coefs, exposed[2]))
            and all(a is b for a, b in zip(intercepts, exposed[3]))
            and len(coefs) == len(exposed[2])
            and len(intercepts) == len(exposed[3])
        ):
            return net
        coefs = [np.asarray(c) for c in coefs]
        intercepts = [np.asarray(b).reshape(-1) for b in intercepts]
        if len(coefs) != len(intercepts) or not coefs or any(c.ndim != 2 for c in coefs):
            raise ValueError(
                f"coefs_: expected a list of 2-D arrays (fan_in, fan_out), one per "
                f"layer, with as many intercepts_, got {len(coefs)} coefs_ and "
                f"{len(intercepts)} intercepts_"
            )
        units = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
        if net is None or net.sizes != units:
            if out_activation is None:
                named = V.check_choice(
                    "out_activation_", self.out_activation_, set(OUT_ACTIVATION_NAMES.values())
                )
                out_activation = {v: k for k, v in OUT_ACTIVATION_NAMES.items()}[named]
                cost = OUTPUT_COSTS[out_activation]
            net = Network(
                units,
                self._hidden_activations(len(units) - 2) + [out_activation],
                cost,
                init="zeros",
                dtype=dtype,
                seed=0,
                device=self.device,
            )
        net.weights = [c.T for c in coefs]
        net.biases = intercepts
        self._expose(net)
        return net

    def _params_finite(self):
        return bool(np.all(np.isfinite(self.network_.get_parameters())))

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y, incremental, sample_weight=None):
        hidden, hidden_acts = self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = "coefs_" not in self.__dict__ or (not self.warm_start and not incremental)
        labels = y
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        S = self._sample_weights(X, labels, sample_weight, incremental)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        n_outputs = Y.shape[1]
        layer_units = [X.shape[1]] + hidden + [n_outputs]
        self._random_state = check_random_state(self.random_state)
        out_activation, cost = self._output(Y)
        if first_pass:
            net = self._initialize(layer_units, hidden_acts, out_activation, cost, X.dtype.type)
        else:
            net = self._current_network(X.dtype.type, out_activation, cost)
            if net.sizes != layer_units:
                raise ValueError(
                    f"X, y: the network has layer sizes {net.sizes}, these data need {layer_units}"
                )
            if not incremental:
                net = self._network_like(net)
                self._expose(net)
        self.n_outputs_ = n_outputs
        # the targets in the network's dtype and the orientation its kernels read
        Y = np.ascontiguousarray(Y, dtype=net.dtype)
        # C order, so that X.T (and every epoch's shuffled copy, transposed)
        # is the Fortran-ordered matrix the network takes without a copy;
        # for a sparse X, CSR: its transpose is the network's CSC matrix
        X = _as_rows(X, net.dtype)
        if S is not None:
            S = np.ascontiguousarray(S, dtype=net.dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(net, X, Y, S)
        else:
            self._fit_stochastic(net, X, Y, incremental, S)
        if not self._params_finite():
            raise ValueError(NON_FINITE_MESSAGE)
        return self

    def _sample_weights(self, X, y, sample_weight, incremental):
        """The examples' weights s (module doc), or None: ``sample_weight``
        checked as scikit-learn checks it (shape (n_samples,), a number for
        all; not all zero), and >= 0 (a negative weight makes the cost
        unbounded below). ``y`` is the labels as the caller gave them."""
        if sample_weight is None:
            return None
        if self.device != "cpu":
            raise NotImplementedError(
                f"sample_weight: sample_weight is not supported on "
                f"device={self.device!r} yet; use device='cpu'"
            )
        S = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if not np.all(np.isfinite(S)):
            raise ValueError("sample_weight: contains NaN or inf")
        if np.any(S < 0):
            raise ValueError(f"sample_weight: expected weights >= 0, got a minimum of {S.min()}")
        return S

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _validate_xy(self, X, y, reset):
        dtype = (np.float64, np.float32) if self.dtype is None else V.check_dtype(self.dtype)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=dtype,
            reset=reset,
            y_numeric=not is_classifier(self),
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _initialize(self, layer_units, hidden_acts, out_activation, cost, dtype):
        """Fresh weights and the attributes of a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = OUT_ACTIVATION_NAMES[out_activation]
        net = self._new_network(layer_units, hidden_acts, out_activation, cost, dtype)
        self._expose(net)
        self._best_params = net.get_parameters()
        if self.solver != "lbfgs":
            self._initialize_stochastic()
        return net

    def _initialize_stochastic(self):
        """The records of the stochastic solvers, fresh."""
        self.loss_curve_ = []
        self.validation_loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _fit_lbfgs(self, net, X, Y, S=None):
        # scikit-learn divides the penalty by the weight sum (the count without weights)
        total = X.shape[0] if S is None else float(np.sum(S, dtype=np.float64))
        net.l2 = float(self.alpha) / total
        result = fit_lbfgs(
            net,
            X.T,
            Y.T,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            verbose=bool(self.verbose),
            sample_weight=S,
        )
        self.n_iter_ = result.n_iter
        self.loss_ = result.loss
        self.loss_curve_ = list(result.loss_curve)
        if not result.converged:
            message = (
                f"lbfgs failed to converge after {result.n_iter} iteration(s) "
                f"(status={result.status}):\n{result.message}\n"
            )
            if result.n_iter == self.max_iter:
                message += (
                    f"\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={self.max_iter})."
                )
            warnings.warn(message, ConvergenceWarning, stacklevel=2)

    def _fit_stochastic(self, net, X, Y, incremental, S=None):
        # a warm start after lbfgs, or with early stopping switched, finds
        # records of the other kind: start them afresh
        if (
            "_no_improvement_count" not in self.__dict__
            or (self.early_stopping and getattr(self, "validation_scores_", None) is None)
            or (not self.early_stopping and getattr(self, "best_loss_", None) is None)
        ):
            self._initialize_stochastic()
        if "_best_params" not in self.__dict__:
            self._best_params = net.get_parameters()
        if not incremental or "_optimizer" not in self.__dict__:
            self._optimizer = _Schedule(
                self.learning_rate_init,
                self.learning_rate if self.solver == "sgd" else "constant",
                self.power_t,
            )
        self.learning_rate_ = self._optimizer.learning_rate
        early_stopping = self.early_stopping
        if early_stopping:
            # stratified on the 0/1 targets, as scikit-learn does (so its
            # error for a class of one member reads the same)
            stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
            # the weights split with their examples; passing them along draws
            # the same split as without them
            arrays = (X, Y) if S is None else (X, Y, S)
            split = train_test_split(
                *arrays,
                random_state=self._random_state,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            X_train, X_val, Y_train, Y_val = split[:4]
            S_train, S_val = (None, None) if S is None else split[4:]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase "
                    "'validation_fraction' or the size of your dataset."
                )
            y_val = self._decode(Y_val)
        else:
            X_train, Y_train, X_val, Y_val, y_val = X, Y, None, None, None
            S_train = S_val = S
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        n_full = (n_samples // batch_size) * batch_size
        order = np.arange(n_samples)
        options = dict(
            optimizer=self._network_optimizer(),
            momentum=self.momentum,
            beta1=self.beta_1,
            beta2=self.beta_2,
            epsilon=self.epsilon,
            clip_norm=self.clip_norm,
            shuffle=False,
        )
        alpha = float(self.alpha)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                if self.shuffle:
                    # what sklearn.utils.shuffle does to an index array (the
                    # same draws from the same generator), without its
                    # per-call argument checks
                    draw = np.arange(n_samples)
                    self._random_state.shuffle(draw)
                    order = order[draw]
                    Xe, Ye = X_train[order].T, Y_train[order].T
                    Se = None if S_train is None else S_train[order]
                else:
                    Xe, Ye, Se = X_train.T, Y_train.T, S_train
                lr = self._optimizer.learning_rate
                total = 0.0
                try:
                    # the full batches, then the short last one: lambda =
                    # alpha / n_b for each (module doc)
                    for start, stop in ((0, n_full), (n_full, n_samples)):
                        s = None if Se is None else Se[start:stop]
                        if stop > start and (s is None or np.any(s > 0)):
                            net.l2 = alpha / min(batch_size, stop - start)
                            history = net.partial_fit(
                                Xe[:, start:stop],
                                Ye[:, start:stop],
                                batch_size=batch_size,
                                learning_rate=lr,
                                sample_weight=s,
                                l2_per_weight=s is not None,
                                **options,
                            )
                            total += history.cost[0] * (stop - start)
                except TrainingDivergedError as exc:
                    if not early_stopping:
                        raise ValueError(f"{NON_FINITE_MESSAGE} ({exc})") from exc
                    # the weights of the best epoch come back below, as after
                    # any early stop; the epoch scores NaN, as scikit-learn's
                    # non-finite predictions do
                    self.validation_scores_.append(float("nan"))
                    self.validation_loss_curve_.append(float("nan"))
                    self.loss_curve_.append(float("nan"))
                    self.loss_ = float("nan")
                    self.n_iter_ += 1
                    warnings.warn(
                        f"{type(self).__name__}: training diverged in epoch "
                        f"{self.n_iter_} ({exc}); the weights of the best epoch are "
                        f"restored",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
                    break
                self.n_iter_ += 1
                self.loss_ = total / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(net, X_val, Y_val, y_val, S_val)
                self._optimizer.iteration_ends(self.t_)
                self.learning_rate_ = self._optimizer.learning_rate
                if self._no_improvement_count > self.n_iter_no_change:
                    watched = "Validation score" if early_stopping else "Training loss"
                    message = (
                        f"{watched} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs."
                    )
                    stop = self._optimizer.trigger_stopping(message, self.verbose)
                    self.learning_rate_ = self._optimizer.learning_rate
                    if stop:
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        f"reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)
        if early_stopping:
            set_flat_parameters(net, self._best_params)

    def _update_no_improvement_count(self, net, X_val, Y_val, y_val, S_val=None):
        if X_val is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
            return
        out = net.forward(X_val.T).T
        A, Yv = out.T.astype(np.float64), Y_val.T.astype(np.float64)
        with np.errstate(all="ignore"):
            if S_val is None:
                loss = cost_vectorized(net.cost_name, A, Yv)
            else:
                loss = np.average(losses_vectorized(net.cost_name, A, Yv), weights=S_val)
            self.validation_loss_curve_.append(float(loss))
        score = self._validation_score(out, y_val, S_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_params = net.get_parameters()

    # ------------------------------------------------------------- predict
    def _forward(self, X):
        """Network output for X of shape (n_samples, n_features), as
        (n_samples, n_outputs), in the network's dtype."""
        check_is_fitted(self, "coefs_")
        net = self.__dict__.get("network_")
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32) if net is None else net.dtype,
            reset=False,
        )
        net = self._current_network(X.dtype.type)
        return net.forward(X.T).T

    # --------------------------------------------------------------- pickle
    def __getstate__(self):
        # a copy: BaseEstimator hands out the live __dict__ for classes
        # outside scikit-learn
        state = dict(super().__getstate__())
        exposed = state.pop("_exposed", None)
        # coefs_/intercepts_ that still are the views of the network are
        # rebuilt from it, not pickled twice
        if (
            exposed is not None
            and state.get("coefs_") is exposed[0]
            and state.get("intercepts_") is exposed[1]
            and all(a is b for a, b in zip(state["coefs_"], exposed[2]))
            and all(a is b for a, b in zip(state["intercepts_"], exposed[3]))
        ):
            del state["coefs_"], state["intercepts_"]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "network_" in state and "coefs_" not in state:
            self._expose(self.network_)


class FNNClassifier(ClassifierMixin, _FNNBase):
    __doc__ = _with_docs("""Multi-layer perceptron classifier: scikit-learn's MLPClassifier
    on fnn_numba's kernels.

    Binary labels: one logistic output and binary cross-entropy. More
    classes: a softmax output layer and categorical cross-entropy. A 0/1
    label matrix (multilabel): one logistic output per label. Training,
    parameters and attributes follow scikit-learn's MLPClassifier (module
    doc of :mod:`fnn_numba.estimators` for how).

    Parameters
    ----------
%(parameters)s
    class_weight : None, "balanced", dict or list of dicts, default=None
        fnn_numba only (scikit-learn's MLPClassifier has no such parameter;
        this is its meaning in scikit-learn's other classifiers): each
        example's weight is multiplied by the weight of its class,
        ``compute_sample_weight(class_weight, y)``; "balanced" is
        n_samples / (n_classes * count of the class). A list of dicts gives
        one per label of multilabel y. "balanced" is refused by
        ``partial_fit``, whose calls see one batch each.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; column c of ``predict_proba`` is class ``classes_[c]``.
%(attributes)s

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fnn_numba import FNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier((16,), learning_rate_init=0.01, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X[:2]).shape  # doctest: +SKIP
    (2, 3)
    """)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        device="cpu",
        clip_norm=None,
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
            device=device,
            clip_norm=clip_norm,
        )
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Fit to X of shape (n_samples, n_features) and labels y of shape
        (n_samples,), or (n_samples, n_labels) 0/1 for multilabel.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
            Example weights s (>= 0, not all zero; times the class weights):
            each batch's loss is sum_i s_i L_i / sum_i s_i, and alpha's
            penalty (alpha / 2) ||W||^2 / sum_i s_i, as scikit-learn's
            (module doc).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y) that keeps the optimizer's state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.
        classes : array-like of shape (n_classes,), optional
            Every class that will ever occur; required on the first call.

        Returns
        -------
        self
        """
        self._check_params()
        if "classes_" not in self.__dict__:
            if classes is None:
                raise ValueError(
                    "classes: expected every class label on the first call to partial_fit, got None"
                )
            self.classes_ = unique_labels(classes)
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(
                f"classes: expected the classes of the first call {self.classes_}, "
                f"got {unique_labels(classes)}"
            )
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _sample_weights(self, X, y, sample_weight, incremental):
        """The base class's weights times the class weights of y's labels."""
        S = super()._sample_weights(X, y, sample_weight, incremental)
        cw = self.class_weight
        if cw is None:
            return S
        if isinstance(cw, str):
            V.check_choice("class_weight", cw, ("balanced",))
            if incremental:
                raise ValueError(
                    "class_weight: 'balanced' is not supported by partial_fit (each "
                    "call sees one batch); pass a dict, e.g. from "
                    "sklearn.utils.class_weight.compute_class_weight('balanced', "
                    "classes=classes, y=y)"
                )
        elif not isinstance(cw, (dict, list)):
            raise ValueError(
                f"class_weight: expected None, 'balanced', a dict {{class: weight}} "
                f"or a list of such dicts (multilabel), got {cw!r}"
            )
        if self.device != "cpu":
            raise NotImplementedError(
                f"class_weight: sample weights are not supported on "
                f"device={self.device!r} yet; use device='cpu'"
            )
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()
        W = compute_sample_weight(cw, labels).astype(X.dtype)
        if not np.all(np.isfinite(W)) or np.any(W < 0):
            raise ValueError(f"class_weight: expected finite weights >= 0, got {cw!r}")
        if S is not None:
            W = W * S
        if not np.any(W > 0):
            raise ValueError(
                "class_weight: every example's weight (class weight times sample_weight) is zero"
            )
        return W

    def _validate_input(self, X, y, incremental, reset):
        X, y = self._validate_xy(X, y, reset)
        if "classes_" not in self.__dict__ or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(y)
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        f"warm_start can only be used where `y` has the same classes "
                        f"as in the previous call to fit. Previously got "
                        f"{self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        if self._label_binarizer.y_type_ == "binary" and self.classes_.size < 2:
            raise ValueError(
                f"y: a classifier needs at least 2 classes, got 1 class ({self.classes_[0]!r})"
            )
        # bool, so that float32 X is not upcast by the targets
        return X, self._label_binarizer.transform(y).astype(bool)

    def _output(self, Y):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "categorical_cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    def _decode(self, P):
        """Labels from network outputs (or binarized targets) of shape
        (n_samples, n_outputs)."""
        if self.n_outputs_ == 1:
            P = P.ravel()
        return self._label_binarizer.inverse_transform(P)

    def _validation_score(self, out, y_val, S_val=None):
        if not np.all(np.isfinite(out)):
            return float("nan")
        return float(accuracy_score(y_val, self._decode(out), sample_weight=S_val))

    def predict(self, X):
        """Labels, shape (n_samples,), or the 0/1 matrix (n_samples, n_labels)
        for multilabel targets."""
        return self._decode(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes): column c is
        class ``classes_[c]`` (network output row c; for binary labels
        [1 - p, p] with p the single output); for multilabel targets the
        probability of each label."""
        P = self._forward(X)
        if self.n_outputs_ == 1:
            p = P[:, 0]
            return np.vstack([1 - p, p]).T
        return np.ascontiguousarray(P)

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class FNNRegressor(RegressorMixin, _FNNBase):
    __doc__ = _with_docs("""Multi-layer perceptron regressor: scikit-learn's MLPRegressor on
    fnn_numba's kernels.

    loss="squared_error": identity output and J = (1/m) sum_i (1/2)||y_i - y_hat_i||^2.
    loss="poisson": exp output and half the Poisson deviance
    J = (1/m) sum_i sum_j [y_hat - y + y log(y / y_hat)], for counts y >= 0.
    y of shape (n_samples,) or (n_samples, n_targets).

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
%(parameters)s

    Attributes
    ----------
%(attributes)s
    """)

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        device="cpu",
        clip_norm=None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
            device=device,
            clip_norm=clip_norm,
        )
        self.loss = loss

    def fit(self, X, y, sample_weight=None):
        """Fit to X of shape (n_samples, n_features) and y of shape
        (n_samples,) or (n_samples, n_targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Example weights s (>= 0, not all zero): each batch's loss is
            sum_i s_i L_i / sum_i s_i, and alpha's penalty
            (alpha / 2) ||W||^2 / sum_i s_i, as scikit-learn's (module doc).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y) that keeps the optimizer's state;
        ``sample_weight`` as in :meth:`fit`.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset):
        loss = V.check_choice("loss", self.loss, ("squared_error", "poisson"))
        X, y = self._validate_xy(X, y, reset)
        if loss == "poisson" and np.any(y < 0):
            raise ValueError(f"y: loss='poisson' needs targets >= 0, got a minimum of {y.min()}")
        return X, y

    def _output(self, Y):
        if self.loss == "poisson":
            return "exp", "poisson"
        return "identity", "squared_error"

    def _decode(self, P):
        return P[:, 0] if self.n_outputs_ == 1 else P

    def _validation_score(self, out, y_val, S_val=None):
        if not np.all(np.isfinite(out)):
            return float("nan")
        return float(r2_score(y_val, self._decode(out), sample_weight=S_val))

    def predict(self, X):
        """Predictions, shape (n_samples,) for one output, else
        (n_samples, n_outputs); in the network's dtype."""
        Y = self._forward(X)
        return Y[:, 0].copy() if self.n_outputs_ == 1 else np.ascontiguousarray(Y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
