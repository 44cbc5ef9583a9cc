"""The index-level reference: the derivation, loop by loop, in plain Python.

Every function here reads like its equation in the derivation (Jonas Lalin,
"Feedforward Neural Networks in Depth", parts 1 and 2; the costs and the L2
term as ``docs/derivation.rst`` states them): loops over j, k, i, p, no
vectorisation, no Numba, no speed tricks. It is never optimised: it is the
witness that the fast kernels (:mod:`fnn_numba.kernels`,
:mod:`fnn_numba.gpu_kernels`) and the vectorised NumPy forms
(:mod:`fnn_numba.vectorized`) are checked against. It is slow; use it on small
shapes. Arrays follow the derivation: Z, A have shape (n, m), columns are
examples; W has shape (n[l], n[l-1]).

Nothing here imports :mod:`fnn_numba.kernels`: the formulas are written out
again on purpose, so that a slip in a kernel's formula cannot hide in both.

Equation index: P1 (1) :func:`z_reference`; P1 (2) with P2 (1), (3), (5), (7)
:func:`a_reference`; P1 (7), (8) :func:`forward_reference`; P1 (13)
:func:`dw_reference`; P1 (14) :func:`db_reference`; P1 (17) in general
:func:`jacobian_reference` and :func:`dz_general_reference`, in closed form
(P2 (2), (4), (6), (8) and the other activations)
:func:`dz_closed_form_reference`; P1 (21) :func:`da_prev_reference`; each
cost's L_i :func:`losses_reference`, J :func:`cost_reference`, its seed
:func:`seed_reference`; the fused pairs :func:`fused_losses_reference`,
:func:`fused_delta_reference`; with example weights s_i, the weighted cost
:func:`weighted_cost_reference`, its seed :func:`seed_weighted_reference`
and fused delta :func:`fused_delta_weighted_reference`; the L2 term :func:`l2_reference` and its
gradient :func:`l2_gradient_reference`; the whole backward pass
:func:`gradients_reference`. :func:`fnn_numba.verify.crosscheck` compares
each with the fast kernels.
"""

import math

import numpy as np

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


def z_reference(w, b, a_prev):
    """P1 (1): z[j,i] = sum_k w[j,k] a_prev[k,i] + b[j]."""
    n, K = w.shape
    m = a_prev.shape[1]
    z = np.zeros((n, m))
    for j in range(n):
        for i in range(m):
            s = 0.0
            for k in range(K):
                s += w[j, k] * a_prev[k, i]
            z[j, i] = s + b[j]
    return z


def _g(name, z):
    """The element-wise g of P1 (2) for one z."""
    if name == "identity":
        return z
    if name == "sigmoid":  # P2 (3)
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    if name == "tanh":  # P2 (5)
        return math.tanh(z)
    if name == "relu":  # P2 (1)
        return max(0.0, z)
    if name == "leaky_relu":
        return z if z > 0 else LEAKY_SLOPE * z
    if name == "elu":
        return z if z > 0 else ELU_ALPHA * (math.exp(z) - 1.0)
    if name == "selu":
        return SELU_LAMBDA * (z if z > 0 else SELU_ALPHA * (math.exp(z) - 1.0))
    if name == "exp":
        return math.exp(z)
    raise ValueError(f"unknown element-wise activation {name!r}")


def a_reference(name, z):
    """P1 (2): a[j,i] = g_j(z[1,i], ..., z[n,i]).

    Element-wise activations apply g to z[j,i]; softmax, P2 (7):
    a[j,i] = exp(z[j,i]) / sum_p exp(z[p,i]), with the column maximum
    subtracted from every z first (which leaves a unchanged).
    """
    n, m = z.shape
    a = np.zeros((n, m))
    for i in range(m):
        if name == "softmax":
            c = max(z[p, i] for p in range(n))
            total = 0.0
            for p in range(n):
                total += math.exp(z[p, i] - c)
            for j in range(n):
                a[j, i] = math.exp(z[j, i] - c) / total
        else:
            for j in range(n):
                a[j, i] = _g(name, z[j, i])
    return a


