"""scikit-learn estimators around :class:`fnn_numba.Network`.

:class:`FNNClassifier` and :class:`FNNRegressor` take X as (n_samples,
n_features), the orientation every scikit-learn user has, and hand ``X.T``
to the network, whose derivation has examples in columns. The transpose of
a C-ordered array is Fortran-ordered: exactly the layout the kernels read,
so no copy is made.

They need scikit-learn >= 1.6 (``pip install "fnn-numba[sklearn]"``) and
work with ``Pipeline``, ``cross_val_score``, ``GridSearchCV``, ``clone`` and
pickle.
"""
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    # validate_data (and the tags API used below) arrived in scikit-learn 1.6
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:
    raise ImportError("FNNClassifier and FNNRegressor need scikit-learn >= 1.6: "
                      "pip install \"fnn-numba[sklearn]\" (" + str(exc) + ")") from exc

from . import _validation as V
from .activations import ACTIVATIONS
from .network import Network

__all__ = ["FNNClassifier", "FNNRegressor"]

_COMMON_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Sizes n[1], ..., n[L-1] of the hidden layers; ``()`` gives a network
        without hidden layers.
    activation : str, default="relu"
        Activation of every hidden layer: identity, sigmoid, tanh, relu,
        leaky_relu, elu, selu or softmax.
    optimizer : {"sgd", "momentum", "nesterov", "adam"}, default="adam"
    learning_rate : float, default=0.001
        alpha, the initial learning rate of ``lr_schedule``.
    max_iter : int, default=200
        Epochs (passes over the training data) of one ``fit``.
    batch_size : int or "auto", default="auto"
        Examples per gradient step; "auto" is min(200, n_samples).
    l2 : float, default=0.0001
        lambda of the L2 term (lambda/2) sum ||W[l]||^2 (biases excluded).
    momentum, beta1, beta2, epsilon : float
        Optimizer constants, as in :meth:`fnn_numba.Network.fit`.
    lr_schedule : {"constant", "invscaling", "step", "exponential"}, default="constant"
    power_t, step_size, gamma : float, int, float or None
        Schedule constants, as in :meth:`fnn_numba.Network.fit`.
    clip_norm : float or None, default=None
        Clip the global gradient norm of each batch to this value.
    shuffle : bool, default=True
        Shuffle the examples every epoch.
    init : str, default="auto"
        Initial weights: zeros, normal, xavier, he or auto.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and stop when
        its cost has not improved by ``tol`` for ``n_iter_no_change`` epochs.
        When False, the same rule watches the training cost (as in
        scikit-learn's MLP). Either way the weights of the best epoch are
        restored.
    validation_fraction : float, default=0.1
        Used only with ``early_stopping``.
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split.
    dtype : "float64" or "float32", default="float64"
        Precision of the network's parameters and arithmetic; X is converted
        to it.
    warm_start : bool, default=False
        When True, ``fit`` continues from the weights of the previous fit
        (when the architecture still matches) instead of starting afresh.
    verbose : bool, default=False
        Print one line per epoch.
    progress : bool or None, default=False
        A tqdm progress bar per fit; None shows it only when stderr is a
        terminal. Off by default because a search runs many fits.
    callback : callable or None, default=None
        ``callback(epoch, history)`` after each epoch.
"""

_COMMON_ATTRIBUTES = """
    network_ : fnn_numba.Network
        The fitted network (X of shape (n_features, m) in its own API).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names (a pandas DataFrame).
    coefs_ : list of ndarray
        ``coefs_[l]`` has shape (n[l], n[l+1]) = (fan-in, fan-out): the
        transpose W[l+1].T of the derivation's weight matrix, in
        scikit-learn's orientation. These are views of the network's
        parameters, so they always show the current weights.
    intercepts_ : list of ndarray
        ``intercepts_[l]`` = b[l+1], shape (n[l+1],); views as well.
    n_iter_ : int
        Epochs run by the last ``fit`` (plus one per later ``partial_fit``).
    loss_curve_ : list of float
        Training cost per epoch (L2 term included), over every ``fit`` of a
        warm start and every ``partial_fit``.
    validation_loss_curve_ : list of float
        Validation cost per epoch when ``early_stopping`` is on, else empty.
    history_ : fnn_numba.History
        The full record of the last ``fit`` or ``partial_fit``.
"""


def _with_docs(text):
    return text.replace("%(parameters)s", _COMMON_PARAMETERS.strip("\n")).replace(
        "%(attributes)s", _COMMON_ATTRIBUTES.strip("\n"))


def _network_state(net):
    """The picklable part of a Network (its own pickling state: the lock and
    the backend are rebuilt), so that the optimizer state and the random
    generator survive a round trip and ``partial_fit`` resumes exactly."""
    return net.__getstate__()


def _network_from_state(state):
    net = Network.__new__(Network)
    net.__setstate__(state)
    return net


class _FNNBase(BaseEstimator):
    """Shared machinery; use :class:`FNNClassifier` or :class:`FNNRegressor`."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, optimizer="adam",
                 learning_rate=0.001, max_iter=200, batch_size="auto", l2=0.0001, momentum=0.9,
                 beta1=0.9, beta2=0.999, epsilon=1e-8, lr_schedule="constant", power_t=0.5,
                 step_size=10, gamma=None, clip_norm=None, shuffle=True, init="auto",
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 random_state=None, dtype="float64", warm_start=False, verbose=False,
                 progress=False, callback=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.l2 = l2
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.step_size = step_size
        self.gamma = gamma
        self.clip_norm = clip_norm
        self.shuffle = shuffle
        self.init = init
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.dtype = dtype
        self.warm_start = warm_start
        self.verbose = verbose
        self.progress = progress
        self.callback = callback

    # ------------------------------------------------------------- subclasses
    # _targets(y, first, classes, partial) -> (Y for the network, n_outputs,
    # output activation, cost, info): info holds what predict needs
    # (classes_, the shape of y), set only once training has succeeded so
    # that a failed fit leaves a fitted estimator as it was.

    # ------------------------------------------------------------- parameters
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise ValueError(f"hidden_layer_sizes: expected an int or a sequence of positive ints, "
                             f"got {self.hidden_layer_sizes!r}")
        sizes = list(sizes)
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(f"hidden_layer_sizes: every size must be a positive integer, "
                                 f"got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(200, n_samples)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, numbers.Integral) \
                or self.batch_size < 1:
            raise ValueError(f"batch_size: expected 'auto' or a positive integer, got {self.batch_size!r}")
        return min(int(self.batch_size), n_samples)

    def _check_params(self):
        """Validate what the Network does not see under the same name, before
        anything changes (scikit-learn validates in fit, never in __init__)."""
        hidden = self._hidden_sizes()
        activation = V.check_choice("activation", self.activation, ACTIVATIONS)
        V.check_positive("max_iter", self.max_iter, integer=True)
        V.check_positive("n_iter_no_change", self.n_iter_no_change, integer=True)
        V.check_positive("tol", self.tol, allow_zero=True)
        if self.early_stopping:
            fraction = V.check_positive("validation_fraction", self.validation_fraction)
            if fraction >= 1:
                raise ValueError(f"validation_fraction: expected a value in (0, 1), got {fraction!r}")
        for name in ("shuffle", "early_stopping", "warm_start", "verbose"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}: expected True or False, got {getattr(self, name)!r}")
        return hidden, activation, V.check_dtype(self.dtype)

    def _optimizer_options(self):
        return dict(optimizer=self.optimizer, momentum=self.momentum, beta1=self.beta1,
                    beta2=self.beta2, epsilon=self.epsilon, clip_norm=self.clip_norm,
                    shuffle=self.shuffle)

    def _seed(self):
        # Network wants a plain integer seed; an int random_state maps to a
        # fixed seed, so fitting twice gives identical networks
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _new_network(self, n_in, hidden, activation, n_out, out_activation, cost, dtype):
        return Network([n_in] + hidden + [n_out], [activation] * len(hidden) + [out_activation],
                       cost, init=self.init, dtype=dtype, seed=self._seed(), l2=self.l2)

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y):
        hidden, activation, dtype = self._check_params()
        X, y = self._validate_xy(X, y, dtype, reset=True)
        Y, n_out, out_activation, cost, info = self._targets(y, first=True, classes=None)
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        sizes = [X.shape[1]] + hidden + [n_out]
        warm = (self.warm_start and hasattr(self, "network_") and self.network_.sizes == sizes
                and self.network_.cost_name == cost and self.network_.dtype == dtype
                and self.network_.activations == [activation] * len(hidden) + [out_activation])
        if warm:
            net = self.network_
            net.l2 = V.check_positive("l2", self.l2, allow_zero=True)
        else:
            net = self._new_network(X.shape[1], hidden, activation, n_out, out_activation, cost, dtype)
        history = net.fit(
            X.T, Y, epochs=self.max_iter, batch_size=batch_size, learning_rate=self.learning_rate,
            lr_schedule=self.lr_schedule, power_t=self.power_t, step_size=self.step_size,
            gamma=self.gamma, validation_fraction=self.validation_fraction if self.early_stopping else 0.0,
            # without a validation set the Network watches the training cost:
            # that is scikit-learn's convergence rule with tol/n_iter_no_change
            early_stopping=True, patience=self.n_iter_no_change, min_delta=self.tol,
            progress=self.progress, callback=self.callback, verbose=self.verbose,
            **self._optimizer_options())
        self._set_fitted(net, history, info)
        self.n_iter_ = len(history.cost)
        previous = getattr(self, "loss_curve_", []) if warm else []
        self.loss_curve_ = list(previous) + list(history.cost)
        previous = getattr(self, "validation_loss_curve_", []) if warm else []
        self.validation_loss_curve_ = list(previous) + list(history.val_cost)
        if history.stopped_epoch == 0:
            watched = "validation" if self.early_stopping else "training"
            warnings.warn(f"{type(self).__name__}: max_iter={self.max_iter} epochs reached and the "
                          f"{watched} cost was still improving by more than tol={self.tol} within "
                          f"n_iter_no_change={self.n_iter_no_change} epochs; raise max_iter to "
                          f"train further", ConvergenceWarning)
        return self

    def _partial_fit(self, X, y, classes):
        hidden, activation, dtype = self._check_params()
        first = not hasattr(self, "network_")
        if first:
            X, y = self._validate_xy(X, y, dtype, reset=True)
            Y, n_out, out_activation, cost, info = self._targets(y, first=True, classes=classes,
                                                                 partial=True)
            net = self._new_network(X.shape[1], hidden, activation, n_out, out_activation, cost, dtype)
        else:
            X, y = self._validate_xy(X, y, self.network_.dtype, reset=False)
            Y, _, _, _, info = self._targets(y, first=False, classes=classes, partial=True)
            net = self.network_
        history = net.partial_fit(X.T, Y, batch_size=self._batch_size(X.shape[0]),
                                  learning_rate=self.learning_rate, **self._optimizer_options())
        self._set_fitted(net, history, info)
        self.n_iter_ = 1 if first else self.n_iter_ + 1
        self.loss_curve_ = ([] if first else self.loss_curve_) + list(history.cost)
        if first:
            self.validation_loss_curve_ = []
        return self

    def _set_fitted(self, net, history, info):
        for name, value in info.items():
            setattr(self, name, value)
        self.network_ = net
        self.history_ = history

    # ------------------------------------------------------------- predict
    def _forward(self, X):
        """Network output for X of shape (n_samples, n_features), as
        (n_samples, n_outputs)."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, dtype=self.network_.dtype, reset=False)
        return self.network_.forward(X.T).T

    def _validate_xy(self, X, y, dtype, reset):
        return validate_data(self, X, y, dtype=dtype, multi_output=True, reset=reset,
                             y_numeric=isinstance(self, RegressorMixin))

    # ------------------------------------------------------------- attributes
    @property
    def coefs_(self):
        """W[l].T of each layer, shape (fan-in, fan-out); views."""
        if "network_" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no coefs_ before fit")
        return [w.T for w in self.network_.weights]

    @property
    def intercepts_(self):
        """b[l] of each layer, shape (fan-out,); views."""
        if "network_" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no intercepts_ before fit")
        return self.network_.biases

    # --------------------------------------------------------------- pickle
    def __getstate__(self):
        state = super().__getstate__()
        if "network_" in state:
            state = dict(state, network_=_network_state(state["network_"]))
        return state

    def __setstate__(self, state):
        if isinstance(state.get("network_"), dict):
            state = dict(state, network_=_network_from_state(state["network_"]))
        super().__setstate__(state)


class FNNClassifier(ClassifierMixin, _FNNBase):
    __doc__ = _with_docs("""A feedforward network classifier with the scikit-learn API.

    Two classes: one sigmoid output and binary cross-entropy. More classes:
    a softmax output layer and categorical cross-entropy. A 2-D 0/1 label
    matrix (multilabel): one sigmoid output per label and binary
    cross-entropy. Labels may be of any type; ``classes_`` maps them.

    Parameters
    ----------
%(parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (0, ..., n_labels - 1 for multilabel targets).
%(attributes)s

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fnn_numba import FNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier((16,), learning_rate=0.01, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X[:2]).shape  # doctest: +SKIP
    (2, 3)
    """)

    def fit(self, X, y):
        """Train on X of shape (n_samples, n_features) and labels y of shape
        (n_samples,), or (n_samples, n_labels) 0/1 for multilabel.

        Returns
        -------
        self
        """
        return self._fit(X, y)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y) that keeps the optimizer state between calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), optional
            Every class that will ever occur; required on the first call
            (except for multilabel targets), ignored or checked afterwards.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, classes)

    def _targets(self, y, first, classes, partial=False):
        """Encode labels for the network: (Y, n_outputs, output activation,
        cost, attributes to set once training succeeded)."""
        y = np.asarray(y)
        multilabel = y.ndim == 2 and y.shape[1] > 1
        if multilabel:
            kind = type_of_target(y)
            if kind != "multilabel-indicator":
                raise ValueError(f"y: a 2-D y must be a 0/1 multilabel indicator matrix, got "
                                 f"a {kind} target of shape {y.shape}")
        else:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
        if first:
            if multilabel:
                if classes is not None and not np.array_equal(np.asarray(classes), np.arange(y.shape[1])):
                    raise ValueError(f"classes: for a multilabel y with {y.shape[1]} columns expected "
                                     f"None or range({y.shape[1]}), got {classes!r}")
                info = dict(classes_=np.arange(y.shape[1]), _label_kind="multilabel",
                            _label_dtype=y.dtype)
            else:
                if classes is None:
                    if partial:
                        raise ValueError("classes: expected every class label on the first call "
                                         "to partial_fit, got None")
                    classes = y
                found = np.unique(np.asarray(classes))
                if found.size < 2:
                    raise ValueError(f"y: a classifier needs at least 2 classes, got 1 class "
                                     f"({found[0]!r})")
                info = dict(classes_=found, _label_kind="binary" if found.size == 2 else "multiclass",
                            _label_dtype=found.dtype)
        else:
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(f"classes: expected the classes of the first call {self.classes_!r}, "
                                 f"got {classes!r}")
            if (self._label_kind == "multilabel") != multilabel or \
                    (multilabel and y.shape[1] != self.classes_.size):
                raise ValueError(f"y: expected the kind of target of the first fit "
                                 f"({self._label_kind} with {self.classes_.size} classes), got shape {y.shape}")
            info = dict(classes_=self.classes_, _label_kind=self._label_kind)
        if multilabel:
            return y.T, y.shape[1], "sigmoid", "binary_cross_entropy", info
        classes_ = info["classes_"]
        unknown = ~np.isin(y, classes_)
        if np.any(unknown):
            raise ValueError(f"y: labels {np.unique(y[unknown])!r} are not among classes_ {classes_!r}")
        codes = np.searchsorted(classes_, y)
        if info["_label_kind"] == "binary":
            return codes.reshape(1, -1), 1, "sigmoid", "binary_cross_entropy", info
        return codes, classes_.size, "softmax", "categorical_cross_entropy", info

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); for multilabel
        targets the probability of each label, (n_samples, n_labels)."""
        P = self._forward(X)
        if self._label_kind == "binary":
            return np.hstack([1 - P, P])
        return np.ascontiguousarray(P)

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Labels, shape (n_samples,) (from ``classes_``), or the 0/1 matrix
        (n_samples, n_labels) for multilabel targets (threshold 0.5)."""
        P = self._forward(X)
        if self._label_kind == "multilabel":
            return (P > 0.5).astype(self._label_dtype)
        if self._label_kind == "binary":
            return self.classes_[(P[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[np.argmax(P, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class FNNRegressor(RegressorMixin, _FNNBase):
    __doc__ = _with_docs("""A feedforward network regressor with the scikit-learn API.

    Identity output layer and squared error J = (1/m) sum_i (1/2)||y_i - y_hat_i||^2;
    y of shape (n_samples,) or (n_samples, n_targets).

    Parameters
    ----------
%(parameters)s

    Attributes
    ----------
%(attributes)s

    Notes
    -----
    The network fits y as given: standardising y (for instance with
    ``sklearn.compose.TransformedTargetRegressor``) helps when its scale is
    far from 1.
    """)

    def fit(self, X, y):
        """Train on X of shape (n_samples, n_features) and y of shape
        (n_samples,) or (n_samples, n_targets).

        Returns
        -------
        self
        """
        return self._fit(X, y)

    def partial_fit(self, X, y):
        """One epoch over (X, y) that keeps the optimizer state between calls.

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, None)

    def _targets(self, y, first, classes, partial=False):
        y = np.asarray(y)
        if first:
            info = dict(_y_ndim=y.ndim)
        elif (y.ndim == 1 and self.network_.sizes[-1] != 1) or \
                (y.ndim == 2 and y.shape[1] != self.network_.sizes[-1]):
            raise ValueError(f"y: expected {self.network_.sizes[-1]} target column(s) as in the "
                             f"first call, got shape {y.shape}")
        else:
            info = {}
        Y = y.reshape(1, -1) if y.ndim == 1 else y.T
        return Y, Y.shape[0], "identity", "squared_error", info

    def predict(self, X):
        """Predictions, shape (n_samples,) when fitted on a 1-D y, else
        (n_samples, n_targets)."""
        Y = self._forward(X)
        return Y[:, 0].copy() if self._y_ndim == 1 else np.ascontiguousarray(Y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
