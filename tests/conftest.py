import numpy as np
import pytest

import fnn_numba as fnn

#: the activations the tests put in hidden layers (exp, the log link of the
#: Poisson cost, is tested as an output: stacked exp layers with O(1)
#: random weights overflow)
ALL_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softmax"]
ALL_COSTS = ["squared_error", "binary_cross_entropy", "categorical_cross_entropy", "poisson"]
#: output activations allowed with each cost
OUTPUTS = {
    "squared_error": ALL_ACTIVATIONS + ["exp"],
    "binary_cross_entropy": ["sigmoid", "softmax"],
    "categorical_cross_entropy": ["softmax", "sigmoid"],
    "poisson": ["exp"],
}


def targets_for(cost, n, m, rng):
    """Targets valid for ``cost``: real values, probabilities, counts (zeros
    included) or one-hot columns."""
    if cost == "squared_error":
        return rng.standard_normal((n, m))
    if cost == "poisson":
        return rng.poisson(1.5, (n, m)).astype(float)
    if cost == "binary_cross_entropy":
        return rng.uniform(0, 1, (n, m))
    y = np.zeros((n, m))
    y[rng.integers(0, n, m), np.arange(m)] = 1
    return y


def random_network(sizes, activations, cost, seed=0, dtype=np.float64, l2=0.0, scale=0.7):
    """A network with O(1) random weights and biases (so that every activation
    sees both signs of z)."""
    net = fnn.Network(sizes, activations, cost, init="xavier", dtype=dtype, seed=seed, l2=l2)
    rng = np.random.default_rng(seed + 1000)
    net.weights = [rng.standard_normal(w.shape) * scale for w in net.weights]
    net.biases = [rng.standard_normal(b.shape) * 0.3 for b in net.biases]
    return net


def _central_differences(net, X, Y, array, h):
    """(J(x + h) - J(x - h)) / 2h for every element x of ``array`` (the
    network's parameters or the inputs X), restoring each element after."""
    out = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        old = array[idx]
        array[idx] = old + h
        plus = net.cost(X, Y)
        array[idx] = old - h
        minus = net.cost(X, Y)
        array[idx] = old
        out[idx] = (plus - minus) / (2 * h)
    return out


def finite_difference_gradients(net, X, Y, h=1e-6, inputs=True):
    """Central differences of net.cost over every parameter and (when
    ``inputs``) every input; returns (d params, dX or None)."""
    g = _central_differences(net, X, Y, net._params, h)
    return g, (_central_differences(net, X, Y, X, h) if inputs else None)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