def jacobian_reference(name, z, a):
    """da[p,i]/dz[j,i] for every example: an array jac[i, p, j].

    Element-wise g: zero for p != j, and on the diagonal
    identity 1; sigmoid a(1 - a); tanh 1 - a^2; relu I(z > 0);
    leaky_relu 1 or 0.01; elu 1 or a + alpha; selu lambda or a + lambda alpha;
    exp a.
    Softmax (P2, the derivation before (8)): a[p,i] (delta_pj - a[j,i]).
    """
    n, m = z.shape
    jac = np.zeros((m, n, n))
    for i in range(m):
        for p in range(n):
            for j in range(n):
                if name == "softmax":
                    delta = 1.0 if p == j else 0.0
                    jac[i, p, j] = a[p, i] * (delta - a[j, i])
                elif p == j:
                    jac[i, p, j] = _slope(name, z[j, i], a[j, i])
    return jac


def _slope(name, z, a):
    if name == "identity":
        return 1.0
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    if name == "leaky_relu":
        return 1.0 if z > 0 else LEAKY_SLOPE
    if name == "elu":
        return 1.0 if z > 0 else a + ELU_ALPHA
    if name == "selu":
        return SELU_LAMBDA if z > 0 else a + SELU_LAMBDA * SELU_ALPHA
    if name == "exp":
        return a
    raise ValueError(f"unknown element-wise activation {name!r}")


def dz_general_reference(name, z, a, da):
    """P1 (17), the general Jacobian form:
    dz[j,i] = sum_p da[p,i] da[p,i]/dz[j,i], contracting :func:`jacobian_reference`."""
    n, m = z.shape
    jac = jacobian_reference(name, z, a)
    dz = np.zeros((n, m))
    for i in range(m):
        for j in range(n):
            s = 0.0
            for p in range(n):
                s += da[p, i] * jac[i, p, j]
            dz[j, i] = s
    return dz


def dz_closed_form_reference(name, z, a, da):
    """The closed forms derived from P1 (17) in part 2.

    relu P2 (2): da I(z > 0); sigmoid P2 (4): da a (1 - a);
    tanh P2 (6): da (1 - a a); the other element-wise ones da g'(z);
    softmax P2 (8): a[j,i] (da[j,i] - sum_p da[p,i] a[p,i]).
    """
    n, m = z.shape
    dz = np.zeros((n, m))
    for i in range(m):
        if name == "softmax":
            cross = 0.0
            for p in range(n):
                cross += da[p, i] * a[p, i]
            for j in range(n):
                dz[j, i] = a[j, i] * (da[j, i] - cross)
        else:
            for j in range(n):
                dz[j, i] = da[j, i] * _slope(name, z[j, i], a[j, i])
    return dz


def dw_reference(dz, a_prev):
    """P1 (13): dw[j,k] = sum_i dz[j,i] a_prev[k,i]."""
    n, m = dz.shape
    K = a_prev.shape[0]
    dw = np.zeros((n, K))
    for j in range(n):
        for k in range(K):
            s = 0.0
            for i in range(m):
                s += dz[j, i] * a_prev[k, i]
            dw[j, k] = s
    return dw


def db_reference(dz):
    """P1 (14): db[j] = sum_i dz[j,i]."""
    n, m = dz.shape
    db = np.zeros(n)
    for j in range(n):
        for i in range(m):
            db[j] += dz[j, i]
    return db


def da_prev_reference(w, dz):
    """P1 (21): da_prev[k,i] = sum_j dz[j,i] w[j,k]."""
    n, K = w.shape
    m = dz.shape[1]
    da = np.zeros((K, m))
    for k in range(K):
        for i in range(m):
            s = 0.0
            for j in range(n):
                s += dz[j, i] * w[j, k]
            da[k, i] = s
    return da


