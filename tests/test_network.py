"""The Network: whole-network gradients against finite differences, the
index-level reference and the vectorised form; a network worked by hand;
save/load; layouts and dtypes."""

import numpy as np
import pytest
from conftest import (
    ALL_ACTIVATIONS,
    ALL_COSTS,
    OUTPUTS,
    finite_difference_gradients,
    random_network,
    targets_for,
)

import fnn_numba as fnn
from fnn_numba import reference, vectorized


def relative_error(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def flat(net, g):
    return net.flatten_gradients(g)


CASES = [
    (hidden, out, cost)
    for cost in ALL_COSTS
    for out in OUTPUTS[cost]
    for hidden in (
        ALL_ACTIVATIONS
        if (out, cost) in {("softmax", "categorical_cross_entropy"), ("identity", "squared_error")}
        else ["tanh"]
    )
]


@pytest.mark.parametrize("hidden,out,cost", CASES)
def test_gradients_match_finite_differences(hidden, out, cost):
    rng = np.random.default_rng(7)
    sizes = [3, 5, 4, 3]
    net = random_network(sizes, [hidden, hidden, out], cost, seed=3, l2=0.05)
    X = rng.standard_normal((3, 6))
    Y = targets_for(cost, 3, 6, rng)
    g = net.gradients(X, Y)
    g_fd, dX_fd = finite_difference_gradients(net, X, Y)
    assert relative_error(flat(net, g), g_fd) < 1e-6
    assert relative_error(g.inputs, dX_fd) < 1e-6
    assert g.cost == pytest.approx(net.cost(X, Y), rel=1e-13)


@pytest.mark.parametrize("hidden,out,cost", CASES)
def test_gradients_match_reference_and_vectorized(hidden, out, cost):
    rng = np.random.default_rng(11)
    net = random_network([4, 6, 5, 3], [hidden, hidden, out], cost, seed=5, l2=0.1)
    X = rng.standard_normal((4, 7))
    Y = targets_for(cost, 3, 7, rng)
    g = net.gradients(X, Y)
    args = (net.weights, net.biases, net.activations, cost, X, Y, 0.1)
    for J, dws, dbs, dX in (
        reference.gradients_reference(*args),
        vectorized.gradients_vectorized(*args),
    ):
        assert g.cost == pytest.approx(J, rel=1e-12)
        for l in range(3):
            np.testing.assert_allclose(g.weights[l], dws[l], rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(g.biases[l], dbs[l], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(g.inputs, dX, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        net.forward(X),
        reference.forward_reference(net.weights, net.biases, net.activations, X)[1][-1],
        rtol=1e-12,
        atol=1e-14,
    )


def test_network_worked_by_hand():
    """The 3-2-1 network of José Eduardo Ochoa Luna's lecture slides
    "Backpropagation" (n = 2 inputs: 3n + 14 = 20 parameters),
    relu hidden layers, identity output, squared error, one example; every
    number below was worked on paper."""
    net = fnn.Network([2, 3, 2, 1], ["relu", "relu", "identity"], "squared_error")
    assert net.n_parameters == 3 * 2 + 14
    net.weights = [
        np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]),
        np.array([[1.0, 1.0, 1.0], [-1.0, 0.0, 2.0]]),
        np.array([[1.0, -2.0]]),
    ]
    net.biases = [np.array([0.0, 1.0, 0.0]), np.array([0.0, 2.0]), np.array([0.5])]
    X, Y = np.array([[1.0], [2.0]]), np.array([[1.0]])
    # forward: z1 = [1, 3, -1], a1 = [1, 3, 0], z2 = a2 = [4, 1], z3 = a3 = 2.5
    assert net.forward(X)[0, 0] == 2.5
    assert net.cost(X, Y) == 0.5 * 1.5**2
    g = net.gradients(X, Y)
    # dz3 = 1.5; da2 = W3^T dz3 = [1.5, -3]; dz2 = da2 (z2 > 0);
    # da1 = W2^T dz2 = [4.5, 1.5, -4.5]; dz1 = [4.5, 1.5, 0] (z1_3 < 0)
    np.testing.assert_array_equal(g.weights[2], [[6.0, 1.5]])
    np.testing.assert_array_equal(g.biases[2], [1.5])
    np.testing.assert_array_equal(g.weights[1], [[1.5, 4.5, 0.0], [-3.0, -9.0, 0.0]])
    np.testing.assert_array_equal(g.biases[1], [1.5, -3.0])
    np.testing.assert_array_equal(g.weights[0], [[4.5, 9.0], [1.5, 3.0], [0.0, 0.0]])
    np.testing.assert_array_equal(g.biases[0], [4.5, 1.5, 0.0])
    np.testing.assert_array_equal(g.inputs, [[4.5], [1.5]])
    # one GD step with alpha = 0.1 moves every parameter by -0.1 * gradient
    before = [w.copy() for w in net.weights]
    net.fit(X, Y, epochs=1, batch_size=1, learning_rate=0.1, shuffle=False)
    np.testing.assert_allclose(net.weights[2], before[2] - 0.1 * np.array([[6.0, 1.5]]))


def test_relu_derivative_at_zero_is_zero():
    net = fnn.Network([1, 1], ["relu"], "squared_error")
    net.weights, net.biases = [np.array([[1.0]])], [np.array([0.0])]
    g = net.gradients(np.array([[0.0]]), np.array([[1.0]]))
    assert g.weights[0][0, 0] == 0.0 and g.inputs[0, 0] == 0.0


def test_l2_cost_and_update():
    rng = np.random.default_rng(0)
    net = random_network([3, 4, 2], ["tanh", "identity"], "squared_error", l2=0.5)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    plain = vectorized.cost_vectorized("squared_error", net.forward(X), Y)
    penalty = 0.25 * sum(np.sum(w**2) for w in net.weights)
    assert net.cost(X, Y) == pytest.approx(plain + penalty, rel=1e-13)
    g0 = vectorized.gradients_vectorized(
        net.weights, net.biases, net.activations, "squared_error", X, Y, 0.0
    )
    W_before = [w.copy() for w in net.weights]
    b_before = [b.copy() for b in net.biases]
    net.fit(X, Y, epochs=1, batch_size=None, learning_rate=0.1)
    for l in range(2):  # W <- (1 - alpha lambda) W - alpha dJ/dW; biases not penalised
        np.testing.assert_allclose(
            net.weights[l], (1 - 0.1 * 0.5) * W_before[l] - 0.1 * g0[1][l], rtol=1e-12
        )
        np.testing.assert_allclose(
            net.biases[l], b_before[l] - 0.1 * g0[2][l], rtol=1e-12, atol=1e-15
        )


def test_save_load_round_trip_is_exact(tmp_path):
    for dtype in (np.float32, np.float64):
        net = random_network([5, 4, 3], ["elu", "softmax"], "cce", dtype=dtype, l2=0.01)
        path = tmp_path / f"net-{np.dtype(dtype).name}.npz"
        net.save(path)
        back = fnn.Network.load(path)
        assert back.sizes == net.sizes and back.activations == net.activations
        assert back.cost_name == net.cost_name and back.dtype == net.dtype and back.l2 == net.l2
        for a, b in zip(net.weights + net.biases, back.weights + back.biases):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fnn-")] == []


def test_transposed_c_order_input_needs_no_copy(rng):
    net = fnn.Network([6, 4, 3], seed=0)
    samples = rng.standard_normal((10, 6))  # (m, n): the scikit-learn layout
    X = samples.T
    from fnn_numba._validation import as_float_matrix

    assert np.shares_memory(as_float_matrix("X", X, np.float64, rows=6), samples)
    np.testing.assert_allclose(net.forward(X), net.forward(np.array(X, order="C")), rtol=0, atol=0)


def test_float32_matches_float64(rng):
    n64 = random_network([8, 16, 4], ["tanh", "softmax"], "cce", dtype=np.float64)
    n32 = fnn.Network([8, 16, 4], ["tanh", "softmax"], "cce", dtype=np.float32)
    n32.weights, n32.biases = n64.weights, n64.biases
    X, y = rng.standard_normal((8, 20)), rng.integers(0, 4, 20)
    assert n32.forward(X).dtype == np.float32
    np.testing.assert_allclose(n32.forward(X), n64.forward(X), rtol=1e-5, atol=1e-6)
    g32, g64 = n32.gradients(X, y), n64.gradients(X, y)
    for a, b in zip(g32.weights, g64.weights):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_predict_modes(rng):
    X = rng.standard_normal((3, 8))
    cce = fnn.Network([3, 4], ["softmax"], "cce", seed=1)
    np.testing.assert_array_equal(cce.predict(X), np.argmax(cce.forward(X), axis=0))
    bce = fnn.Network([3, 2], ["sigmoid"], "bce", seed=1)
    np.testing.assert_array_equal(bce.predict(X), (bce.forward(X) > 0.5).astype(int))
    se = fnn.Network([3, 2], ["identity"], "mse", seed=1)
    np.testing.assert_array_equal(se.predict(X), se.forward(X))


def test_labels_and_one_hot_give_the_same_cost(rng):
    net = random_network([4, 5, 3], ["relu", "softmax"], "cce")
    X, y = rng.standard_normal((4, 9)), rng.integers(0, 3, 9)
    Y = np.eye(3)[:, y]
    assert net.cost(X, y) == net.cost(X, Y)


@pytest.mark.parametrize("init", ["zeros", "normal", "xavier", "he"])
def test_initialisers_are_seeded_and_scaled(init):
    a = fnn.Network([300, 200, 10], ["relu", "softmax"], init=init, seed=4)
    b = fnn.Network([300, 200, 10], ["relu", "softmax"], init=init, seed=4)
    c = fnn.Network([300, 200, 10], ["relu", "softmax"], init=init, seed=5)
    for wa, wb in zip(a.weights, b.weights):
        assert np.array_equal(wa, wb)
    expected = {"zeros": 0.0, "normal": 0.01, "xavier": np.sqrt(2 / 500), "he": np.sqrt(2 / 300)}[
        init
    ]
    assert a.weights[0].std() == pytest.approx(expected, rel=0.02, abs=1e-12)
    assert all(np.all(b == 0) for b in a.biases)
    if init != "zeros":
        assert not np.array_equal(a.weights[0], c.weights[0])


def test_pickle_round_trip_keeps_training_state():
    import pickle

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 30)), rng.integers(0, 3, 30)
    a = fnn.Network([4, 6, 3], seed=2)
    a.partial_fit(X, y, batch_size=10, optimizer="adam", learning_rate=0.01)
    b = pickle.loads(pickle.dumps(a))
    assert np.array_equal(a.get_parameters(), b.get_parameters())
    for net in (a, b):
        net.partial_fit(X, y, batch_size=10, optimizer="adam", learning_rate=0.01)
    assert np.array_equal(a.get_parameters(), b.get_parameters())


def test_save_load_keeps_the_optimizer_state(tmp_path):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((4, 30)), rng.integers(0, 3, 30)
    a = fnn.Network([4, 6, 3], seed=2, dtype=np.float32)
    a.partial_fit(X, y, batch_size=10, optimizer="adam", learning_rate=0.01)
    a.save(tmp_path / "a.npz")
    b = fnn.Network.load(tmp_path / "a.npz")
    for net in (a, b):
        net.partial_fit(X, y, batch_size=10, optimizer="adam", learning_rate=0.01)
    assert np.array_equal(a.get_parameters(), b.get_parameters())
