"""The vectorised NumPy forms of the derivation: a third, independent witness.

These are the matrix equations of Jonas Lalin's "Feedforward Neural Networks
in Depth" (part 1: P1 (5), (6), (15), (16), (18), (22); part 2: P2 (1)-(8))
written with NumPy's array operations and BLAS products. They share no code
with the Numba kernels or with the index-level reference. :func:`train_step`
is also the NumPy peer of one training step that the benchmarks compare
against.
"""
import numpy as np

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def z_vectorized(w, b, a_prev):
    """P1 (5): Z = W A[l-1] + broadcast(b)."""
    return w @ a_prev + b[:, None]


def a_vectorized(name, z):
    """P1 (6) with P2 (1), (3), (5), (7) and the other activations."""
    if name == "identity":
        return z.copy()
    if name == "sigmoid":  # P2 (3), split by sign so exp never overflows
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    if name == "tanh":  # P2 (5)
        return np.tanh(z)
    if name == "relu":  # P2 (1)
        return np.maximum(0, z)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "selu":
        return SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))
    if name == "softmax":  # P2 (7), with the column max subtracted
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    raise ValueError(f"unknown activation {name!r}")


def dz_vectorized(name, z, a, da):
    """dJ/dZ from dJ/dA: P2 (2), (4), (6), (8) and the other activations."""
    if name == "identity":
        return da.copy()
    if name == "sigmoid":  # P2 (4)
        return da * a * (1 - a)
    if name == "tanh":  # P2 (6)
        return da * (1 - a * a)
    if name == "relu":  # P2 (2)
        return da * (z > 0)
    if name == "leaky_relu":
        return da * np.where(z > 0, 1.0, 0.01)
    if name == "elu":
        return da * np.where(z > 0, 1.0, a + 1.0)
    if name == "selu":
        return da * np.where(z > 0, SELU_LAMBDA, a + SELU_LAMBDA * SELU_ALPHA)
    if name == "softmax":  # P2 (8)
        return a * (da - (da * a).sum(axis=0, keepdims=True))
    raise ValueError(f"unknown activation {name!r}")


def dw_vectorized(dz, a_prev):
    """P1 (15): dJ/dW = dJ/dZ A[l-1]^T."""
    return dz @ a_prev.T


def db_vectorized(dz):
    """P1 (16): dJ/db = sum over axis 1 of dJ/dZ."""
    return dz.sum(axis=1)


def da_prev_vectorized(w, dz):
    """P1 (22): dJ/dA[l-1] = W^T dJ/dZ."""
    return w.T @ dz


def jacobian_vectorized(name, z, a):
    """da[p,i]/dz[j,i] as jac[i, p, j], one column of dJ/dZ per unit dJ/dA row q
    (:func:`dz_vectorized` applied to the rows of the identity)."""
    n, m = z.shape
    jac = np.zeros((m, n, n))
    for q in range(n):
        unit = np.zeros((n, m))
        unit[q, :] = 1
        jac[:, q, :] = dz_vectorized(name, z, a, unit).T
    return jac


def dz_from_jacobian_vectorized(da, jac):
    """P1 (18): dJ/dz[:, i] = J_i^T dJ/da[:, i] for every example i, with
    ``jac[i, p, j]`` = da[p,i]/dz[j,i] (:func:`jacobian_vectorized`)."""
    return np.einsum("pi,ipj->ji", da, jac)


def losses_vectorized(cost, y_hat, y):
    """L_i for every example: :func:`cost_vectorized` of each column on its own, unclipped."""
    return np.array([cost_vectorized(cost, y_hat[:, i:i + 1], y[:, i:i + 1]) for i in range(y.shape[1])])


def l2_vectorized(weights, l2):
    """The L2 term (lambda/2) sum_l ||W[l]||_F^2 (biases excluded)."""
    return 0.5 * l2 * sum(float(np.sum(w * w)) for w in weights)


def l2_gradient_vectorized(w, l2):
    """The L2 term's share of dJ/dW: lambda W."""
    return l2 * w


def cost_vectorized(cost, y_hat, y):
    """J = (1/m) sum_i L_i, unclipped."""
    m = y.shape[1]
    if cost == "squared_error":
        return 0.5 * np.sum((y_hat - y) ** 2) / m
    with np.errstate(divide="ignore", invalid="ignore"):
        if cost == "binary_cross_entropy":
            terms = np.where(y != 0, y * np.log(y_hat), 0) + np.where(y != 1, (1 - y) * np.log1p(-y_hat), 0)
            return -np.sum(terms) / m
        if cost == "categorical_cross_entropy":
            return -np.sum(np.where(y != 0, y * np.log(y_hat), 0)) / m
    raise ValueError(f"unknown cost {cost!r}")


def seed_vectorized(cost, y_hat, y):
    """dJ/dA[L] = (1/m) dL/dY_hat."""
    m = y.shape[1]
    if cost == "squared_error":
        return (y_hat - y) / m
    if cost == "binary_cross_entropy":
        return (y_hat - y) / (y_hat * (1 - y_hat)) / m
    if cost == "categorical_cross_entropy":
        return -y / y_hat / m
    raise ValueError(f"unknown cost {cost!r}")


def forward_vectorized(weights, biases, activations, x):
    """A[0] = X; Z[l] = W[l] A[l-1] + b[l]; A[l] = g(Z[l]). Returns (zs, As)."""
    As, zs = [x], []
    for w, b, name in zip(weights, biases, activations):
        zs.append(z_vectorized(w, b, As[-1]))
        As.append(a_vectorized(name, zs[-1]))
    return zs, As


def gradients_vectorized(weights, biases, activations, cost, x, y, l2=0.0):
    """Backpropagation with matrix products. Returns (J, dWs, dbs, dX)."""
    zs, As = forward_vectorized(weights, biases, activations, x)
    J = cost_vectorized(cost, As[-1], y) + 0.5 * l2 * sum(np.sum(w * w) for w in weights)
    da = seed_vectorized(cost, As[-1], y)
    L = len(weights)
    dws, dbs = [None] * L, [None] * L
    for l in range(L, 0, -1):
        dz = dz_vectorized(activations[l - 1], zs[l - 1], As[l], da)
        dws[l - 1] = dw_vectorized(dz, As[l - 1]) + l2 * weights[l - 1]
        dbs[l - 1] = db_vectorized(dz)
        da = da_prev_vectorized(weights[l - 1], dz)
    return J, dws, dbs, da


def train_step(weights, biases, activations, x, y, learning_rate):
    """One mini-batch SGD step of a softmax + categorical CE network, in place:
    the vectorised NumPy peer of the benchmarks. The output delta is the fused
    (A - Y)/m; hidden layers use :func:`dz_vectorized`."""
    zs, As = forward_vectorized(weights, biases, activations, x)
    m = x.shape[1]
    dz = (As[-1] - y) / m
    for l in range(len(weights), 0, -1):
        if l < len(weights):
            dz = dz_vectorized(activations[l - 1], zs[l - 1], As[l], da)
        da = weights[l - 1].T @ dz if l > 1 else None
        weights[l - 1] -= learning_rate * (dz @ As[l - 1].T)
        biases[l - 1] -= learning_rate * dz.sum(axis=1)
