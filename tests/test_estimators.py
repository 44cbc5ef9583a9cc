"""FNNClassifier and FNNRegressor: scikit-learn's own estimator checks, the
tools users combine them with (Pipeline, cross_val_score, GridSearchCV) on
bundled data sets, training that follows MLPClassifier/MLPRegressor step for
step, and public-API equivalents of the tests of scikit-learn's test_mlp.py
that read its private attributes (see tests/test_sklearn_mlp_suite.py)."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import LabelBinarizer, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fnn_numba as fnn  # noqa: E402
from fnn_numba import FNNClassifier, FNNRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# Small networks and a larger step than the default 0.001 so that the checks
# that demand a good fit (accuracy > 0.83, R^2 > 0.5) pass in 100 epochs.
@parametrize_with_checks(
    [
        FNNClassifier((16,), learning_rate_init=0.01, max_iter=100),
        FNNRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100),
    ]
)
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
    model = make_pipeline(
        StandardScaler(), FNNClassifier((16,), learning_rate_init=0.01, random_state=0)
    )
    model.fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.9
    assert model.predict_proba(Xte).shape == (len(yte), 3)


def test_cross_val_score_on_digits():
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(), FNNClassifier((32,), learning_rate_init=0.01, max_iter=20, random_state=0)
    )
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.85


def test_grid_search_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    regressor = make_pipeline(
        StandardScaler(), FNNRegressor(learning_rate_init=0.01, max_iter=60, random_state=0)
    )
    model = TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())
    grid = {
        "regressor__fnnregressor__hidden_layer_sizes": [(8,), (32,)],
        "regressor__fnnregressor__alpha": [1e-4, 10.0],
    }
    search = GridSearchCV(model, grid, cv=3).fit(X, y)
    assert set(search.cv_results_["params"][0]) == set(grid)
    assert len(search.cv_results_["mean_test_score"]) == 4
    # a linear model reaches R^2 ~ 0.48 on diabetes; the search must find a
    # setting that generalises at least about as well as a poor linear fit
    assert search.best_score_ > 0.35
    assert (
        search.best_estimator_.regressor_[-1].network_.sizes[1]
        == search.best_params_["regressor__fnnregressor__hidden_layer_sizes"][0]
    )


# ------------------------------------------- step for step with scikit-learn
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402


def digits_binary(n=200):
    X, y = load_digits(n_class=2, return_X_y=True)
    return X[:n] / 16, y[:n]


@pytest.mark.parametrize(
    "settings",
    [
        # a batch size that leaves a short last batch: lambda = alpha / n_b per batch
        dict(
            solver="sgd",
            learning_rate="invscaling",
            learning_rate_init=0.2,
            power_t=0.3,
            momentum=0.9,
            nesterovs_momentum=True,
            batch_size=37,
            alpha=0.05,
        ),
        dict(
            solver="sgd",
            learning_rate="constant",
            learning_rate_init=0.05,
            momentum=0.5,
            nesterovs_momentum=False,
            batch_size=64,
            alpha=1e-3,
            shuffle=False,
        ),
        dict(
            solver="sgd",
            learning_rate="adaptive",
            learning_rate_init=0.1,
            momentum=0.0,
            batch_size=50,
            alpha=1e-4,
            tol=0.05,
            n_iter_no_change=1,
        ),
    ],
)
def test_sgd_training_is_scikit_learns_step_for_step(settings):
    """Same initial weights, shuffles, penalty per batch, learning rates and
    stopping: the loss curves and the weights agree with MLPClassifier's to
    rounding."""
    X, y = digits_binary()
    common = dict(
        hidden_layer_sizes=(12,), activation="tanh", max_iter=15, random_state=3, **settings
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FNNClassifier(**common).fit(X, y)
        theirs = MLPClassifier(**common).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    assert ours.learning_rate_ == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)


def test_adam_and_early_stopping_follow_scikit_learn():
    """Adam differs from scikit-learn's only in how epsilon is scaled in the
    first steps, so the curves agree to about epsilon / sqrt(v); the
    validation split (stratified, same generator) and scores match."""
    X, y = digits_binary()
    common = dict(
        hidden_layer_sizes=(10,),
        max_iter=12,
        random_state=0,
        early_stopping=True,
        validation_fraction=0.2,
        learning_rate_init=0.01,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FNNClassifier(**common).fit(X, y)
        theirs = MLPClassifier(**common).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)
    assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_, abs=1e-12)
    assert ours.best_loss_ is None and ours.best_validation_score_ == max(ours.validation_scores_)


def test_regressors_follow_scikit_learn_including_lbfgs_and_poisson():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = X @ np.array([0.5, -1.0, 0.3, 0.0]) + 0.1 * rng.standard_normal(120)
    common = dict(
        hidden_layer_sizes=(8,),
        random_state=1,
        solver="sgd",
        max_iter=10,
        learning_rate_init=0.01,
        batch_size=25,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_allclose(
            FNNRegressor(**common).fit(X, y).loss_curve_,
            MLPRegressor(**common).fit(X, y).loss_curve_,
            rtol=1e-9,
        )
        lb = dict(hidden_layer_sizes=(8,), random_state=1, solver="lbfgs", max_iter=30)
        ours, theirs = FNNRegressor(**lb).fit(X, y), MLPRegressor(**lb).fit(X, y)
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
        counts = rng.poisson(np.exp(0.3 * X[:, 0] + 0.5))
        pois = dict(lb, loss="poisson", alpha=0.0)
        ours, theirs = FNNRegressor(**pois).fit(X, counts), MLPRegressor(**pois).fit(X, counts)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.network_.cost_name == "poisson"
    # the first iterate's loss is the same function of the same initial weights
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-3)


def test_alpha_is_scaled_per_batch_as_scikit_learn_scales_it():
    """lambda = alpha / n_b: the first batch's cost (before any update) is the
    mean loss plus (alpha / 2) ||W||^2 / n_b, whatever n_b is."""
    X, y = digits_binary(60)
    for batch_size in (60, 7):
        clf = FNNClassifier(
            (5,),
            solver="sgd",
            alpha=3.0,
            batch_size=batch_size,
            max_iter=1,
            shuffle=False,
            random_state=0,
            learning_rate_init=1e-12,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        P = clf.predict_proba(X)[:, 1]
        data = -np.mean(y * np.log(P) + (1 - y) * np.log(1 - P))
        penalty = sum(np.sum(c**2) for c in clf.coefs_)
        # with a learning rate of 1e-12 the weights do not move: every batch
        # sees the same weights, and the epoch's loss is the size-weighted mean
        sizes = [batch_size] * (60 // batch_size) + ([60 % batch_size] if 60 % batch_size else [])
        want = data + sum(n * 0.5 * 3.0 * penalty / n for n in sizes) / 60
        assert clf.loss_ == pytest.approx(want, rel=1e-9)


# --------------- public-API equivalents of test_mlp.py's private-attribute tests
def no_improvement_run(losses, tol):
    """The count of epochs without a tol improvement at the end of a loss
    curve, by scikit-learn's rule (public-API stand-in for its private
    _no_improvement_count)."""
    best, count = np.inf, 0
    for loss in losses:
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
    return count


def test_n_iter_no_change_through_the_loss_curve():
    """test_mlp.py::test_n_iter_no_change and ::test_n_iter_no_change_inf
    read _no_improvement_count; the same facts from loss_curve_."""
    X, y = digits_binary(100)
    for n_iter_no_change in (2, 5, 10):
        clf = FNNClassifier(
            tol=0.01, max_iter=3000, solver="sgd", n_iter_no_change=n_iter_no_change, random_state=0
        ).fit(X, y)
        assert clf.n_iter_ < 3000
        assert no_improvement_run(clf.loss_curve_, 0.01) == n_iter_no_change + 1
        assert clf.best_loss_ == min(clf.loss_curve_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FNNClassifier(
            tol=1e9, max_iter=200, solver="sgd", n_iter_no_change=np.inf, random_state=0
        ).fit(X, y)
    assert clf.n_iter_ == 200
    assert no_improvement_run(clf.loss_curve_, 1e9) == clf.n_iter_ - 1


def test_learning_rate_schedules_through_learning_rate_():
    """test_mlp.py::test_learning_rate_warmstart and
    ::test_adaptive_learning_rate read _optimizer.learning_rate; fnn_numba
    has it public as learning_rate_."""
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    for schedule in ("invscaling", "constant"):
        clf = FNNClassifier(
            solver="sgd",
            hidden_layer_sizes=4,
            learning_rate=schedule,
            max_iter=1,
            power_t=0.25,
            warm_start=True,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
            first = clf.learning_rate_
            clf.fit(X, y)
        assert clf.t_ == 8
        if schedule == "constant":
            assert first == clf.learning_rate_ == 0.001
        else:
            assert clf.learning_rate_ == 0.001 / (8 + 1) ** 0.25
    clf = FNNClassifier(
        tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive", random_state=0
    ).fit([[3, 2], [1, 6]], [1, 0])
    assert clf.n_iter_ < 3000 and clf.learning_rate_ < 1e-6


def test_lbfgs_cost_and_gradient_match_finite_differences():
    """test_mlp.py::test_gradient calls the private _loss_grad_lbfgs; the
    objective fnn_numba's lbfgs minimises is the network's cost with
    lambda = alpha / n, and its gradient matches central differences for
    every activation, two and three classes."""
    from fnn_numba.lbfgs import flat_cost_and_gradient

    rng = np.random.RandomState(42)
    X = rng.rand(5, 10)
    for n_labels in (2, 3):
        y = 1 + np.mod(np.arange(5) + 1, n_labels)
        for activation in ("identity", "logistic", "tanh", "relu"):
            clf = FNNClassifier(
                activation=activation,
                hidden_layer_sizes=10,
                solver="lbfgs",
                alpha=1e-5,
                max_iter=1,
                random_state=1,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y)
            net = clf.network_
            assert net.l2 == pytest.approx(1e-5 / 5)
            Y = LabelBinarizer().fit(y).transform(y).T.astype(float)
            theta = net.get_parameters()
            J, g = flat_cost_and_gradient(net, X.T, Y, theta)
            fd = np.array(
                [
                    (
                        flat_cost_and_gradient(net, X.T, Y, theta + e)[0]
                        - flat_cost_and_gradient(net, X.T, Y, theta - e)[0]
                    )
                    / 2e-5
                    for e in np.eye(theta.size) * 1e-5
                ]
            )
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


# -------------------------------------------------------------- predict_proba
@pytest.mark.parametrize(
    "labels", [np.array(["zebra", "ant", "moth"]), np.array(["zebra", "ant", "moth"], dtype=object)]
)
def test_multiclass_string_and_object_labels_keep_their_columns(labels):
    X, codes = blobs(classes=3)
    y = labels[codes]
    clf = FNNClassifier((8,), learning_rate_init=0.05, max_iter=60, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.classes_[np.argmax(P, axis=1)], clf.predict(X))
    out = clf.network_.forward(X.T)
    for c in range(3):
        np.testing.assert_array_equal(P[:, c], out[c])
    assert clf.score(X, y) > 0.95


def test_binary_string_labels_use_one_logistic_output():
    X, codes = blobs(classes=2)
    y = np.array(["cat", "dog"])[codes]
    clf = FNNClassifier((8,), learning_rate_init=0.05, max_iter=50, random_state=0).fit(X, y)
    assert clf.network_.sizes == [2, 8, 1] and clf.out_activation_ == "logistic"
    assert clf.network_.cost_name == "binary_cross_entropy"
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], clf.network_.forward(X.T)[0])
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(P, axis=1)])


def test_multilabel_targets():
    X, codes = blobs(classes=3)
    Y = np.column_stack([codes == 0, codes != 1, X[:, 0] > 0]).astype(np.int64)
    clf = FNNClassifier((16,), learning_rate_init=0.05, max_iter=100, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    pred = clf.predict(X)
    assert pred.shape == Y.shape and np.mean(pred == Y) > 0.9


# ---------------------------------------------------------------- attributes
def test_fitted_attributes_follow_scikit_learn():
    X, y = blobs()
    clf = FNNClassifier((7, 5), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.n_features_in_ == 2 and clf.n_layers_ == 4 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    assert [c.shape for c in clf.coefs_] == [(2, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    for coef, W in zip(clf.coefs_, clf.network_.weights):
        np.testing.assert_array_equal(coef, W.T)
    assert clf.n_iter_ == len(clf.loss_curve_) == 3 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.t_ == 3 * len(X)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_coefs_assigned_by_hand_are_used():
    X, y = blobs(m=60)
    reg = FNNRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, X[:, 0])
    # a new list of new arrays, as scikit-learn's test_fit assigns them
    reg.coefs_ = [np.zeros((2, 3)), np.ones((3, 1))]
    reg.intercepts_ = [np.zeros(3), np.array([2.5])]
    np.testing.assert_allclose(reg.predict(X), 2.5)
    np.testing.assert_array_equal(reg.network_.biases[1], [2.5])
    # and they survive a pickle round trip
    np.testing.assert_allclose(pickle.loads(pickle.dumps(reg)).predict(X), 2.5)


def test_unfitted_estimator_has_no_coefs():
    clf = FNNClassifier()
    assert not hasattr(clf, "coefs_")
    with pytest.raises(NotFittedError):
        clf.predict(np.zeros((2, 2)))


def test_dtype_follows_the_input_unless_given():
    X, y = blobs(m=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FNNClassifier((6,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
        assert clf.network_.dtype is np.float32 and clf.coefs_[0].dtype == np.float32
        assert clf.predict_proba(X).dtype == np.float32
        reg = FNNRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(
            X.astype(np.float32), X[:, 0]
        )
        assert reg.predict(X.astype(np.float32)).dtype == np.float32
        reg = FNNRegressor(
            hidden_layer_sizes=(6,), max_iter=3, random_state=0, dtype="float64"
        ).fit(X.astype(np.float32), X[:, 0])
        assert reg.network_.dtype is np.float64
        assert (
            FNNRegressor(hidden_layer_sizes=(6,), max_iter=3).fit(X.astype(int), y).network_.dtype
            is np.float64
        )


def test_fnn_numba_extras():
    X, y = blobs(m=90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FNNClassifier(
            (6, 5),
            activation=["leaky_relu", "selu"],
            clip_norm=1.0,
            device="cpu",
            max_iter=3,
            random_state=0,
        ).fit(X, y)
    assert clf.network_.activations == ["leaky_relu", "selu", "softmax"]
    with pytest.raises(ValueError, match="^activation:"):
        FNNClassifier((6, 5), activation=["relu"]).fit(X, y)


# ------------------------------------------------------ warm start, partial_fit
def test_warm_start_continues_and_restarts_the_optimizer():
    X, y = blobs(m=90)
    clf = FNNClassifier((6,), learning_rate_init=0.02, max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first, params = list(clf.loss_curve_), clf.network_.get_parameters()
        clf.fit(X, y)
    assert clf.loss_curve_[:5] == first and len(clf.loss_curve_) == 10 and clf.n_iter_ == 5
    assert clf.loss_curve_[5] < first[0] and clf.t_ == 10 * 90
    assert not np.array_equal(params, clf.network_.get_parameters())
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X, np.where(y == 2, 1, y))


def test_partial_fit_rules():
    X, y = blobs(m=60)
    clf = FNNClassifier((6,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 2
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 7)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="early_stopping"):
        FNNRegressor(early_stopping=True).partial_fit(X, X[:, 0])
    assert not hasattr(FNNClassifier(solver="lbfgs"), "partial_fit")


@pytest.mark.parametrize(
    "make",
    [
        lambda: (
            FNNClassifier((6,), learning_rate_init=0.02, random_state=0, shuffle=False),
            dict(classes=[0, 1, 2]),
        ),
        lambda: (
            FNNRegressor(
                hidden_layer_sizes=(6,), learning_rate_init=0.02, random_state=0, shuffle=False
            ),
            {},
        ),
    ],
)
def test_partial_fit_keeps_optimizer_state_and_survives_pickle(make):
    X, labels = blobs(m=80)
    est, first_kwargs = make()
    y = labels if isinstance(est, FNNClassifier) else X @ np.array([1.0, -2.0])
    est.partial_fit(X, y, **first_kwargs)
    copy = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(est.network_.get_parameters(), copy.network_.get_parameters())
    # the same as one fit of two epochs (Adam's moments carried over; no
    # shuffling, since each partial_fit reseeds its generator from
    # random_state as scikit-learn's does)
    twice = make()[0].set_params(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        twice.fit(X, y)
    np.testing.assert_allclose(
        est.network_.get_parameters(), twice.network_.get_parameters(), rtol=0, atol=0
    )


# ----------------------------------------------------------- errors, warnings
def test_verbose_prints_like_scikit_learn(capsys):
    X, y = [[3, 2], [1, 6]], [1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FNNClassifier(solver="sgd", max_iter=2, verbose=10, hidden_layer_sizes=2).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Iteration {i + 1}, loss = {loss:.8f}" for i, loss in enumerate(clf.loss_curve_)
    ]


def test_non_finite_training_is_a_value_error():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            FNNRegressor().fit(X, rng.standard_normal(10))


@pytest.mark.parametrize(
    "params,name,error",
    [
        (dict(hidden_layer_sizes=[4, 0]), "hidden_layer_sizes", ValueError),
        (dict(hidden_layer_sizes="4"), "hidden_layer_sizes", ValueError),
        (dict(activation="swish"), "activation", ValueError),
        (dict(solver="rmsprop"), "solver", ValueError),
        (dict(learning_rate="cyclic"), "learning_rate", ValueError),
        (dict(batch_size=0), "batch_size", ValueError),
        (dict(max_iter=0), "max_iter", ValueError),
        (dict(max_iter=2.5), "max_iter", TypeError),
        (dict(max_fun=0), "max_fun", ValueError),
        (dict(n_iter_no_change=0), "n_iter_no_change", ValueError),
        (dict(tol=-1.0), "tol", ValueError),
        (dict(alpha=-1.0), "alpha", ValueError),
        (dict(learning_rate_init=0.0), "learning_rate_init", ValueError),
        (dict(momentum=1.5), "momentum", ValueError),
        (dict(beta_2=1.0), "beta_2", ValueError),
        (dict(validation_fraction=1.0), "validation_fraction", ValueError),
        (dict(dtype="int32"), "dtype", TypeError),
        (dict(warm_start="yes"), "warm_start", TypeError),
        (dict(device="tpu"), "device", ValueError),
    ],
)
def test_bad_parameters_name_themselves(params, name, error):
    X, y = blobs(m=30)
    for est in (FNNClassifier(**params), FNNRegressor(**params)):
        with pytest.raises(error, match=f"^{name}:"):
            est.fit(X, y)
        assert not hasattr(est, "network_")
    with pytest.raises(ValueError, match="^loss:"):
        FNNRegressor(loss="huber").fit(X, y)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    # None in sys.modules makes ``import sklearn...`` fail as on a machine
    # without it; the estimators module is imported afresh
    import sys

    for name in [n for n in sys.modules if n == "sklearn" or n.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "fnn_numba.estimators")
    monkeypatch.delattr(fnn, "estimators")
    with pytest.raises(ImportError, match=r"fnn-numba\[sklearn\]"):
        _ = fnn.FNNClassifier
    assert fnn.Network is not None  # the package itself needs no scikit-learn


def test_unsupported_targets_are_refused():
    X, _ = blobs(m=30)
    with pytest.raises(ValueError, match="1 class"):
        FNNClassifier().fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="Unknown label type"):
        FNNClassifier().fit(X, np.linspace(0, 1, 30))
    with pytest.raises(ValueError, match="poisson"):
        FNNRegressor(loss="poisson").fit(X, -np.ones(30))


def test_memory_layout_of_x_does_not_change_the_fit():
    X, y = blobs(m=70)
    common = dict(hidden_layer_sizes=(5,), solver="sgd", max_iter=4, random_state=0, batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = FNNClassifier(**common).fit(np.ascontiguousarray(X), y)
        b = FNNClassifier(**common).fit(np.asfortranarray(X), y)
    np.testing.assert_array_equal(a.network_.get_parameters(), b.network_.get_parameters())
    assert a.loss_curve_ == b.loss_curve_