def losses_reference(cost, y_hat, y):
    """L_i for every example (the costs of ``docs/derivation.rst``), without clipping.

    squared_error: 1/2 sum_j (y_hat - y)^2;
    binary_cross_entropy: -sum_j [y log y_hat + (1 - y) log(1 - y_hat)];
    categorical_cross_entropy: -sum_j y log y_hat;
    poisson: sum_j [y_hat - y + y log(y / y_hat)].
    Terms whose coefficient y or 1 - y is zero are skipped (0 log 0 = 0).
    """
    n, m = y_hat.shape
    losses = np.zeros(m)
    for i in range(m):
        s = 0.0
        for j in range(n):
            p, t = y_hat[j, i], y[j, i]
            if cost == "squared_error":
                s += 0.5 * (p - t) ** 2
            elif cost == "binary_cross_entropy":
                if t != 0:
                    s -= t * math.log(p)
                if t != 1:
                    s -= (1 - t) * math.log(1 - p)
            elif cost == "categorical_cross_entropy":
                if t != 0:
                    s -= t * math.log(p)
            elif cost == "poisson":
                s += p - t
                if t != 0:
                    s += t * math.log(t / p)
            else:
                raise ValueError(f"unknown cost {cost!r}")
        losses[i] = s
    return losses


def cost_reference(cost, y_hat, y):
    """J = (1/m) sum_i L_i."""
    losses = losses_reference(cost, y_hat, y)
    return sum(losses[i] for i in range(len(losses))) / len(losses)


def _loss_slope(cost, p, t):
    """dL_i/dy_hat[j,i] at y_hat[j,i] = p, y[j,i] = t (unclipped)."""
    if cost == "squared_error":
        return p - t
    if cost == "binary_cross_entropy":
        return -t / p + (1 - t) / (1 - p)
    if cost == "categorical_cross_entropy":
        return -t / p
    if cost == "poisson":
        return 1.0 - t / p
    raise ValueError(f"unknown cost {cost!r}")


def seed_reference(cost, y_hat, y):
    """The backprop seed dJ/dA[L][j,i] = (1/m) dL_i/dy_hat[j,i].

    squared_error: (y_hat - y)/m; binary_cross_entropy:
    (-y/y_hat + (1 - y)/(1 - y_hat))/m; categorical_cross_entropy: -y/(y_hat m);
    poisson: (1 - y/y_hat)/m.
    """
    n, m = y_hat.shape
    da = np.zeros((n, m))
    for i in range(m):
        for j in range(n):
            da[j, i] = _loss_slope(cost, y_hat[j, i], y[j, i]) / m
    return da


def _weight_total(s):
    """S = sum_i s_i."""
    total = 0.0
    for i in range(len(s)):
        total += s[i]
    return total


def _weight_shares_times(shape, s, slope):
    """out[j,i] = (s_i / S) slope(j, i), S = sum_i s_i; zeros when S = 0."""
    n, m = shape
    total = _weight_total(s)
    out = np.zeros((n, m))
    if total == 0:
        return out
    for i in range(m):
        for j in range(n):
            out[j, i] = s[i] / total * slope(j, i)
    return out


def weighted_cost_reference(cost, y_hat, y, s):
    """The weighted cost J = sum_i s_i L_i / S, S = sum_i s_i (example
    weights s_i >= 0); 0 when S = 0, a batch that carries no weight."""
    losses = losses_reference(cost, y_hat, y)
    total = _weight_total(s)
    if total == 0:
        return 0.0
    num = 0.0
    for i in range(len(losses)):
        num += s[i] * losses[i]
    return num / total


def seed_weighted_reference(cost, y_hat, y, s):
    """The seed of the weighted cost: dJ/dA[L][j,i] = (s_i / S) dL_i/dy_hat[j,i],
    S = sum_i s_i (the slopes of :func:`seed_reference`); 0 when S = 0."""
    return _weight_shares_times(
        y_hat.shape, s, lambda j, i: _loss_slope(cost, y_hat[j, i], y[j, i])
    )


