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
    if name == "exp":
        return np.exp(z)
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
    if name == "exp":
        return da * a
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
    return np.array(
        [cost_vectorized(cost, y_hat[:, i : i + 1], y[:, i : i + 1]) for i in range(y.shape[1])]
    )


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
            terms = np.where(y != 0, y * np.log(y_hat), 0) + np.where(
                y != 1, (1 - y) * np.log1p(-y_hat), 0
            )
            return -np.sum(terms) / m
        if cost == "categorical_cross_entropy":
            return -np.sum(np.where(y != 0, y * np.log(y_hat), 0)) / m
        if cost == "poisson":
            return np.sum(y_hat - y + np.where(y != 0, y * np.log(y / y_hat), 0)) / m
    raise ValueError(f"unknown cost {cost!r}")


def _loss_slope_vectorized(cost, y_hat, y):
    """dL_i/dY_hat, column i for example i (unclipped)."""
    if cost == "squared_error":
        return y_hat - y
    if cost == "binary_cross_entropy":
        return (y_hat - y) / (y_hat * (1 - y_hat))
    if cost == "categorical_cross_entropy":
        return -y / y_hat
    if cost == "poisson":
        return 1 - y / y_hat
    raise ValueError(f"unknown cost {cost!r}")


def seed_vectorized(cost, y_hat, y):
    """dJ/dA[L] = (1/m) dL/dY_hat."""
    return _loss_slope_vectorized(cost, y_hat, y) / y.shape[1]


def _weight_shares(s):
    """s / S as a row (1, m) that scales the columns; zeros when S = 0."""
    s = np.asarray(s, dtype=np.float64)
    total = s.sum()
    return (s / total if total > 0 else np.zeros_like(s))[None, :]


def weighted_cost_vectorized(cost, y_hat, y, s):
    """The weighted cost J = s . L / sum(s), L the vector of the L_i (0 when sum(s) = 0)."""
    return float(np.sum(_weight_shares(s)[0] * losses_vectorized(cost, y_hat, y)))


def seed_weighted_vectorized(cost, y_hat, y, s):
    """dJ/dA[L] of the weighted cost: dL/dY_hat diag(s) / sum(s)."""
    return _loss_slope_vectorized(cost, y_hat, y) * _weight_shares(s)


def fused_delta_weighted_vectorized(name, a, y, s):
    """The fused dJ/dZ[L] of the weighted cost: (A - Y) diag(s) / sum(s) for
    sigmoid + binary cross-entropy, (A diag(1^T Y) - Y) diag(s) / sum(s) for
    softmax + categorical cross-entropy."""
    if name == "sigmoid":
        return (a - y) * _weight_shares(s)
    if name == "softmax":
        return (a * y.sum(axis=0, keepdims=True) - y) * _weight_shares(s)
    raise ValueError(f"no fused delta for output activation {name!r}")


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
    da = None  # dJ/dA of the layer below, from the previous iteration
    for l in range(len(weights), 0, -1):
        if l < len(weights):
            dz = dz_vectorized(activations[l - 1], zs[l - 1], As[l], da)
        da = weights[l - 1].T @ dz if l > 1 else None
        weights[l - 1] -= learning_rate * (dz @ As[l - 1].T)
        biases[l - 1] -= learning_rate * dz.sum(axis=1)


# ---------------------------------------------------------------------------
# Convolution and pooling (notes-neural-networks, "Convolutional Neural
# Networks (CNN)"), with NumPy's array operations: maps are (C, H, W, m)
# arrays; the convolution is an im2col (every window of the padded input as
# one column) and a tensordot, the gradient for the previous layer its
# transpose scattered back (col2im). Labels are those of
# fnn_numba.conv_kernels.


