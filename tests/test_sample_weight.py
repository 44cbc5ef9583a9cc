"""Example weights: J = sum_i s_i L_i / sum_i s_i, in the kernels.

The weighted gradient against finite differences of the weighted cost and
against PyTorch's autograd of the weighted mean loss; integer weights
against repeated examples and zero weights against removed ones; unit
weights against no weights, bit for bit; the arguments' checks; and the
estimators against scikit-learn's MLPClassifier/MLPRegressor fitted with the
same weights."""

import warnings

import numpy as np
import pytest
from conftest import random_network, targets_for

import fnn_numba as fnn
from fnn_numba import kernels
from fnn_numba.activations import ACTIVATIONS
from fnn_numba.costs import COSTS

#: (hidden, output, cost): the fused softmax + CE and sigmoid + BCE deltas,
#: and the general seed (identity + squared error, sigmoid + squared error)
CASES = [
    ("tanh", "softmax", "categorical_cross_entropy"),
    ("tanh", "sigmoid", "binary_cross_entropy"),
    ("tanh", "identity", "squared_error"),
    ("tanh", "sigmoid", "squared_error"),
]


def problem(hidden, out, cost, m=9, seed=3, l2=0.05):
    rng = np.random.default_rng(seed)
    net = random_network([3, 4, 3], [hidden, out], cost, seed=seed, l2=l2)
    X = rng.standard_normal((3, m))
    Y = targets_for(cost, 3, m, rng)
    s = rng.uniform(0.0, 3.0, m)
    s[1] = 0.0
    return net, X, Y, s


def weighted_fd(net, X, Y, s, h=1e-6):
    """Central differences of net.cost(X, Y, s) over every parameter."""
    theta = net.get_parameters()
    g = np.zeros_like(theta)
    for q in range(theta.size):
        for sign in (1, -1):
            t = theta.copy()
            t[q] += sign * h
            net.set_parameters(t)
            g[q] += sign * net.cost(X, Y, s)
    net.set_parameters(theta)
    return g / (2 * h)


@pytest.mark.parametrize("hidden,out,cost", CASES)
def test_weighted_gradient_matches_finite_differences(hidden, out, cost):
    net, X, Y, s = problem(hidden, out, cost)
    g = net.gradients(X, Y, s)
    assert g.cost == pytest.approx(net.cost(X, Y, s), rel=1e-13)
    fd = weighted_fd(net, X, Y, s)
    flat = net.flatten_gradients(g)
    assert np.linalg.norm(flat - fd) / np.linalg.norm(fd) < 1e-7
    # and it is not the unweighted gradient
    assert np.linalg.norm(
        net.flatten_gradients(net.gradients(X, Y)) - flat
    ) > 1e-3 * np.linalg.norm(flat)