def l2_reference(weights, l2):
    """The L2 term (lambda/2) sum_l sum_j sum_k w[l][j,k]^2 (biases excluded).
    A convolution's w[f,c,u,v] (or a Subsample2D layer's beta[c]) is summed
    over all of its indices the same way."""
    s = 0.0
    for w in weights:
        for idx in np.ndindex(w.shape):
            s += w[idx] ** 2
    return 0.5 * l2 * s


def forward_reference(weights, biases, activations, x):
    """P1 (7), (1), (2), (8): A[0] = X, then z and a layer by layer.

    Returns the lists zs (zs[l-1] = Z[l]) and As (As[l] = A[l], As[0] = X).
    """
    As = [np.array(x, dtype=float)]
    zs = []
    for w, b, name in zip(weights, biases, activations):
        z = z_reference(w, b, As[-1])
        zs.append(z)
        As.append(a_reference(name, z))
    return zs, As


def gradients_reference(weights, biases, activations, cost, x, y, l2=0.0):
    """Backpropagation as derived: seed, then for l = L..1 the general P1 (17),
    P1 (13), (14) (+ lambda W with L2) and P1 (21), down to dJ/dX.

    Returns (J, dWs, dbs, dX), J including the L2 term.
    """
    zs, As = forward_reference(weights, biases, activations, x)
    y = np.asarray(y, dtype=float)
    J = cost_reference(cost, As[-1], y) + l2_reference(weights, l2)
    da = seed_reference(cost, As[-1], y)
    L = len(weights)
    dws, dbs = [None] * L, [None] * L
    for l in range(L, 0, -1):
        dz = dz_general_reference(activations[l - 1], zs[l - 1], As[l], da)
        dw = dw_reference(dz, As[l - 1])
        w = weights[l - 1]
        for j in range(w.shape[0]):
            for k in range(w.shape[1]):
                dw[j, k] += l2 * w[j, k]
        dws[l - 1] = dw
        dbs[l - 1] = db_reference(dz)
        da = da_prev_reference(w, dz)
    return J, dws, dbs, da


def l2_gradient_reference(w, l2):
    """The L2 term's share of P1 (13): d/dw[j,k] of (lambda/2) sum w^2 = lambda w[j,k]
    (element by element for a weight of any shape: CNN (2), SUB (2))."""
    g = np.zeros(w.shape)
    for idx in np.ndindex(w.shape):
        g[idx] = l2 * w[idx]
    return g


def fused_losses_reference(name, z, y):
    """L_i read from the logits z = Z[L] where the output activation and the
    cost cancel (the fused pairs of :mod:`fnn_numba.costs`).

    sigmoid + binary_cross_entropy: ``sum_j [max(z,0) - z y + log(1 + exp(-|z|))]``,
    which is -sum_j [y log sigma(z) + (1 - y) log(1 - sigma(z))] rearranged;
    softmax + categorical_cross_entropy: -sum_j y[j,i] (z[j,i] - log sum_p exp(z[p,i])),
    which is -sum_j y log softmax(z)_j with the log taken analytically.
    """
    n, m = z.shape
    losses = np.zeros(m)
    for i in range(m):
        s = 0.0
        if name == "sigmoid":
            for j in range(n):
                zj = z[j, i]
                s += max(zj, 0.0) - zj * y[j, i] + math.log(1.0 + math.exp(-abs(zj)))
        elif name == "softmax":
            c = max(z[p, i] for p in range(n))
            total = 0.0
            for p in range(n):
                total += math.exp(z[p, i] - c)
            log_sum = c + math.log(total)
            for j in range(n):
                s -= y[j, i] * (z[j, i] - log_sum)
        else:
            raise ValueError(f"no fused loss for output activation {name!r}")
        losses[i] = s
    return losses


