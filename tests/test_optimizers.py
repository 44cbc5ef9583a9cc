"""Optimizers, schedules, clipping, early stopping, partial_fit: each update
rule against an independent NumPy implementation of its formula."""

import numpy as np
import pytest
from conftest import random_network

import fnn_numba as fnn
from fnn_numba import vectorized


def numpy_training(
    net,
    X,
    Y,
    epochs,
    lr,
    optimizer,
    mu=0.9,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    clip=None,
    schedule=lambda e: 1.0,
):
    """Full-batch training with the textbook update rules, in NumPy."""
    Ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    params = Ws + bs
    v = [np.zeros_like(p) for p in params]
    s = [np.zeros_like(p) for p in params]
    t = 0
    for e in range(epochs):
        alpha = lr * schedule(e)
        _, dWs, dbs, _ = vectorized.gradients_vectorized(
            Ws, bs, net.activations, net.cost_name, X, Y, net.l2
        )
        grads = dWs + dbs
        if clip is not None:
            norm = np.sqrt(sum(np.sum(g**2) for g in grads))
            if norm > clip:
                grads = [g * clip / norm for g in grads]
        t += 1
        for q, (p, g) in enumerate(zip(params, grads)):
            if optimizer == "sgd":
                p -= alpha * g
            elif optimizer == "momentum":
                v[q] = mu * v[q] - alpha * g
                p += v[q]
            elif optimizer == "nesterov":
                v[q] = mu * v[q] - alpha * g
                p += mu * v[q] - alpha * g
            elif optimizer == "adam":
                v[q] = b1 * v[q] + (1 - b1) * g
                s[q] = b2 * s[q] + (1 - b2) * g * g
                p -= alpha * (v[q] / (1 - b1**t)) / (np.sqrt(s[q] / (1 - b2**t)) + eps)
    return Ws, bs