@pytest.mark.parametrize("hidden,out,cost", CASES)
def test_weighted_gradient_equals_torch_autograd(hidden, out, cost):
    torch = pytest.importorskip("torch")
    net, X, Y, s = problem(hidden, out, cost)
    acts = {
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "identity": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=0),
    }
    Ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    a = torch.tensor(X)
    for W, b, act in zip(Ws, bs, (hidden, out)):
        a = acts[act](W @ a + b[:, None])
    y = torch.tensor(Y)
    if cost == "squared_error":
        L = 0.5 * ((a - y) ** 2).sum(0)
    elif cost == "categorical_cross_entropy":
        L = -(y * torch.log(a)).sum(0)
    else:
        L = -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum(0)
    st = torch.tensor(s)
    J = (st * L).sum() / st.sum() + 0.5 * net.l2 * sum((W * W).sum() for W in Ws)
    J.backward()
    g = net.gradients(X, Y, s)
    assert g.cost == pytest.approx(J.item(), rel=1e-12)
    for mine, theirs in zip(g.weights + g.biases, Ws + bs):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_integer_weights_equal_repeated_examples_and_zero_weights_removed_ones():
    net, X, Y, _ = problem("tanh", "softmax", "categorical_cross_entropy", m=12)
    s = np.array([2, 0, 1, 3, 1, 0, 1, 2, 1, 1, 4, 1], dtype=float)
    rep = np.repeat(np.arange(12), s.astype(int))
    g_w = net.gradients(X, Y, s)
    g_r = net.gradients(X[:, rep], Y[:, rep])
    assert g_w.cost == pytest.approx(g_r.cost, rel=1e-13)
    np.testing.assert_allclose(
        net.flatten_gradients(g_w), net.flatten_gradients(g_r), rtol=1e-11, atol=1e-14
    )
    # dJ/dX: the repeated columns' gradients summed give the weighted column's
    dX_r = np.zeros_like(X)
    np.add.at(dX_r.T, rep, g_r.inputs.T)
    np.testing.assert_allclose(g_w.inputs, dX_r, rtol=1e-11, atol=1e-14)
    # full-batch training follows the same path
    a, b = (
        random_network([3, 4, 3], ["tanh", "softmax"], "categorical_cross_entropy", seed=5, l2=0.01)
        for _ in range(2)
    )
    a.fit(X, Y, epochs=5, batch_size=None, learning_rate=0.5, sample_weight=s, progress=False)
    b.fit(X[:, rep], Y[:, rep], epochs=5, batch_size=None, learning_rate=0.5, progress=False)
    np.testing.assert_allclose(a.get_parameters(), b.get_parameters(), rtol=1e-10, atol=1e-13)
    a.fit(X, Y, epochs=2, optimizer="lbfgs", sample_weight=s)
    b.fit(X[:, rep], Y[:, rep], epochs=2, optimizer="lbfgs")
    np.testing.assert_allclose(a.get_parameters(), b.get_parameters(), rtol=1e-8, atol=1e-10)


def test_unit_weights_change_nothing_bit_for_bit():
    net, X, Y, _ = problem("tanh", "softmax", "categorical_cross_entropy", m=20)
    ones = np.ones(20)
    assert np.array_equal(
        net.flatten_gradients(net.gradients(X, Y, ones)), net.flatten_gradients(net.gradients(X, Y))
    )
    assert net.cost(X, Y, ones) == net.cost(X, Y)
    runs = []
    for weights in (None, ones):
        n = random_network(
            [3, 4, 3], ["tanh", "softmax"], "categorical_cross_entropy", seed=2, l2=0.01
        )
        h = n.fit(
            X,
            Y,
            epochs=3,
            batch_size=7,
            learning_rate=0.3,
            optimizer="adam",
            sample_weight=weights,
            validation_fraction=0.2,
            progress=False,
        )
        n.partial_fit(X, Y, batch_size=6, sample_weight=weights, l2_per_weight=True)
        runs.append((n.get_parameters(), h.cost, h.val_cost, h.val_accuracy))
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_weighted_kernels_scale_the_unweighted_columns():
    rng = np.random.default_rng(0)
    n, m = 4, 7
    z = rng.standard_normal((n, m))
    a = np.asfortranarray(np.exp(z) / np.exp(z).sum(0))
    y = np.asfortranarray(targets_for("categorical_cross_entropy", n, m, rng))
    s = rng.uniform(0, 2, m)
    r = m * s / s.sum()
    for weighted, plain, code in (
        (kernels.output_delta_fused_weighted, kernels.output_delta_fused, ACTIVATIONS["softmax"]),
        (kernels.cost_seed_weighted, kernels.cost_seed, COSTS["categorical_cross_entropy"]),
    ):
        d0, d1, d2 = (np.zeros((n, m), order="F") for _ in range(3))
        plain(code, a, y, d0)
        weighted(code, a, y, s, d1)
        weighted(code, a, y, np.ones(m), d2)
        np.testing.assert_allclose(d1, d0 * r, rtol=1e-14)
        assert np.array_equal(d2, d0)
    losses = rng.standard_normal(m)
    assert kernels.weighted_mean_of(losses, s) == pytest.approx(
        np.average(losses, weights=s), rel=1e-14
    )
    assert kernels.weighted_mean_of(losses, np.zeros(m)) == 0.0