def _fused_slope(name, a, y, j, i):
    """dL_i/dz[j,i] where the output activation and the cost cancel:
    a[j,i] - y[j,i] (sigmoid) or a[j,i] sum_p y[p,i] - y[j,i] (softmax)."""
    if name == "sigmoid":
        return a[j, i] - y[j, i]
    if name == "softmax":
        total_y = 0.0
        for p in range(a.shape[0]):
            total_y += y[p, i]
        return a[j, i] * total_y - y[j, i]
    raise ValueError(f"no fused delta for output activation {name!r}")


def fused_delta_reference(name, a, y):
    """dJ/dZ[L] where the output activation and the cost cancel.

    sigmoid + binary_cross_entropy: (a[j,i] - y[j,i]) / m, which is P2 (4)
    applied to the seed (a - y)/(a (1 - a) m);
    softmax + categorical_cross_entropy: (a[j,i] sum_p y[p,i] - y[j,i]) / m,
    which is P2 (8) applied to the seed -y/(a m).
    """
    n, m = a.shape
    dz = np.zeros((n, m))
    for i in range(m):
        for j in range(n):
            dz[j, i] = _fused_slope(name, a, y, j, i) / m
    return dz


def fused_delta_weighted_reference(name, a, y, s):
    """The fused dJ/dZ[L] of the weighted cost J = sum_i s_i L_i / S:
    dz[j,i] = (s_i / S) dL_i/dz[j,i], with the slopes of
    :func:`fused_delta_reference` (a - y for sigmoid + binary_cross_entropy,
    a sum_p y[p,i] - y for softmax + categorical_cross_entropy); 0 when S = 0."""
    return _weight_shares_times(a.shape, s, lambda j, i: _fused_slope(name, a, y, j, i))


# ---------------------------------------------------------------------------
# Convolution and pooling: notes-neural-networks, section "Convolutional
# Neural Networks (CNN)" ("Clearer deduction"; "Pooling / subsampling hidden
# units"). Maps are (C, H, W, m) arrays indexed a[c, x, y, i], as the notes
# write them; labels CNN (1)-(4), POOL (1)-(4), SUB (1)-(4), DROP (1)-(2) are
# those of fnn_numba.conv_kernels.


def _inside(a, c, r, q, i):
    """a[c, r, q, i], or 0 outside the map: the zero padding."""
    _, H, W, _ = a.shape
    if 0 <= r < H and 0 <= q < W:
        return a[c, r, q, i]
    return 0.0


def conv_z_reference(w, b, a_prev, stride, pad):
    """CNN (1): z[f,x,y,i] = sum_c sum_u sum_v w[f,c,u,v] a[c, x s + u - p, y s + v - p, i] + b[f]."""
    F, C, KH, KW = w.shape
    _, H, W, m = a_prev.shape
    OH, OW = (H + 2 * pad - KH) // stride + 1, (W + 2 * pad - KW) // stride + 1
    z = np.zeros((F, OH, OW, m))
    for f in range(F):
        for x in range(OH):
            for y in range(OW):
                for i in range(m):
                    s = 0.0
                    for c in range(C):
                        for u in range(KH):
                            for v in range(KW):
                                s += w[f, c, u, v] * _inside(
                                    a_prev, c, x * stride + u - pad, y * stride + v - pad, i
                                )
                    z[f, x, y, i] = s + b[f]
    return z


def conv_dw_reference(dz, a_prev, kernel_size, stride, pad):
    """CNN (2): dJ/dw[f,c,u,v] = sum_i sum_x sum_y dJ/dz[f,x,y,i] a[c, x s + u - p, y s + v - p, i],
    the sum over every z in which the shared weight w[f,c,u,v] occurs."""
    F, OH, OW, m = dz.shape
    C = a_prev.shape[0]
    KH, KW = kernel_size
    dw = np.zeros((F, C, KH, KW))
    for f in range(F):
        for c in range(C):
            for u in range(KH):
                for v in range(KW):
                    s = 0.0
                    for i in range(m):
                        for x in range(OH):
                            for y in range(OW):
                                s += dz[f, x, y, i] * _inside(
                                    a_prev, c, x * stride + u - pad, y * stride + v - pad, i
                                )
                    dw[f, c, u, v] = s
    return dw