def data(seed=0, m=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, m))
    return X, rng.integers(0, 2, m), np.eye(2)[:, rng.integers(0, 2, m)]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_optimizer_updates_match_numpy(optimizer):
    X, _, Y = data()
    net = random_network([3, 5, 2], ["tanh", "softmax"], "cce", l2=0.01)
    expected_W, expected_b = numpy_training(net, X, Y, 5, 0.05, optimizer)
    net.fit(X, Y, epochs=5, batch_size=None, learning_rate=0.05, optimizer=optimizer, shuffle=False)
    for got, want in zip(net.weights + net.biases, expected_W + expected_b):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "schedule,kwargs,rule",
    [
        ("constant", {}, lambda e: 1.0),
        ("invscaling", dict(power_t=0.5), lambda e: 1 / np.sqrt(e + 1)),
        ("step", dict(step_size=2, gamma=0.5), lambda e: 0.5 ** (e // 2)),
        ("exponential", dict(gamma=0.9), lambda e: 0.9**e),
    ],
)
def test_learning_rate_schedules(schedule, kwargs, rule):
    X, _, Y = data(1)
    net = random_network([3, 4, 2], ["relu", "softmax"], "cce")
    expected_W, _ = numpy_training(net, X, Y, 5, 0.2, "sgd", schedule=rule)
    history = net.fit(
        X,
        Y,
        epochs=5,
        batch_size=None,
        learning_rate=0.2,
        lr_schedule=schedule,
        shuffle=False,
        **kwargs,
    )
    np.testing.assert_allclose(history.learning_rate, [0.2 * rule(e) for e in range(5)], rtol=1e-15)
    for got, want in zip(net.weights, expected_W):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_clip_norm_limits_the_step():
    X, _, Y = data(2)
    net = random_network([3, 4, 2], ["relu", "softmax"], "cce", scale=3.0)
    g = net.gradients(X, Y)
    norm = np.sqrt(sum(np.sum(a**2) for a in g.weights + g.biases))
    clip = norm / 10
    before = net.get_parameters()
    expected_W, _ = numpy_training(net, X, Y, 1, 0.1, "sgd", clip=clip)
    net.fit(X, Y, epochs=1, batch_size=None, learning_rate=0.1, clip_norm=clip, shuffle=False)
    assert np.linalg.norm(net.get_parameters() - before) == pytest.approx(0.1 * clip, rel=1e-10)
    np.testing.assert_allclose(net.weights[0], expected_W[0], rtol=1e-10)


def test_partial_fit_keeps_the_optimizer_state():
    X, y, _ = data(3, m=20)
    a = random_network([3, 6, 2], ["tanh", "softmax"], "cce", seed=4)
    b = random_network([3, 6, 2], ["tanh", "softmax"], "cce", seed=4)
    a.fit(X, y, epochs=3, batch_size=5, learning_rate=0.01, optimizer="adam", shuffle=False)
    for _ in range(3):
        b.partial_fit(X, y, batch_size=5, learning_rate=0.01, optimizer="adam", shuffle=False)
    assert np.array_equal(a.get_parameters(), b.get_parameters())
    # a second fit starts a fresh optimizer state: not the same as continuing
    c = random_network([3, 6, 2], ["tanh", "softmax"], "cce", seed=4)
    c.fit(X, y, epochs=2, batch_size=5, learning_rate=0.01, optimizer="adam", shuffle=False)
    c.fit(X, y, epochs=1, batch_size=5, learning_rate=0.01, optimizer="adam", shuffle=False)
    assert not np.array_equal(a.get_parameters(), c.get_parameters())


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((10, 30))
    y = rng.integers(0, 3, 30)  # random labels: validation cost rises as the net memorises
    Xv, yv = rng.standard_normal((10, 30)), rng.integers(0, 3, 30)
    net = fnn.Network([10, 64, 3], ["relu", "softmax"], seed=0)
    snapshots = []
    history = net.fit(
        X,
        y,
        epochs=300,
        batch_size=10,
        learning_rate=0.3,
        validation_data=(Xv, yv),
        early_stopping=True,
        patience=5,
        callback=lambda e, h: snapshots.append(net.get_parameters()),
    )
    assert 0 < history.stopped_epoch < 300
    assert history.stopped_epoch == history.best_epoch + 5
    assert len(history.cost) == history.stopped_epoch
    assert history.best_epoch == int(np.argmin(history.val_cost)) + 1
    assert np.array_equal(net.get_parameters(), snapshots[history.best_epoch - 1])


def test_validation_fraction_holds_out_examples():
    X, y, _ = data(6, m=40)
    net = fnn.Network([3, 4, 2], seed=1)
    history = net.fit(X, y, epochs=2, validation_fraction=0.25)
    assert len(history.val_cost) == 2 and len(history.val_accuracy) == 2
    with pytest.raises(ValueError, match="validation_fraction"):
        net.fit(X, y, epochs=1, validation_fraction=1.5)


def test_interrupt_between_epochs_keeps_a_consistent_network():
    X, y, _ = data(7, m=40)
    net = fnn.Network([3, 4, 2], seed=1)
    seen = []

    def interrupt(epoch, history):
        seen.append(net.get_parameters())
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=5, callback=interrupt)
    assert np.array_equal(net.get_parameters(), seen[-1])
    net.fit(X, y, epochs=1)  # still usable


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (
            dict(optimizer="rmsprop"),
            ValueError,
            "optimizer: expected one of adam, momentum, nesterov, sgd",
        ),
        (dict(momentum=1.0), ValueError, r"momentum: expected a value in \[0, 1\)"),
        (dict(beta2=-0.1), ValueError, "beta2"),
        (dict(epsilon=0), ValueError, "epsilon"),
        (dict(lr_schedule="cosine"), ValueError, "lr_schedule"),
        (dict(clip_norm=-1), ValueError, "clip_norm"),
        (dict(patience=0), ValueError, "patience"),
        (dict(callback=3), TypeError, "callback"),
        (dict(step_size=0), ValueError, "step_size"),
    ],
)
def test_bad_training_options_are_rejected_and_change_nothing(kwargs, error, match):
    X, y, _ = data(8)
    net = fnn.Network([3, 4, 2], seed=1)
    before = net.get_parameters()
    with pytest.raises(error, match=match):
        net.fit(X, y, epochs=1, **kwargs)
    assert np.array_equal(net.get_parameters(), before)
