"""FNNClassifier and FNNRegressor: scikit-learn's own estimator checks, the
tools users combine them with (Pipeline, cross_val_score, GridSearchCV) on
bundled data sets, and that every option reaches the Network unchanged."""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fnn_numba as fnn  # noqa: E402
from fnn_numba import FNNClassifier, FNNRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# Small networks and a larger step than the default 0.001 so that the checks
# that demand a good fit (accuracy > 0.83, R^2 > 0.5) pass in 100 epochs.
@parametrize_with_checks([
    FNNClassifier((16,), learning_rate=0.01, max_iter=100),
    FNNRegressor((16,), learning_rate=0.01, max_iter=100),
])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def blobs(seed=0, m=120, classes=3):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])[:classes]
    labels = rng.integers(0, classes, m)
    return centres[labels] + 0.6 * rng.standard_normal((m, 2)), labels


# ------------------------------------------------------------- scikit-learn tools
def test_pipeline_on_iris():
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), FNNClassifier((16,), learning_rate=0.01, random_state=0))
    model.fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.9
    assert model.predict_proba(Xte).shape == (len(yte), 3)


def test_cross_val_score_on_digits():
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), FNNClassifier((32,), learning_rate=0.01, max_iter=20,
                                                          random_state=0))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.85


def test_grid_search_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    regressor = make_pipeline(StandardScaler(), FNNRegressor(learning_rate=0.01, max_iter=60,
                                                             random_state=0))
    model = TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())
    grid = {"regressor__fnnregressor__hidden_layer_sizes": [(8,), (32,)],
            "regressor__fnnregressor__l2": [1e-4, 1e-1]}
    search = GridSearchCV(model, grid, cv=3).fit(X, y)
    assert set(search.cv_results_["params"][0]) == set(grid)
    assert len(search.cv_results_["mean_test_score"]) == 4
    # a linear model reaches R^2 ~ 0.48 on diabetes; the search must find a
    # setting that generalises at least about as well as a poor linear fit
    assert search.best_score_ > 0.35
    assert search.best_estimator_.regressor_[-1].network_.sizes[1] == \
        search.best_params_["regressor__fnnregressor__hidden_layer_sizes"][0]


# ------------------------------------------------------------------ classifier
def test_binary_string_labels_use_one_sigmoid_output():
    X, labels = blobs(classes=2)
    y = np.array(["cat", "dog"])[labels]
    clf = FNNClassifier((8,), learning_rate=0.05, max_iter=50, random_state=0).fit(X, y)
    assert clf.network_.sizes == [2, 8, 1]
    assert clf.network_.activations == ["relu", "sigmoid"]
    assert clf.network_.cost_name == "binary_cross_entropy"
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog"])
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # column 1 is the network's sigmoid output, the probability of classes_[1]
    np.testing.assert_allclose(P[:, 1], clf.network_.forward(X.T)[0])
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(P, axis=1)])
    assert clf.score(X, y) > 0.95


def test_multiclass_uses_softmax_and_categorical_cross_entropy():
    X, labels = blobs(classes=3)
    y = labels * 10 + 5  # arbitrary integer labels map through classes_
    clf = FNNClassifier((8,), activation="tanh", learning_rate=0.05, max_iter=50,
                        random_state=0).fit(X, y)
    assert clf.network_.sizes == [2, 8, 3]
    assert clf.network_.activations == ["tanh", "softmax"]
    assert clf.network_.cost_name == "categorical_cross_entropy"
    np.testing.assert_array_equal(clf.classes_, [5, 15, 25])
    assert set(clf.predict(X)) <= {5, 15, 25}
    assert clf.score(X, y) > 0.95