def conv_db_reference(dz):
    """CNN (3): dJ/db[f] = sum_i sum_x sum_y dJ/dz[f,x,y,i]."""
    F, OH, OW, m = dz.shape
    db = np.zeros(F)
    for f in range(F):
        for i in range(m):
            for x in range(OH):
                for y in range(OW):
                    db[f] += dz[f, x, y, i]
    return db


def conv_da_prev_reference(w, dz, input_shape, stride, pad):
    """CNN (4), the direct sum: dJ/da[c,r,q,i] = sum of dJ/dz[f,x,y,i] w[f,c,u,v]
    over every (f, x, y, u, v) with x s + u - p = r and y s + v - p = q (the
    z's that read a[c,r,q,i] in CNN (1), by the chain rule)."""
    F, C, KH, KW = w.shape
    _, OH, OW, m = dz.shape
    _, H, W = input_shape
    da = np.zeros((C, H, W, m))
    for c in range(C):
        for r in range(H):
            for q in range(W):
                for i in range(m):
                    s = 0.0
                    for f in range(F):
                        for x in range(OH):
                            for y in range(OW):
                                u, v = r - x * stride + pad, q - y * stride + pad
                                if 0 <= u < KH and 0 <= v < KW:
                                    s += dz[f, x, y, i] * w[f, c, u, v]
                    da[c, r, q, i] = s
    return da


def conv_da_prev_flipped_reference(w, dz, input_shape, stride, pad):
    """CNN (4) in the notes' form: "pad the top and left edges with zeros,
    then flip axes" of the kernel, and it is a convolution. Written out: D is
    dz dilated by the stride (s - 1 zeros between neighbours) and padded by
    KH - 1 - p rows and KW - 1 - p columns of zeros on each side; w_flip the
    kernel with rows and columns flipped; then
    dJ/da[c,r,q,i] = sum_f sum_u' sum_v' w_flip[f,c,u',v'] D[f, r + u', q + v', i],
    a cross-correlation of D with w_flip over maps f (in place of channels).
    Equal to :func:`conv_da_prev_reference` (docs/convolution.rst shows why)."""
    F, C, KH, KW = w.shape
    _, OH, OW, m = dz.shape
    _, H, W = input_shape
    ph, pw = KH - 1 - pad, KW - 1 - pad
    # enough rows and columns for every r + u' (a padding larger than the
    # kernel makes ph negative: the first rows of D are then cut, not added)
    DH, DW = H + KH - 1, W + KW - 1
    D = np.zeros((F, DH, DW, m))
    for f in range(F):
        for x in range(OH):
            for y in range(OW):
                for i in range(m):
                    t, t2 = x * stride + ph, y * stride + pw
                    if 0 <= t < DH and 0 <= t2 < DW:
                        D[f, t, t2, i] = dz[f, x, y, i]
    w_flip = np.zeros_like(w)
    for f in range(F):
        for c in range(C):
            for u in range(KH):
                for v in range(KW):
                    w_flip[f, c, u, v] = w[f, c, KH - 1 - u, KW - 1 - v]
    da = np.zeros((C, H, W, m))
    for c in range(C):
        for r in range(H):
            for q in range(W):
                for i in range(m):
                    s = 0.0
                    for f in range(F):
                        for u in range(KH):
                            for v in range(KW):
                                s += w_flip[f, c, u, v] * D[f, r + u, q + v, i]
                    da[c, r, q, i] = s
    return da


