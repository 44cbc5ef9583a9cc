"""Networks as building blocks: back-propagation from a given output gradient,
the step API, every layer's Z and A, and clipping by value.

Each property is checked against an independent witness: PyTorch autograd
(``y = torch_net(x); y.backward(G)``) when torch is installed, and always a
NumPy chain rule written here with the full Jacobian of each activation
(P1 (17) summed over p; for softmax the Jacobian diag(a) - a a^T, which is
the cross-sum P2 (8), not the a - y shortcut of a fused cost).
"""

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba.activations import ELU_ALPHA, LEAKY_RELU_SLOPE, SELU_ALPHA, SELU_LAMBDA

ACTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softmax"]
SHAPES = [[3, 4, 2], [5, 7, 6, 3], [1, 3, 1]]


def _net(sizes, act, cost="squared_error", seed=0, l2=0.0, hidden=None):
    L = len(sizes) - 1
    hidden = act if hidden is None else hidden
    acts = [hidden if hidden != "softmax" else "tanh"] * (L - 1) + [act]
    return fnn.Network(sizes, acts, cost=cost, seed=seed, l2=l2)


def _data(net, m, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((net.sizes[0], m))
    G = rng.standard_normal((net.sizes[-1], m))
    return X, G


# ------------------------------------------------------- a NumPy witness
def _act(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)
    if name == "elu":
        return np.where(z > 0, z, ELU_ALPHA * np.expm1(z))
    if name == "selu":
        return SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * np.expm1(z))
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def _jacobian(name, z, a):
    """da[p, i]/dz[j, i] as an (m, n, n) stack (p rows, j columns)."""
    n, m = z.shape
    if name == "softmax":
        return np.stack([np.diag(a[:, i]) - np.outer(a[:, i], a[:, i]) for i in range(m)])
    # element-wise activations: a diagonal Jacobian from the closed forms
    slope = {
        "identity": np.ones_like(z),
        "sigmoid": a * (1 - a),
        "tanh": 1 - a * a,
        "relu": (z > 0).astype(float),
        "leaky_relu": np.where(z > 0, 1.0, LEAKY_RELU_SLOPE),
        "elu": np.where(z > 0, 1.0, a + ELU_ALPHA),
        "selu": np.where(z > 0, SELU_LAMBDA, a + SELU_LAMBDA * SELU_ALPHA),
    }.get(name)
    assert slope is not None, name
    return np.stack([np.diag(slope[:, i]) for i in range(m)])


def _numpy_backward(net, X, G):
    """P1 (5)-(6) forward, then P1 (17) with the full Jacobian, (15), (16), (22)."""
    A, Zs = [X], []
    for W, b, act in zip(net.weights, net.biases, net.activations):
        Z = W @ A[-1] + b[:, None]
        Zs.append(Z)
        A.append(_act(act, Z))
    dA = G
    dW, db = [], []
    for l in range(net.n_layers - 1, -1, -1):
        J = _jacobian(net.activations[l], Zs[l], A[l + 1])
        dZ = np.einsum("ipj,pi->ji", J, dA)
        dW.insert(0, dZ @ A[l].T)
        db.insert(0, dZ.sum(axis=1))
        dA = net.weights[l].T @ dZ
    return dW, db, dA, Zs, A[1:]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_output_gradient_equals_numpy_chain_rule(act, sizes):
    net = _net(sizes, act)
    X, G = _data(net, 6)
    g = net.gradients(X, output_gradient=G)
    dW, db, dX, _, _ = _numpy_backward(net, X, G)
    for l in range(net.n_layers):
        np.testing.assert_allclose(g.weights[l], dW[l], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g.biases[l], db[l], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.inputs, dX, rtol=1e-10, atol=1e-12)
    assert g.cost is None


