"""Property-based tests (hypothesis) over random architectures, activations,
costs, batch sizes and dtypes."""

import numpy as np
from conftest import ALL_ACTIVATIONS, OUTPUTS, finite_difference_gradients, targets_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fnn_numba as fnn
from fnn_numba import vectorized

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@st.composite
def networks(draw, max_width=40, max_layers=5):
    depth = draw(st.integers(1, max_layers))
    sizes = [draw(st.integers(1, max_width)) for _ in range(depth + 1)]
    cost = draw(st.sampled_from(sorted(OUTPUTS)))
    outputs = [o for o in OUTPUTS[cost] if not (o == "softmax" and sizes[-1] == 1)]
    if not outputs:
        sizes[-1] = 2
        outputs = OUTPUTS[cost]
    activations = [draw(st.sampled_from(ALL_ACTIVATIONS)) for _ in range(depth - 1)]
    activations.append(draw(st.sampled_from(outputs)))
    m = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    return sizes, activations, cost, m, seed


def build(sizes, activations, cost, seed, dtype=np.float64, l2=0.0):
    net = fnn.Network(sizes, activations, cost, init="xavier", dtype=dtype, seed=seed, l2=l2)
    rng = np.random.default_rng(seed)
    net.biases = [rng.standard_normal(b.shape) * 0.3 for b in net.biases]
    return net, rng


@settings(max_examples=30, **SETTINGS)
@given(networks(max_width=8, max_layers=4), st.sampled_from([0.0, 0.1]))
def test_gradients_match_central_differences(spec, l2):
    sizes, activations, cost, m, seed = spec
    net, rng = build(sizes, activations, cost, seed, l2=l2)
    X = rng.standard_normal((sizes[0], m))
    Y = targets_for(cost, sizes[-1], m, rng)
    g = net.gradients(X, Y)
    analytic = np.concatenate([np.ravel(a) for pair in zip(g.weights, g.biases) for a in pair])
    numeric, _ = finite_difference_gradients(net, X, Y, inputs=False)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    # relu-family kinks can sit within h of a z: allow those rare parameters, nothing else
    assert np.linalg.norm(analytic - numeric) <= 1e-6 * max(scale, 1e-8) or _near_kink(net, X)


def _near_kink(net, X):
    from fnn_numba import reference

    zs, _ = reference.forward_reference(net.weights, net.biases, net.activations, X)
    kinked = {"relu", "leaky_relu", "elu", "selu"}
    return any(name in kinked and np.min(np.abs(z)) < 1e-4 for z, name in zip(zs, net.activations))


@settings(max_examples=40, **SETTINGS)
@given(networks(), st.sampled_from([np.float32, np.float64]))
def test_forward_matches_the_vectorised_form(spec, dtype):
    sizes, activations, cost, m, seed = spec
    net, rng = build(sizes, activations, cost, seed, dtype=dtype)
    X = rng.standard_normal((sizes[0], m))
    want = vectorized.forward_vectorized(
        [w.astype(float) for w in net.weights],
        [b.astype(float) for b in net.biases],
        activations,
        X,
    )[1][-1]
    tol = 1e-12 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(net.forward(X), want, rtol=tol, atol=tol)


@settings(max_examples=20, **SETTINGS)
@given(networks(), st.sampled_from([np.float32, np.float64]))
def test_save_load_is_exact(tmp_path_factory, spec, dtype):
    sizes, activations, cost, m, seed = spec
    net, _ = build(sizes, activations, cost, seed, dtype=dtype, l2=0.01)
    path = tmp_path_factory.mktemp("models") / "net.npz"
    net.save(path)
    back = fnn.Network.load(path)
    assert back.get_parameters().dtype == net.get_parameters().dtype
    assert np.array_equal(back.get_parameters(), net.get_parameters())
    assert (back.sizes, back.activations, back.cost_name, back.l2) == (
        net.sizes,
        net.activations,
        net.cost_name,
        net.l2,
    )


@settings(max_examples=15, **SETTINGS)
@given(
    st.integers(1, 3),
    st.integers(2, 16),
    st.sampled_from(["tanh", "relu", "elu", "sigmoid"]),
    st.integers(0, 1000),
    st.sampled_from([np.float32, np.float64]),
)
def test_fitting_a_learnable_problem_lowers_the_cost(depth, width, hidden, seed, dtype):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, 64))
    y = (X[0] + 0.5 * X[1] > 0).astype(np.int64)  # linearly separable
    net = fnn.Network(
        [2] + [width] * (depth - 1) + [2],
        [hidden] * (depth - 1) + ["softmax"],
        dtype=dtype,
        seed=seed,
    )
    before = net.cost(X, y)
    net.fit(X, y, epochs=30, batch_size=16, learning_rate=0.1)
    assert net.cost(X, y) < before