def maxpool_reference(a_prev, pool_size):
    """POOL (1): a[c,x,y,i] = max over u < P, v < Q of a_prev[c, x P + u, y Q + v, i],
    non-overlapping windows, a remainder row or column dropped."""
    C, H, W, m = a_prev.shape
    P, Q = pool_size
    a = np.zeros((C, H // P, W // Q, m))
    for c in range(C):
        for x in range(H // P):
            for y in range(W // Q):
                for i in range(m):
                    a[c, x, y, i] = max(
                        a_prev[c, x * P + u, y * Q + v, i] for u in range(P) for v in range(Q)
                    )
    return a


def maxpool_backward_reference(a_prev, da, pool_size):
    """POOL (2): dJ/da_prev is dJ/da[c,x,y,i] at the first maximum of window
    (x, y) in row-major order, 0 elsewhere."""
    C, H, W, m = a_prev.shape
    P, Q = pool_size
    da_prev = np.zeros((C, H, W, m))
    for c in range(C):
        for x in range(H // P):
            for y in range(W // Q):
                for i in range(m):
                    window = [
                        (a_prev[c, x * P + u, y * Q + v, i], u, v)
                        for u in range(P)
                        for v in range(Q)
                    ]
                    best = max(val for val, _, _ in window)
                    _, u, v = next(t for t in window if t[0] == best)
                    da_prev[c, x * P + u, y * Q + v, i] = da[c, x, y, i]
    return da_prev


def avgpool_reference(a_prev, pool_size):
    """POOL (3): a[c,x,y,i] = (1 / (P Q)) sum_u sum_v a_prev[c, x P + u, y Q + v, i]."""
    C, H, W, m = a_prev.shape
    P, Q = pool_size
    a = np.zeros((C, H // P, W // Q, m))
    for c in range(C):
        for x in range(H // P):
            for y in range(W // Q):
                for i in range(m):
                    s = 0.0
                    for u in range(P):
                        for v in range(Q):
                            s += a_prev[c, x * P + u, y * Q + v, i]
                    a[c, x, y, i] = s / (P * Q)
    return a


def avgpool_backward_reference(da, input_shape, pool_size):
    """POOL (4): dJ/da_prev[c, x P + u, y Q + v, i] = dJ/da[c,x,y,i] / (P Q); 0 in a remainder."""
    C, H, W = input_shape
    P, Q = pool_size
    m = da.shape[3]
    da_prev = np.zeros((C, H, W, m))
    for c in range(C):
        for x in range(H // P):
            for y in range(W // Q):
                for i in range(m):
                    for u in range(P):
                        for v in range(Q):
                            da_prev[c, x * P + u, y * Q + v, i] = da[c, x, y, i] / (P * Q)
    return da_prev


def subsample_z_reference(beta, b, a_prev, pool_size):
    """SUB (1): z[c,x,y,i] = beta[c] (1 / (P Q)) sum_u sum_v a_prev[c, x P + u, y Q + v, i] + b[c]."""
    mean = avgpool_reference(a_prev, pool_size)
    z = np.zeros_like(mean)
    C, OH, OW, m = mean.shape
    for c in range(C):
        for x in range(OH):
            for y in range(OW):
                for i in range(m):
                    z[c, x, y, i] = beta[c] * mean[c, x, y, i] + b[c]
    return z


def subsample_dbeta_reference(dz, a_prev, pool_size):
    """SUB (2): dJ/dbeta[c] = sum_i sum_x sum_y dJ/dz[c,x,y,i] mean_{u,v} a_prev[c, x P + u, y Q + v, i]."""
    mean = avgpool_reference(a_prev, pool_size)
    C, OH, OW, m = dz.shape
    dbeta = np.zeros(C)
    for c in range(C):
        for i in range(m):
            for x in range(OH):
                for y in range(OW):
                    dbeta[c] += dz[c, x, y, i] * mean[c, x, y, i]
    return dbeta


def subsample_da_prev_reference(beta, dz, input_shape, pool_size):
    """SUB (4): dJ/da_prev[c, x P + u, y Q + v, i] = dJ/dz[c,x,y,i] beta[c] / (P Q)."""
    da_prev = avgpool_backward_reference(dz, input_shape, pool_size)
    C, H, W, m = da_prev.shape
    for c in range(C):
        for r in range(H):
            for q in range(W):
                for i in range(m):
                    da_prev[c, r, q, i] *= beta[c]
    return da_prev


def flatten_reference(a):
    """Flatten: (C, H, W, m) to (C H W, m), row (c H + x) W + y, PyTorch's
    ``nn.Flatten`` order."""
    C, H, W, m = a.shape
    out = np.zeros((C * H * W, m))
    for c in range(C):
        for x in range(H):
            for y in range(W):
                for i in range(m):
                    out[(c * H + x) * W + y, i] = a[c, x, y, i]
    return out


def dropout_reference(a_prev, keep, rate):
    """DROP (1) and (2): a[j,i] = a_prev[j,i] keep[j,i] / (1 - rate), with
    keep[j,i] in {0, 1}; the same factor multiplies dJ/da on the way back."""
    n, m = a_prev.shape
    a = np.zeros((n, m))
    for j in range(n):
        for i in range(m):
            a[j, i] = a_prev[j, i] * keep[j, i] / (1.0 - rate)
    return a


def unflatten_reference(d, input_shape):
    """Flatten's backward pass: dJ/da_prev[c,x,y,i] = dJ/da[(c H + x) W + y, i],
    the column read back as (C, H, W) maps."""
    C, H, W = input_shape
    m = d.shape[1]
    out = np.zeros((C, H, W, m))
    for c in range(C):
        for x in range(H):
            for y in range(W):
                for i in range(m):
                    out[c, x, y, i] = d[(c * H + x) * W + y, i]
    return out


_MASK64 = (1 << 64) - 1
# splitmix64's constants, as in fnn_numba.conv_kernels
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _splitmix64(z):
    """splitmix64's finaliser on Python integers modulo 2^64."""
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def dropout_mask_reference(rate, key, counter, layer, n, m):
    """DROP (1)'s mask: mask[j,i] = I(u[j,i] >= rate) / (1 - rate), where
    u[j,i] = h / 2^53 for the top 53 bits h of the hash of (key, counter,
    layer, q = i n + j): splitmix64 applied to key + G (counter + 1), then to
    that xor (layer M1), then to that plus G (q + 1) (G, M1 splitmix64's
    constants, all modulo 2^64)."""
    mask = np.zeros((n, m))
    for i in range(m):
        for j in range(n):
            h = _splitmix64((key + _GOLDEN * (counter + 1)) & _MASK64)
            h = _splitmix64(h ^ ((layer * _MIX1) & _MASK64))
            h = _splitmix64((h + _GOLDEN * (i * n + j + 1)) & _MASK64)
            u = (h >> 11) / 2.0**53
            mask[j, i] = 1.0 / (1.0 - rate) if u >= rate else 0.0
    return mask


def sparse_z_reference(w, b, indptr, indices, data):
    """P1 (1) for layer 1 with a sparse input x stored by example (example
    i's entries (k = indices[p], x_ki = data[p]) for p in
    indptr[i]:indptr[i+1]): z[j,i] = sum over i's stored k of w[j,k] x_ki + b[j].
    The k not stored are zeros and add nothing."""
    n = w.shape[0]
    m = len(indptr) - 1
    z = np.zeros((n, m))
    for j in range(n):
        for i in range(m):
            s = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                s += w[j, indices[p]] * data[p]
            z[j, i] = s + b[j]
    return z


def sparse_dw_reference(dz, indptr, indices, data, n_inputs):
    """P1 (13) for layer 1 with a sparse input stored as in
    :func:`sparse_z_reference`: dw[j,k] = sum_i dz[j,i] x_ki, each example's
    stored entries adding dz[j,i] x_ki to column k of row j."""
    n, m = dz.shape
    dw = np.zeros((n, n_inputs))
    for j in range(n):
        for i in range(m):
            for p in range(indptr[i], indptr[i + 1]):
                dw[j, indices[p]] += dz[j, i] * data[p]
    return dw