@pytest.mark.parametrize(
    "bad,error,match",
    [
        (np.ones(8), ValueError, r"sample_weight: expected shape \(9,\)"),
        (np.ones((9, 1)), ValueError, r"sample_weight: expected shape \(9,\)"),
        (np.r_[np.ones(8), np.nan], ValueError, "sample_weight: contains NaN or inf"),
        (np.r_[np.ones(8), -1.0], ValueError, "sample_weight: expected weights >= 0"),
        (np.zeros(9), ValueError, "sample_weight: expected at least one weight > 0"),
        (np.array(["a"] * 9), TypeError, "sample_weight: expected real numbers"),
    ],
)
def test_bad_weights_are_refused_and_change_nothing(bad, error, match):
    net, X, Y, _ = problem("tanh", "softmax", "categorical_cross_entropy")
    before = net.get_parameters()
    rng_state = net._rng.bit_generator.state
    for call in (
        lambda: net.cost(X, Y, bad),
        lambda: net.gradients(X, Y, bad),
        lambda: net.fit(X, Y, epochs=1, sample_weight=bad, progress=False),
        lambda: net.fit(X, Y, epochs=1, sample_weight=bad, validation_fraction=0.3),
        lambda: net.partial_fit(X, Y, sample_weight=bad),
        lambda: net.fit(X, Y, optimizer="lbfgs", sample_weight=bad),
    ):
        with pytest.raises(error, match=match):
            call()
    with pytest.raises(error, match=match.replace("sample_weight", r"validation_data\[2\]")):
        net.fit(X, Y, epochs=1, validation_data=(X, Y, bad), progress=False)
    assert np.array_equal(net.get_parameters(), before)
    assert net._rng.bit_generator.state == rng_state
    assert net.epochs_trained == 0


def test_weights_go_with_targets_not_with_an_output_gradient_and_not_to_cuda(monkeypatch):
    net, X, Y, s = problem("tanh", "softmax", "categorical_cross_entropy")
    with pytest.raises(ValueError, match="sample_weight"):
        net.gradients(X, sample_weight=s, output_gradient=np.ones((3, 9)))
    monkeypatch.setattr(fnn.Network, "device", property(lambda self: "cuda"))
    with pytest.raises(
        NotImplementedError, match="sample_weight is not supported on device='cuda'"
    ):
        net.fit(X, Y, sample_weight=s)


def test_validation_figures_use_the_validation_weights():
    net, X, Y, s = problem("tanh", "softmax", "categorical_cross_entropy", m=30)
    Xv, Yv, sv = X[:, :10], Y[:, :10], s[:10]
    h = net.fit(
        X, Y, epochs=1, batch_size=8, sample_weight=s, validation_data=(Xv, Yv, sv), progress=False
    )
    assert h.val_cost[0] == pytest.approx(net.cost(Xv, Yv, sv), rel=1e-13)
    correct = np.argmax(net.forward(Xv), 0) == np.argmax(Yv, 0)
    assert h.val_accuracy[0] == pytest.approx(np.average(correct, weights=sv), rel=1e-13)
    h = net.fit(
        X, Y, epochs=1, batch_size=8, sample_weight=s, validation_data=(Xv, Yv), progress=False
    )
    assert h.val_cost[0] == pytest.approx(net.cost(Xv, Yv), rel=1e-13)


# ------------------------------------------------------------- the estimators
sklearn = pytest.importorskip("sklearn")
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

from fnn_numba import FNNClassifier, FNNRegressor  # noqa: E402


def data(m=30, seed=0, classes=3):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, (m, 4))
    y_reg = X @ rng.standard_normal(4) + 0.1 * rng.standard_normal(m)
    y_clf = rng.randint(0, classes, m)
    s = rng.uniform(0, 3, m)
    s[3] = 0.0
    return X, y_reg, y_clf, s


