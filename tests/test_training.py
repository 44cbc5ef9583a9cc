"""Training behaviour: real data, the three descent modes, history,
reproducibility, divergence."""

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba import datasets


def test_digits_reaches_95_percent_test_accuracy():
    Xtr, ytr, Xte, yte, k = datasets.load("digits", seed=0, dtype=np.float32)
    net = fnn.Network([64, 32, k], ["relu", "softmax"], "cce", init="he", dtype=np.float32, seed=0)
    history = net.fit(
        Xtr, ytr, epochs=30, batch_size=32, learning_rate=0.1, validation_data=(Xte, yte)
    )
    accuracy = np.mean(net.predict(Xte) == yte)
    assert accuracy >= 0.95, accuracy
    assert len(history.cost) == len(history.val_cost) == len(history.val_accuracy) == 30
    assert history.cost[-1] < history.cost[0] / 4
    assert history.val_accuracy[-1] == pytest.approx(accuracy)


@pytest.mark.parametrize("batch_size", [1, 16, None])
def test_sgd_minibatch_and_full_batch_lower_the_cost(batch_size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 64))
    y = (X[0] * X[1] > 0).astype(np.int64)  # XOR-like: needs the hidden layer
    net = fnn.Network([2, 16, 2], ["tanh", "softmax"], "cce", seed=1)
    before = net.cost(X, y)
    epochs = 200 if batch_size is None else 40
    learning_rate = 0.05 if batch_size == 1 else 0.5
    history = net.fit(X, y, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
    assert net.cost(X, y) < 0.5 * before
    assert history.cost[-1] < history.cost[0]


def test_full_batch_epoch_cost_is_the_cost_before_the_step():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 10)), rng.standard_normal((2, 10))
    net = fnn.Network([3, 4, 2], ["sigmoid", "identity"], "mse", seed=2)
    J0 = net.cost(X, Y)
    history = net.fit(X, Y, epochs=1, batch_size=None, learning_rate=0.01)
    assert history.cost[0] == pytest.approx(J0, rel=1e-12)


def test_fit_is_reproducible_with_a_seed():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((5, 50)), rng.integers(0, 3, 50)
    runs = []
    for _ in range(2):
        net = fnn.Network([5, 8, 3], seed=9, dtype=np.float32)
        net.fit(X, y, epochs=3, batch_size=7)
        runs.append(net.get_parameters())
    assert np.array_equal(runs[0], runs[1])


def test_divergence_stops_with_epoch_and_keeps_finite_weights():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((3, 40)) * 10, rng.standard_normal((1, 40)) * 10
    net = fnn.Network([3, 8, 1], ["relu", "identity"], "mse", seed=0)
    with pytest.raises(fnn.TrainingDivergedError, match=r"epoch \d+, batch \d+") as info:
        net.fit(X, Y, epochs=50, batch_size=4, learning_rate=50.0)
    assert np.all(np.isfinite(net.get_parameters()))
    assert info.value.epoch >= 1 and info.value.batch >= 1
    assert len(info.value.history.cost) == info.value.epoch - 1


@pytest.mark.parametrize(
    "sizes,m,batch_size",
    [
        ([300, 4, 2], 20, 8),  # input far wider than the rest of the workspace
        ([40, 20, 3], 900, 400),  # full batches in P1 (13)'s dot-product order, the last one not
    ],
)
def test_fit_epoch_equals_vectorized_sgd_steps(sizes, m, batch_size):
    """An epoch of fit (no shuffling, plain SGD) is the NumPy peer's
    train_step batch by batch, across both loop orders of P1 (13)."""
    from fnn_numba.vectorized import train_step

    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.standard_normal((sizes[0], m)))
    labels = rng.integers(0, sizes[-1], m)
    net = fnn.Network(sizes, ["relu", "softmax"], "categorical_cross_entropy", seed=1)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    net.fit(
        X, labels, epochs=1, batch_size=batch_size, learning_rate=0.1, shuffle=False, progress=False
    )
    Y = np.zeros((sizes[-1], m))
    Y[labels, np.arange(m)] = 1
    for s in range(0, m, batch_size):
        train_step(
            weights,
            biases,
            ["relu", "softmax"],
            X[:, s : s + batch_size],
            Y[:, s : s + batch_size],
            0.1,
        )
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