def test_softmax_output_gradient_is_the_cross_sum_not_a_minus_y():
    """With G = dCCE/dA for targets Y, P2 (8) gives (a - y)/m; with any other
    G (here, G + 1 in every row: a constant shift), the cross-sum removes the
    shift entirely. The a - y shortcut would not."""
    net = _net([3, 4, 3], "softmax", cost="categorical_cross_entropy")
    X, G = _data(net, 5)
    g0 = net.gradients(X, output_gradient=G)
    g1 = net.gradients(X, output_gradient=G + 1.0)
    np.testing.assert_allclose(g1.weights[-1], g0.weights[-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g1.inputs, g0.inputs, rtol=1e-12, atol=1e-14)
    labels = np.array([0, 2, 1, 1, 0])
    Y = np.eye(3)[:, labels]
    A = net.forward(X)
    via_output = net.gradients(X, output_gradient=-Y / A / X.shape[1])
    via_cost = net.gradients(X, labels)
    for a, b in zip(via_output.weights + via_output.biases, via_cost.weights + via_cost.biases):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(via_output.inputs, via_cost.inputs, rtol=1e-10, atol=1e-13)


def test_output_gradient_ignores_l2_and_scales_linearly():
    net = _net([3, 5, 2], "tanh", l2=0.3)
    X, G = _data(net, 4)
    g = net.gradients(X, output_gradient=G)
    dW, db, dX, _, _ = _numpy_backward(net, X, G)
    np.testing.assert_allclose(g.weights[0], dW[0], rtol=1e-10, atol=1e-12)
    g3 = net.gradients(X, output_gradient=3 * G)
    np.testing.assert_allclose(g3.weights[1], 3 * g.weights[1], rtol=1e-12)
    np.testing.assert_allclose(g3.inputs, 3 * g.inputs, rtol=1e-12)


def test_output_gradient_bad_input():
    net = _net([3, 4, 2], "tanh")
    X, G = _data(net, 4)
    with pytest.raises(ValueError, match="output_gradient"):
        net.gradients(X, output_gradient=G[:, :3])
    with pytest.raises(ValueError, match="output_gradient"):
        net.gradients(X, output_gradient=G[:1])
    with pytest.raises(ValueError, match="not both"):
        net.gradients(X, G, output_gradient=G)
    with pytest.raises(ValueError, match="not both"):
        net.gradients(X)
    bad = G.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="output_gradient"):
        net.gradients(X, output_gradient=bad)