def _windows(a_prev, kh, kw, stride, pad):
    """The (C, OH, OW, m, kh, kw) windows of the zero-padded input (a view)."""
    padded = np.pad(a_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    return win[:, ::stride, ::stride]


def conv_z_vectorized(w, b, a_prev, stride, pad):
    """CNN (1) as im2col + one tensordot over (c, u, v)."""
    win = _windows(a_prev, w.shape[2], w.shape[3], stride, pad)
    return np.einsum("fcuv,cxyiuv->fxyi", w, win, optimize=True) + b[:, None, None, None]


def conv_dw_vectorized(dz, a_prev, kernel_size, stride, pad):
    """CNN (2) as one tensordot of dz with the windows over (x, y, i)."""
    win = _windows(a_prev, kernel_size[0], kernel_size[1], stride, pad)
    return np.einsum("fxyi,cxyiuv->fcuv", dz, win, optimize=True)


def conv_db_vectorized(dz):
    """CNN (3): the sum of dz over positions and examples."""
    return dz.sum(axis=(1, 2, 3))


def conv_da_prev_vectorized(w, dz, input_shape, stride, pad):
    """CNN (4) as col2im: the windows' gradient w^T dz, each kernel offset
    (u, v) added back onto the padded map with a strided slice, then the
    padding cut off."""
    F, C, KH, KW = w.shape
    _, OH, OW, m = dz.shape
    _, H, W = input_shape
    cols = np.einsum("fcuv,fxyi->cuvxyi", w, dz, optimize=True)
    padded = np.zeros((C, H + 2 * pad, W + 2 * pad, m))
    for u in range(KH):
        for v in range(KW):
            padded[:, u : u + stride * OH : stride, v : v + stride * OW : stride] += cols[:, u, v]
    return padded[:, pad : pad + H, pad : pad + W]


def _pool_view(a_prev, pool_size):
    """(C, OH, P, OW, Q, m): the windows of non-overlapping pooling, remainder cut."""
    C, H, W, m = a_prev.shape
    P, Q = pool_size
    OH, OW = H // P, W // Q
    return a_prev[:, : OH * P, : OW * Q].reshape(C, OH, P, OW, Q, m)


def maxpool_vectorized(a_prev, pool_size):
    """POOL (1): the maximum over each window's axes."""
    return _pool_view(a_prev, pool_size).max(axis=(2, 4))


def maxpool_backward_vectorized(a_prev, da, pool_size):
    """POOL (2): dJ/da at each window's first maximum (argmax over the window
    flattened in row-major order takes the first of equal values)."""
    C, H, W, m = a_prev.shape
    P, Q = pool_size
    view = _pool_view(a_prev, pool_size)
    C, OH, _, OW, _, m = view.shape
    flat = view.transpose(0, 1, 3, 5, 2, 4).reshape(C, OH, OW, m, P * Q)
    onehot = np.eye(P * Q)[flat.argmax(axis=-1)] * da[..., None]
    out = np.zeros((C, H, W, m))
    out[:, : OH * P, : OW * Q] = (
        onehot.reshape(C, OH, OW, m, P, Q).transpose(0, 1, 4, 2, 5, 3).reshape(C, OH * P, OW * Q, m)
    )
    return out


def avgpool_vectorized(a_prev, pool_size):
    """POOL (3): the mean over each window's axes."""
    return _pool_view(a_prev, pool_size).mean(axis=(2, 4))


def avgpool_backward_vectorized(da, input_shape, pool_size):
    """POOL (4): dJ/da / (P Q) repeated over each window (np.kron-style)."""
    C, H, W = input_shape
    P, Q = pool_size
    OH, OW = H // P, W // Q
    out = np.zeros((C, H, W, da.shape[3]))
    out[:, : OH * P, : OW * Q] = np.repeat(np.repeat(da, P, axis=1), Q, axis=2) / (P * Q)
    return out


def subsample_z_vectorized(beta, b, a_prev, pool_size):
    """SUB (1): beta[c] times the window means plus b[c], broadcast over maps."""
    return (
        beta[:, None, None, None] * avgpool_vectorized(a_prev, pool_size) + b[:, None, None, None]
    )


def subsample_dbeta_vectorized(dz, a_prev, pool_size):
    """SUB (2): sum over (x, y, i) of dz times the window means."""
    return (dz * avgpool_vectorized(a_prev, pool_size)).sum(axis=(1, 2, 3))


def subsample_da_prev_vectorized(beta, dz, input_shape, pool_size):
    """SUB (4): POOL (4) of dz, scaled by beta per map."""
    return beta[:, None, None, None] * avgpool_backward_vectorized(dz, input_shape, pool_size)


def conv_da_prev_flipped_vectorized(w, dz, input_shape, stride, pad):
    """CNN (4) in the padded, flipped form, as CNN (1) itself: dz dilated by
    the stride and padded by KH - 1 - p rows (KW - 1 - p columns) on each side,
    then :func:`conv_z_vectorized` with the kernel flipped in both axes and
    its maps and channels exchanged (stride 1, no padding, no bias)."""
    F, C, KH, KW = w.shape
    _, OH, OW, m = dz.shape
    _, H, W = input_shape
    ph, pw = KH - 1 - pad, KW - 1 - pad
    # rows r + u' for r < H, u' < KH; a padding larger than KH - 1 cuts rows of D instead
    D = np.zeros((F, H + KH - 1, W + KW - 1, m))
    rows, cols = np.arange(OH) * stride + ph, np.arange(OW) * stride + pw
    keep_r = (rows >= 0) & (rows < D.shape[1])
    keep_c = (cols >= 0) & (cols < D.shape[2])
    D[:, rows[keep_r, None], cols[None, keep_c]] = dz[:, keep_r][:, :, keep_c]
    w_flip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return conv_z_vectorized(w_flip, np.zeros(C), D, 1, 0)


def flatten_vectorized(a):
    """Flatten: (C, H, W, m) maps to (C H W, m) columns (a C-order reshape)."""
    return a.reshape(-1, a.shape[-1])


def unflatten_vectorized(d, input_shape):
    """Flatten's backward pass: the (C H W, m) column back to (C, H, W, m) maps."""
    return d.reshape(tuple(input_shape) + (d.shape[1],))


def dropout_mask_vectorized(rate, key, counter, layer, n, m):
    """DROP (1)'s mask with splitmix64 on uint64 arrays (NumPy's unsigned
    arithmetic wraps modulo 2^64, as the hash needs)."""
    u64 = np.uint64
    golden, mix1, mix2 = u64(0x9E3779B97F4A7C15), u64(0xBF58476D1CE4E5B9), u64(0x94D049BB133111EB)

    def mix(z):
        z = (z ^ (z >> u64(30))) * mix1
        z = (z ^ (z >> u64(27))) * mix2
        return z ^ (z >> u64(31))

    with np.errstate(over="ignore"):
        h = mix(np.array([key], dtype=np.uint64) + golden * u64(counter + 1))
        h = mix(h ^ (u64(layer) * mix1))
        q = np.arange(n * m, dtype=np.uint64).reshape(m, n).T  # q = i n + j
        h = mix(h + golden * (q + u64(1)))
    u = (h >> u64(11)).astype(np.float64) / 2.0**53
    return np.where(u >= rate, 1.0 / (1.0 - rate), 0.0)


def dropout_vectorized(a_prev, keep, rate):
    """DROP (1) and (2): the input (or dJ/da) times keep / (1 - rate)."""
    return a_prev * keep / (1.0 - rate)


def sparse_z_vectorized(w, b, x):
    """P1 (5) for layer 1 with a SciPy sparse X of shape (n0, m): Z = W X + b,
    the product by SciPy's sparse matrix product (X^T W^T)^T."""
    return np.asarray((x.T @ w.T).T) + b[:, None]


def sparse_dw_vectorized(dz, x):
    """P1 (15) for layer 1 with a SciPy sparse X of shape (n0, m):
    dJ/dW = dJ/dZ X^T, as SciPy's sparse product (X dJ/dZ^T)^T."""
    return np.asarray((x @ dz.T).T)