def test_multilabel_uses_sigmoid_outputs():
    X, labels = blobs(classes=3)
    Y = np.column_stack([labels == 0, labels != 1, X[:, 0] > 0]).astype(np.int64)
    clf = FNNClassifier((16,), learning_rate=0.05, max_iter=100, random_state=0).fit(X, Y)
    assert clf.network_.activations[-1] == "sigmoid"
    assert clf.network_.cost_name == "binary_cross_entropy"
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    pred = clf.predict(X)
    assert pred.shape == Y.shape and pred.dtype == Y.dtype
    assert clf.predict_proba(X).shape == Y.shape
    assert np.mean(pred == Y) > 0.9


def test_fitted_attributes_follow_scikit_learn_orientation():
    X, y = blobs()
    clf = FNNClassifier((7, 5), max_iter=3, random_state=0).fit(X, y)
    assert clf.n_features_in_ == 2
    assert [c.shape for c in clf.coefs_] == [(2, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    for coef, W in zip(clf.coefs_, clf.network_.weights):
        np.testing.assert_array_equal(coef, W.T)
    # views: what a user writes into coefs_ is what the network computes with
    clf.coefs_[0][0, 0] = 42.0
    assert clf.network_.weights[0][0, 0] == 42.0
    assert clf.n_iter_ == len(clf.loss_curve_) == 3
    assert clf.loss_curve_ == clf.history_.cost
    assert clf.validation_loss_curve_ == []


def test_unfitted_estimator_has_no_coefs():
    clf = FNNClassifier()
    assert not hasattr(clf, "coefs_")
    with pytest.raises(NotFittedError):
        clf.predict(np.zeros((2, 2)))


# -------------------------------------------------------------- pass-through
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_options_reach_the_network_unchanged(optimizer):
    """The estimator trains exactly as Network.fit called by hand with the
    same options, X transposed, and its convergence rule as early stopping on
    the training cost."""
    X, y = blobs(m=90)
    options = dict(optimizer=optimizer, momentum=0.8, beta1=0.85, beta2=0.99, epsilon=1e-7,
                   clip_norm=5.0, lr_schedule="step", step_size=3, gamma=0.7)
    clf = FNNClassifier((6,), activation="tanh", learning_rate=0.05, max_iter=12, batch_size=16,
                        l2=0.01, init="xavier", n_iter_no_change=4, tol=1e-3, random_state=3,
                        **options).fit(X, y)
    net = fnn.Network([2, 6, 3], ["tanh", "softmax"], "categorical_cross_entropy", init="xavier",
                      seed=clf.network_.seed, l2=0.01)
    history = net.fit(X.T, y, epochs=12, batch_size=16, learning_rate=0.05, early_stopping=True,
                      patience=4, min_delta=1e-3, **options)
    np.testing.assert_array_equal(clf.network_.get_parameters(), net.get_parameters())
    assert clf.loss_curve_ == history.cost
    assert clf.history_.learning_rate == history.learning_rate == pytest.approx(
        [0.05 * 0.7 ** (e // 3) for e in range(len(history.cost))])


def test_optimizers_train_differently():
    X, y = blobs(m=60)
    params = {opt: FNNClassifier((6,), optimizer=opt, learning_rate=0.05, max_iter=5,
                                 random_state=0).fit(X, y).network_.get_parameters()
              for opt in ("sgd", "momentum", "nesterov", "adam")}
    names = list(params)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert not np.allclose(params[names[i]], params[names[j]]), (names[i], names[j])


def test_random_state_fixes_the_fit():
    X, y = blobs(m=60)
    a = FNNClassifier((6,), max_iter=5, random_state=7).fit(X, y).network_.get_parameters()
    b = FNNClassifier((6,), max_iter=5, random_state=7).fit(X, y).network_.get_parameters()
    c = FNNClassifier((6,), max_iter=5, random_state=8).fit(X, y).network_.get_parameters()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_batch_size_auto_is_min_200_n_samples():
    X, y = blobs(m=250)
    seen = []
    clf = FNNClassifier((4,), max_iter=1, random_state=0,
                        callback=lambda epoch, h: seen.append(epoch)).fit(X, y)
    # the same network trained with batch_size=200 by hand ends identical
    net = fnn.Network([2, 4, 3], ["relu", "softmax"], "cce", seed=clf.network_.seed, l2=1e-4)
    net.fit(X.T, y, epochs=1, batch_size=200, learning_rate=0.001, optimizer="adam",
            early_stopping=True, patience=10, min_delta=1e-4)
    np.testing.assert_array_equal(clf.network_.get_parameters(), net.get_parameters())
    assert seen == [1]


# --------------------------------------------------------------- stopping
def test_early_stopping_holds_out_validation_data_and_stops():
    X, y = blobs(m=200)
    clf = FNNClassifier((16,), learning_rate=0.05, max_iter=300, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=5, random_state=0).fit(X, y)
    assert 5 < clf.n_iter_ < 300
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.history_.stopped_epoch == clf.n_iter_
    # it stopped n_iter_no_change epochs after the best one, whose validation
    # cost is the lowest (up to tol, below which a drop does not count)
    best = clf.history_.best_epoch
    assert clf.n_iter_ - best == 5
    assert clf.validation_loss_curve_[best - 1] <= min(clf.validation_loss_curve_) + 1e-4


def test_convergence_warning_when_max_iter_is_reached():
    X, y = blobs(m=60)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        FNNClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # tol so large that no epoch counts as an improvement: it stops early
        clf = FNNClassifier((4,), max_iter=50, tol=10.0, n_iter_no_change=2,
                            random_state=0).fit(X, y)
    assert clf.n_iter_ == 3


# ----------------------------------------------------- warm start, partial_fit
def test_warm_start_continues_from_the_previous_weights():
    X, y = blobs(m=90)
    clf = FNNClassifier((6,), learning_rate=0.02, max_iter=5, warm_start=True, random_state=0)
    clf.fit(X, y)
    net, first = clf.network_, list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.network_ is net
    assert clf.loss_curve_[:5] == first and len(clf.loss_curve_) == 10
    assert clf.loss_curve_[5] < first[0]
    cold = clone(clf).set_params(warm_start=False).fit(X, y)
    assert len(cold.loss_curve_) == 5


def test_classifier_partial_fit_needs_classes_first():
    X, y = blobs(m=60)
    clf = FNNClassifier((6,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    with pytest.raises(ValueError, match="not among classes_"):
        clf.partial_fit(X, y + 7)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1])


@pytest.mark.parametrize("make", [
    lambda: (FNNClassifier((6,), learning_rate=0.02, random_state=0), dict(classes=[0, 1, 2])),
    lambda: (FNNRegressor((6,), learning_rate=0.02, random_state=0), {}),
])
def test_partial_fit_keeps_optimizer_state_and_survives_pickle(make):
    """Two partial_fit calls equal Network.partial_fit twice (Adam's moments
    carried over); a pickled copy resumes identically."""
    X, labels = blobs(m=80)
    est, first_kwargs = make()
    y = labels if isinstance(est, FNNClassifier) else X @ np.array([1.0, -2.0])
    est.partial_fit(X, y, **first_kwargs)
    copy = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(est.network_.get_parameters(), copy.network_.get_parameters())

    net = fnn.Network(est.network_.sizes, est.network_.activations, est.network_.cost_name,
                      seed=est.network_.seed, l2=1e-4)
    Y = labels if isinstance(est, FNNClassifier) else y.reshape(1, -1)
    for _ in range(2):
        net.partial_fit(X.T, Y, batch_size=80, learning_rate=0.02, optimizer="adam")
    np.testing.assert_array_equal(est.network_.get_parameters(), net.get_parameters())


# ------------------------------------------------------------------ regressor
def test_regressor_learns_a_linear_map_and_keeps_the_shape_of_y():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    reg = FNNRegressor((), learning_rate=0.05, max_iter=200, l2=0.0, random_state=0).fit(X, y)
    assert reg.network_.activations == ["identity"] and reg.network_.cost_name == "squared_error"
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y) > 0.999
    np.testing.assert_allclose(reg.coefs_[0].ravel(), [1.0, -2.0, 0.5], atol=0.02)
    np.testing.assert_allclose(reg.intercepts_[0], [0.3], atol=0.02)
    Y2 = np.column_stack([y, -y])
    reg2 = FNNRegressor((4,), max_iter=2, random_state=0).fit(X, Y2)
    assert reg2.predict(X).shape == (200, 2)
    reg1 = FNNRegressor((4,), max_iter=2, random_state=0).fit(X, y[:, None])
    assert reg1.predict(X).shape == (200, 1)


def test_float32_networks():
    X, y = blobs(m=60)
    clf = FNNClassifier((6,), dtype="float32", max_iter=3, random_state=0).fit(X, y)
    assert clf.network_.dtype is np.float32
    assert clf.predict_proba(X).dtype == np.float32
    reg = FNNRegressor((6,), dtype=np.float32, max_iter=3, random_state=0).fit(X, X[:, 0])
    assert reg.predict(X).dtype == np.float32


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("params,name,error", [
    (dict(hidden_layer_sizes=[4, 0]), "hidden_layer_sizes", ValueError),
    (dict(hidden_layer_sizes="4"), "hidden_layer_sizes", ValueError),
    (dict(activation="swish"), "activation", ValueError),
    (dict(batch_size="big"), "batch_size", ValueError),
    (dict(batch_size=0), "batch_size", ValueError),
    (dict(max_iter=0), "max_iter", ValueError),
    (dict(max_iter=2.5), "max_iter", TypeError),
    (dict(n_iter_no_change=0), "n_iter_no_change", ValueError),
    (dict(tol=-1.0), "tol", ValueError),
    (dict(early_stopping=True, validation_fraction=1.0), "validation_fraction", ValueError),
    (dict(dtype="int32"), "dtype", TypeError),
    (dict(warm_start="yes"), "warm_start", TypeError),
    (dict(optimizer="rmsprop"), "optimizer", ValueError),
    (dict(learning_rate=-0.1), "learning_rate", ValueError),
    (dict(l2=-1.0), "l2", ValueError),
    (dict(init="orthogonal"), "init", ValueError),
])
def test_bad_parameters_name_themselves(params, name, error):
    X, y = blobs(m=30)
    for est in (FNNClassifier(**params), FNNRegressor(**params)):
        with pytest.raises(error, match=f"^{name}:"):
            est.fit(X, y)
        assert not hasattr(est, "network_")


def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was():
    X, y = blobs(m=60)
    clf = FNNClassifier((4,), max_iter=3, random_state=0).fit(X, y)
    net, before = clf.network_, clf.predict_proba(X)
    with pytest.raises(ValueError, match="^optimizer:"):
        clf.set_params(optimizer="rmsprop").fit(X, np.array(["a", "b"])[y % 2])
    assert clf.network_ is net
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    # None in sys.modules makes ``import sklearn...`` fail as on a machine
    # without it; the estimators module is imported afresh
    import sys
    for name in [n for n in sys.modules if n == "sklearn" or n.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "fnn_numba.estimators")
    monkeypatch.delattr(fnn, "estimators")
    with pytest.raises(ImportError, match=r"fnn-numba\[sklearn\]"):
        fnn.FNNClassifier
    assert fnn.Network is not None  # the package itself needs no scikit-learn


def test_unsupported_targets_are_refused():
    X, _ = blobs(m=30)
    with pytest.raises(ValueError, match="1 class"):
        FNNClassifier().fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="Unknown label type"):
        FNNClassifier().fit(X, np.linspace(0, 1, 30))
    with pytest.raises(ValueError, match="multilabel"):
        FNNClassifier().fit(X, np.column_stack([np.arange(30) % 3, np.arange(30) % 2]))
