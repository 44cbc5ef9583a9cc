"""Robustness: numerical edges, determinism across thread counts, concurrent
calls under every threading layer available, interrupted fits."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba import kernels, reference
from fnn_numba.activations import ACTIVATIONS
from fnn_numba.costs import COSTS

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parent.parent


def run_script(name, *args, **env):
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


# ----------------------------------------------------------------- numerical edges
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_huge_logits_into_softmax_and_sigmoid(dtype, scale):
    z = np.asfortranarray(np.array([[scale, 0.0], [0.0, scale], [-scale, 1.0]], dtype=dtype))
    for name in ("softmax", "sigmoid"):
        a = np.zeros_like(z)
        kernels.activation_forward(ACTIVATIONS[name], z, a)
        assert np.all(np.isfinite(a)) and np.all(a >= 0) and np.all(a <= 1)
        np.testing.assert_allclose(a, reference.a_reference(name, z.astype(float)), atol=1e-6)
    softmax = np.zeros_like(z)
    kernels.activation_forward(ACTIVATIONS["softmax"], z, softmax)
    np.testing.assert_allclose(softmax.sum(axis=0), 1, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cost", ["binary_cross_entropy", "categorical_cross_entropy"])
def test_predictions_of_exactly_zero_or_one(dtype, cost):
    y_hat = np.asfortranarray(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]], dtype=dtype))
    y = np.asfortranarray(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=dtype))
    losses = np.zeros(3, dtype)
    kernels.example_losses(COSTS[cost], ACTIVATIONS["identity"], False, y_hat, y_hat, y, losses)
    assert np.all(np.isfinite(losses))
    # a wrong certain prediction costs -log(eps) per wrong term: large but finite
    wrong_terms = 2 if cost == "binary_cross_entropy" else 1
    assert losses[0] == pytest.approx(-wrong_terms * np.log(np.finfo(dtype).eps), rel=1e-3)
    # a right certain prediction costs (almost) nothing
    assert losses[2] < 1e-5
    seed = np.zeros_like(y_hat)
    kernels.cost_seed(COSTS[cost], y_hat, y, seed)
    assert np.all(np.isfinite(seed))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out,cost", [("sigmoid", "bce"), ("softmax", "cce")])
def test_saturated_outputs_train_with_the_correct_limit_gradient(dtype, out, cost):
    """Logits of +-1e4 saturate the output to exactly 0 or 1; the fused path
    gives the limit gradient (a - y)/m, finite, not 0/0."""
    net = fnn.Network([2, 2], [out], cost, dtype=dtype)
    net.weights = [np.array([[1e4, 0.0], [-1e4, 0.0]])]
    X = np.array([[1.0, -1.0], [0.0, 0.0]])
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])  # both examples confidently wrong
    g = net.gradients(X, Y)
    a = net.forward(X)
    assert np.isfinite(g.cost) and g.cost > 100
    dz = (a.astype(float) - Y) / 2  # the limit of the exact gradient
    np.testing.assert_allclose(g.weights[0], dz @ X.T, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(g.inputs))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_unit_layers_and_one_example_batches(dtype):
    rng = np.random.default_rng(0)
    net = fnn.Network([1, 1, 1, 1], ["tanh", "relu", "sigmoid"], "bce", dtype=dtype, seed=2)
    X, Y = rng.standard_normal((1, 9)), rng.integers(0, 2, (1, 9))
    history = net.fit(X, Y, epochs=5, batch_size=1, learning_rate=0.1)
    assert len(history.cost) == 5 and np.all(np.isfinite(history.cost))
    g = net.gradients(X[:, :1], Y[:, :1])
    assert g.inputs.shape == (1, 1) and np.isfinite(g.cost)


@pytest.mark.parametrize("weight", [1e-30, 1e-8, 1e8])
def test_very_small_and_very_large_weights(weight):
    net = fnn.Network([3, 4, 2], ["tanh", "softmax"], "cce")
    net.weights = [np.full((4, 3), weight), np.full((2, 4), weight)]
    X = np.array([[1.0, -2.0], [0.5, 0.1], [-1.0, 3.0]])
    g = net.gradients(X, np.array([0, 1]))
    assert np.isfinite(g.cost) and all(np.all(np.isfinite(w)) for w in g.weights)
    J, dws, _, _ = reference.gradients_reference(
        net.weights,
        net.biases,
        net.activations,
        "categorical_cross_entropy",
        X,
        np.eye(2)[:, [0, 1]],
    )
    assert g.cost == pytest.approx(J, rel=1e-12)
    for got, want in zip(g.weights, dws):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-300)


# -------------------------------------------------------------------- determinism
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_is_bit_identical_for_one_and_two_threads(dtype):
    digests = {
        threads: run_script("fit_and_dump.py", dtype, NUMBA_NUM_THREADS=str(threads))
        for threads in (1, 2)
    }
    again = run_script("fit_and_dump.py", dtype, NUMBA_NUM_THREADS="2")
    assert digests[1] == digests[2] == again


# ------------------------------------------------------------------------ threads
def available_layers():
    layers = ["workqueue", "omp"]
    try:
        import tbb  # noqa: F401

        layers.append("tbb")
    except ImportError:
        pass
    return layers


@pytest.mark.parametrize("layer", available_layers())
def test_concurrent_calls_are_correct_under_each_threading_layer(layer):
    out = run_script("concurrent_calls.py", NUMBA_THREADING_LAYER=layer, NUMBA_NUM_THREADS="2")
    assert out == f"OK {layer}", out


# -------------------------------------------------------------- interrupted fit
def test_keyboard_interrupt_between_batches_leaves_a_consistent_network():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((200, 4000)), rng.integers(0, 10, 4000)
    net = fnn.Network([200, 200, 10], seed=0)
    net.fit(X[:, :64], y[:64], epochs=1)  # compile first
    before = net.get_parameters()
    timers = []

    def interrupt_soon(epoch, history):
        # fire once the first epoch is done, so that at least one step ran
        # however loaded the machine is; the signal lands between batches
        if epoch == 1:
            timers.append(threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT)))
            timers[0].start()

    history = None
    try:
        with pytest.raises(KeyboardInterrupt):
            history = net.fit(
                X, y, epochs=1000, batch_size=16, learning_rate=0.01, callback=interrupt_soon
            )
    finally:
        for t in timers:
            t.cancel()
    assert history is None
    after = net.get_parameters()
    assert np.all(np.isfinite(after)) and not np.array_equal(after, before)
    steps = net.optimizer.steps
    assert steps > 0
    per_epoch = 4000 // 16
    assert len(net.history.cost) == steps // per_epoch  # completed epochs only
    # the weights are those after exactly `steps` completed steps: replaying
    # them from the same seed gives the same parameters
    replay = fnn.Network([200, 200, 10], seed=0)
    replay.fit(X[:, :64], y[:64], epochs=1)
    full, rest = divmod(steps, per_epoch)
    if full:
        replay.fit(X, y, epochs=full, batch_size=16, learning_rate=0.01)
    if rest:
        order = replay._rng.permutation(4000)[: rest * 16]
        replay.fit(
            X[:, order], y[order], epochs=1, batch_size=16, learning_rate=0.01, shuffle=False
        )
    assert np.array_equal(replay.get_parameters(), after)