def both(ours, theirs, params, X, y, s):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ours(**params).fit(X, y, sample_weight=s), theirs(**params).fit(
            X, y, sample_weight=s
        )


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_lbfgs_with_weights_matches_scikit_learn(kind):
    X, y_reg, y_clf, s = data()
    ours, theirs, y = (
        (FNNRegressor, MLPRegressor, y_reg)
        if kind == "regressor"
        else (FNNClassifier, MLPClassifier, y_clf)
    )
    a, b = both(
        ours,
        theirs,
        dict(
            hidden_layer_sizes=(5,),
            solver="lbfgs",
            alpha=0.3,
            max_iter=40,
            random_state=1,
            activation="tanh",
        ),
        X,
        y,
        s,
    )
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-6)
    out = (lambda e: e.predict(X)) if kind == "regressor" else (lambda e: e.predict_proba(X))
    np.testing.assert_allclose(out(a), out(b), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_one_sgd_epoch_with_weights_and_a_short_last_batch_matches_scikit_learn(kind):
    """Batches of 7 out of 30 (a short last batch of 2): each batch's loss and
    penalty, alpha/2 ||W||^2 / S_b, as scikit-learn's."""
    X, y_reg, y_clf, s = data()
    ours, theirs, y = (
        (FNNRegressor, MLPRegressor, y_reg)
        if kind == "regressor"
        else (FNNClassifier, MLPClassifier, y_clf)
    )
    a, b = both(
        ours,
        theirs,
        dict(
            hidden_layer_sizes=(5,),
            solver="sgd",
            momentum=0.0,
            alpha=0.5,
            batch_size=7,
            learning_rate_init=0.1,
            max_iter=2,
            shuffle=True,
            random_state=2,
            activation="tanh",
        ),
        X,
        y,
        s,
    )
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)
    for mine, theirs_ in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(mine, theirs_, rtol=1e-11, atol=1e-13)


def test_early_stopping_splits_the_weights_and_scores_with_them_as_scikit_learn():
    X, y, _, s = data(m=50)
    params = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        momentum=0.0,
        batch_size=8,
        learning_rate_init=0.05,
        max_iter=3,
        early_stopping=True,
        validation_fraction=0.3,
        random_state=4,
        activation="tanh",
    )
    a, b = both(FNNRegressor, MLPRegressor, params, X, y, s)
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_, rtol=1e-10)
    # the weights matter to the score
    c, _ = both(FNNRegressor, MLPRegressor, params, X, y, None)
    assert not np.allclose(a.validation_scores_, c.validation_scores_)


def test_class_weight_is_a_weight_per_class():
    X, _, y, s = data(m=40)
    cw = {0: 3.0, 1: 0.5, 2: 1.0}
    params = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = FNNClassifier(class_weight=cw, **params).fit(X, y, sample_weight=s)
        b = FNNClassifier(**params).fit(X, y, sample_weight=s * np.array([cw[c] for c in y]))
        assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
        counts = np.bincount(y)
        c = FNNClassifier(class_weight="balanced", **params).fit(X, y)
        d = FNNClassifier(**params).fit(X, y, sample_weight=len(y) / (3 * counts[y]))
        np.testing.assert_allclose(c.predict_proba(X), d.predict_proba(X), rtol=1e-12)
    with pytest.raises(
        ValueError, match="class_weight: 'balanced' is not supported by partial_fit"
    ):
        FNNClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="class_weight"):
        FNNClassifier(class_weight="heavy", max_iter=1).fit(X, y)


def test_estimator_refuses_negative_weights_before_changing_anything():
    X, y, _, s = data()
    est = FNNRegressor(max_iter=1)
    with pytest.raises(ValueError, match="sample_weight: expected weights >= 0"):
        est.fit(X, y, sample_weight=-s)
    assert "coefs_" not in est.__dict__
