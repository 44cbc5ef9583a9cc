"""fnn_numba.lbfgs: the flat cost and gradient L-BFGS sees, and the solver loop."""

import numpy as np
import pytest
from conftest import random_network, targets_for

import fnn_numba as fnn
from fnn_numba.lbfgs import fit_lbfgs, flat_cost_and_gradient, set_flat_parameters

pytest.importorskip("scipy")


def problem(cost="squared_error", out="identity", seed=0, m=40, dtype=np.float64, l2=0.01):
    rng = np.random.default_rng(seed)
    net = random_network([3, 6, 2], ["tanh", out], cost, seed=seed, dtype=dtype, l2=l2, scale=0.5)
    X = rng.standard_normal((3, m))
    Y = targets_for(cost, 2, m, rng)
    return net, X, Y


def test_flat_layout_is_get_parameters():
    net, _, _ = problem()
    theta = np.arange(net.n_parameters, dtype=float) / 100
    set_flat_parameters(net, theta)
    np.testing.assert_array_equal(net.get_parameters(), theta)
    # [W1 (row-major), b1, W2, b2]: W1 is (6, 3), so b1 starts at 18
    np.testing.assert_array_equal(net.weights[0].ravel(), theta[:18])
    np.testing.assert_array_equal(net.biases[0], theta[18:24])


@pytest.mark.parametrize(
    "cost,out",
    [
        ("squared_error", "identity"),
        ("binary_cross_entropy", "sigmoid"),
        ("categorical_cross_entropy", "softmax"),
        ("poisson", "exp"),
    ],
)
def test_flat_gradient_matches_central_differences(cost, out):
    net, X, Y = problem(cost, out, m=7)
    theta = net.get_parameters()
    J, g = flat_cost_and_gradient(net, X, Y, theta)
    assert J == pytest.approx(net.cost(X, Y), rel=1e-12)
    h = 1e-6
    fd = np.zeros_like(theta)
    for q in range(theta.size):
        e = np.zeros_like(theta)
        e[q] = h
        fd[q] = (
            flat_cost_and_gradient(net, X, Y, theta + e)[0]
            - flat_cost_and_gradient(net, X, Y, theta - e)[0]
        ) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_fit_lbfgs_converges_to_a_stationary_point():
    net, X, Y = problem()
    before = net.cost(X, Y)
    res = fit_lbfgs(net, X, Y, max_iter=500, tol=1e-7)
    assert res.converged and res.status == 0
    assert res.loss == pytest.approx(net.cost(X, Y), rel=1e-12)
    assert res.loss < 0.5 * before
    # SciPy stops on gtol or on a relative reduction of J below its ftol,
    # whichever comes first: the gradient is small, not necessarily <= tol
    g = net.gradients(X, Y)
    assert max(np.abs(w).max() for w in g.weights + g.biases) <= 1e-3
    assert "CONVERGENCE" in res.message
    assert len(res.loss_curve) == res.n_iter
    assert all(b <= a + 1e-12 for a, b in zip(res.loss_curve, res.loss_curve[1:]))


def test_max_iter_and_max_fun_limit_the_run():
    net, X, Y = problem()
    res = fit_lbfgs(net, X, Y, max_iter=3, tol=0.0)
    assert res.n_iter == 3 and not res.converged
    net, X, Y = problem()
    res = fit_lbfgs(net, X, Y, max_iter=500, max_fun=5, tol=0.0)
    assert not res.converged and res.n_iter <= 5


def test_labels_and_float32():
    net, X, Y = problem("categorical_cross_entropy", "softmax", dtype=np.float32)
    labels = np.argmax(Y, axis=0)
    res = fit_lbfgs(net, X, labels, max_iter=50)
    assert net.get_parameters().dtype == np.float32
    assert res.loss == pytest.approx(net.cost(X, labels), rel=1e-5)
    assert res.loss < fnn.Network(
        [3, 6, 2], ["tanh", "softmax"], "categorical_cross_entropy", seed=0
    ).cost(X, labels)


def test_verbose_and_callback(capsys):
    net, X, Y = problem()
    seen = []
    fit_lbfgs(
        net, X, Y, max_iter=4, tol=0.0, verbose=True, callback=lambda i, J: seen.append((i, J))
    )
    out = capsys.readouterr().out
    assert [i for i, _ in seen] == [1, 2, 3, 4]
    assert f"Iteration 1, loss = {seen[0][1]:.8f}" in out


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(max_fun=1.5), TypeError, "max_fun"),
        (dict(tol=-1.0), ValueError, "tol"),
        (dict(callback=3), TypeError, "callback"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, match):
    net, X, Y = problem()
    before = net.get_parameters()
    with pytest.raises(error, match=match):
        fit_lbfgs(net, X, Y, **kwargs)
    np.testing.assert_array_equal(net.get_parameters(), before)


def test_bad_data_is_refused_before_anything_changes():
    net, X, Y = problem()
    before = net.get_parameters()
    with pytest.raises(ValueError, match="X"):
        fit_lbfgs(net, X[:2], Y)
    with pytest.raises(ValueError, match="Y"):
        fit_lbfgs(net, X, Y[:, :5])
    with pytest.raises(ValueError, match="theta"):
        set_flat_parameters(net, np.zeros(3))
    np.testing.assert_array_equal(net.get_parameters(), before)


def test_network_fit_offers_lbfgs_and_lowers_the_cost():
    import fnn_numba as fnn

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 60))
    y = (X[0] + X[1] > 0).astype(int) + (X[2] > 0.5).astype(int)
    net = fnn.Network([4, 8, 3], seed=1)
    before = net.cost(X, y)
    history = net.fit(X, y, epochs=30, optimizer="lbfgs", validation_data=(X[:, :20], y[:20]))
    assert 1 <= len(history) <= 30 and len(history.val_cost) == len(history)
    assert history.cost[-1] == pytest.approx(net.cost(X, y), rel=1e-9)
    assert net.cost(X, y) < 0.5 * before
    assert net.epochs_trained == len(history)


def test_lbfgs_on_a_conv_network_gets_the_layout_of_every_layer():
    # the flat vector of a conv stack is not [W (n, K), b] per dense layer: an
    # earlier set_flat_parameters assumed it was and failed on conv networks
    from fnn_numba.layers import Conv2D, Dense, Flatten, Input, MaxPool2D

    rng = np.random.default_rng(4)
    net = fnn.Network(
        [
            Input((1, 6, 6)),
            Conv2D(2, 3, activation="tanh"),
            MaxPool2D(2),
            Flatten(),
            Dense(3, "softmax"),
        ],
        cost="categorical_cross_entropy",
        seed=2,
        dtype=np.float64,
    )
    X = rng.standard_normal((36, 12))
    Y = np.eye(3)[:, rng.integers(0, 3, 12)]
    theta = rng.standard_normal(net.n_parameters) * 0.3
    set_flat_parameters(net, theta)
    np.testing.assert_array_equal(net.get_parameters(), theta)
    assert net.weights[0].shape == (2, 1, 3, 3)
    J, g = flat_cost_and_gradient(net, X, Y, theta)
    h = 1e-6
    for q in rng.choice(theta.size, 12, replace=False):
        e = np.zeros_like(theta)
        e[q] = h
        fd = (
            flat_cost_and_gradient(net, X, Y, theta + e)[0]
            - flat_cost_and_gradient(net, X, Y, theta - e)[0]
        ) / (2 * h)
        assert g[q] == pytest.approx(fd, rel=1e-5, abs=1e-8)
    res = fit_lbfgs(net, X, Y, max_iter=30)
    assert res.loss < J