# --------------------------------------------------------- a PyTorch witness
def _torch_net(net, torch):
    mods = []
    table = {
        "identity": torch.nn.Identity,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "leaky_relu": lambda: torch.nn.LeakyReLU(LEAKY_RELU_SLOPE),
        "elu": lambda: torch.nn.ELU(ELU_ALPHA),
        "selu": torch.nn.SELU,
        "softmax": lambda: torch.nn.Softmax(dim=1),
    }
    for W, b, act in zip(net.weights, net.biases, net.activations):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        mods += [lin, table[act]()]
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_output_gradient_equals_torch_backward(act, sizes):
    torch = pytest.importorskip("torch")
    net = _net(sizes, act)
    X, G = _data(net, 7)
    tnet = _torch_net(net, torch)
    x = torch.tensor(X.T.copy(), requires_grad=True)
    y = tnet(x)
    np.testing.assert_allclose(y.detach().numpy().T, net.forward(X), rtol=1e-12, atol=1e-14)
    y.backward(torch.from_numpy(G.T.copy()))
    g = net.gradients(X, output_gradient=G)
    lins = [m for m in tnet if isinstance(m, torch.nn.Linear)]
    for l, lin in enumerate(lins):
        np.testing.assert_allclose(g.weights[l], lin.weight.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(g.biases[l], lin.bias.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(g.inputs, x.grad.numpy().T, rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------- forward
@pytest.mark.parametrize("act", ACTS)
def test_forward_return_all_equals_manual(act):
    net = _net([4, 6, 5, 3], act, hidden="elu" if act == "softmax" else None)
    X, _ = _data(net, 9)
    fp = net.forward(X, return_all=True)
    _, _, _, Zs, As = _numpy_backward(net, X, np.zeros((3, 9)))
    assert len(fp.Z) == len(fp.A) == net.n_layers
    for l in range(net.n_layers):
        assert fp.Z[l].shape == fp.A[l].shape == (net.sizes[l + 1], 9)
        np.testing.assert_allclose(fp.Z[l], Zs[l], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(fp.A[l], As[l], rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(fp.A[-1], net.forward(X))
    # copies, not views of a workspace the next call overwrites
    first = fp.A[0].copy()
    net.forward(X[:, ::-1].copy(), return_all=True)
    np.testing.assert_array_equal(fp.A[0], first)


# -------------------------------------------------------------------- step
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_step_equals_full_batch_fit(optimizer, l2):
    """Three full-batch fit epochs (shuffle=False) = three gradients()+step():
    the same update kernel, and the optimizer's state carried between steps."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 20))
    labels = rng.integers(0, 3, 20)
    a = fnn.Network([4, 6, 3], ["tanh", "softmax"], cost="cce", seed=5, l2=l2)
    b = fnn.Network([4, 6, 3], ["tanh", "softmax"], cost="cce", seed=5, l2=l2)
    a.fit(
        X,
        labels,
        epochs=3,
        batch_size=None,
        learning_rate=0.1,
        optimizer=optimizer,
        shuffle=False,
        progress=False,
    )
    for _ in range(3):
        b.step(b.gradients(X, labels), learning_rate=0.1, optimizer=optimizer)
    np.testing.assert_allclose(b.get_parameters(), a.get_parameters(), rtol=1e-12, atol=1e-14)
    assert b.optimizer.steps == a.optimizer.steps == 3
    # the step changed something (the test can fail)
    c = fnn.Network([4, 6, 3], ["tanh", "softmax"], cost="cce", seed=5, l2=l2)
    assert not np.allclose(c.get_parameters(), b.get_parameters())


def test_step_keeps_state_and_fresh_optimizer_resets_it():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 10))
    Y = rng.standard_normal((2, 10))
    net = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=0)
    g = net.gradients(X, Y)
    net.step(g, 0.01, optimizer="adam")
    net.step(g, 0.01, optimizer="adam")
    assert net.optimizer.steps == 2
    net.step(g, 0.01)  # None keeps the current optimizer
    assert net.optimizer.steps == 3 and net.optimizer.name == "adam"
    net.step(g, 0.01, optimizer="momentum")
    assert net.optimizer.name == "momentum" and net.optimizer.steps == 1
    # an Optimizer object is used as is, so its state is the caller's
    opt = fnn.optimizers.Adam(beta1=0.5)
    other = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=0)
    other.step(g, 0.01, optimizer=opt)
    other.step(g, 0.01, optimizer=opt)
    assert opt.steps == 2 and other.optimizer is opt


def test_step_with_flat_vector_and_adam_by_hand():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((3, 8))
    Y = rng.standard_normal((1, 8))
    net = fnn.Network([3, 2, 1], ["tanh", "identity"], cost="mse", seed=1)
    p0 = net.get_parameters()
    g = net.flatten_gradients(net.gradients(X, Y))
    net.step(g, 0.01, optimizer=fnn.optimizers.Adam(0.5, 0.9, 1e-8))
    m = 0.5 * 0 + 0.5 * g
    s = 0.1 * g * g
    expected = p0 - 0.01 * (m / 0.5) / (np.sqrt(s / 0.1) + 1e-8)
    np.testing.assert_allclose(net.get_parameters(), expected, rtol=1e-12, atol=1e-15)


def test_step_bad_input():
    net = fnn.Network([3, 2, 1], ["tanh", "identity"], cost="mse", seed=1)
    with pytest.raises(ValueError, match="gradients"):
        net.step(np.zeros(3), 0.1)
    bad = np.zeros(net.n_parameters)
    bad[0] = np.inf
    with pytest.raises(ValueError, match="gradients"):
        net.step(bad, 0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        net.step(np.zeros(net.n_parameters), -1.0)
    with pytest.raises(ValueError, match="optimizer"):
        net.step(np.zeros(net.n_parameters), 0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="clip_value"):
        net.step(np.zeros(net.n_parameters), 0.1, clip_value=0.0)
    with pytest.raises(fnn.TrainingDivergedError):
        net.step(np.full(net.n_parameters, 1e308), 1e10)
    # nothing was written by the refused step
    assert np.all(np.isfinite(net.get_parameters()))


# -------------------------------------------------------------- clip_value
def test_clip_value_clips_each_element():
    rng = np.random.default_rng(7)
    net = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=2)
    p0 = net.get_parameters()
    g = rng.standard_normal(net.n_parameters) * 3
    net.step(g, 0.1, clip_value=0.5)
    np.testing.assert_allclose(
        net.get_parameters(), p0 - 0.1 * np.clip(g, -0.5, 0.5), rtol=1e-14, atol=1e-15
    )
    assert np.any(np.abs(g) > 0.5) and np.any(np.abs(g) < 0.5)


def test_clip_value_then_clip_norm():
    rng = np.random.default_rng(8)
    net = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=2)
    p0 = net.get_parameters()
    g = rng.standard_normal(net.n_parameters) * 3
    net.step(g, 0.1, clip_value=1.0, clip_norm=2.0)
    c = np.clip(g, -1.0, 1.0)
    c *= 2.0 / np.linalg.norm(c)
    np.testing.assert_allclose(net.get_parameters(), p0 - 0.1 * c, rtol=1e-12, atol=1e-15)


def test_fit_clip_value_equals_step_clip_value():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((3, 12)) * 5
    Y = rng.standard_normal((2, 12)) * 5
    a = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=2)
    b = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=2)
    a.fit(
        X,
        Y,
        epochs=2,
        batch_size=None,
        learning_rate=0.05,
        clip_value=0.1,
        shuffle=False,
        progress=False,
    )
    for _ in range(2):
        b.step(b.gradients(X, Y), 0.05, clip_value=0.1)
    np.testing.assert_allclose(b.get_parameters(), a.get_parameters(), rtol=1e-12, atol=1e-14)
    unclipped = fnn.Network([3, 4, 2], ["relu", "identity"], cost="mse", seed=2)
    unclipped.fit(
        X, Y, epochs=2, batch_size=None, learning_rate=0.05, shuffle=False, progress=False
    )
    assert not np.allclose(unclipped.get_parameters(), a.get_parameters())
