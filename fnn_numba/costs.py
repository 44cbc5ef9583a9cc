"""Cost functions: the registry and the per-element formulas.

Every cost of the project is J = (1/m) sum_i L_i with L_i a sum over the
output nodes j of one element term (``docs/derivation.rst``, "Costs, seeds and
the L2 term"), so a cost is fully described by two per-element formulas,
written once here and inlined into the CPU and CUDA kernels:

- :func:`loss_term`: the (j, i) term of L_i;
- :func:`loss_slope`: dL_i/dy_hat[j,i], so that the backprop seed of P1 (9)
  is dJ/dA[L][j,i] = loss_slope(...) / m.

Where the output activation and the cost cancel (:data:`FUSED_PAIRS`), the
kernels compute dJ/dZ[L] directly ((a - y)/m for sigmoid with binary CE,
(a_j sum_p y_p - y_j)/m for softmax with categorical CE) and L_i from the
logits z (:func:`fused_loss_term`), which is stable for any z.

Clipping: the cross-entropies take log(y_hat)
and divide by y_hat and 1 - y_hat. A prediction of exactly 0 or 1 (sigmoid of
z > 37 in float64, or a softmax entry that underflows) would give inf, so the
general path clips y_hat to [eps, 1 - eps] with eps the machine epsilon of
the dtype (2.2e-16 for float64, 1.2e-7 for float32): the smallest margin for
which 1 - eps is still below 1. The fused paths never clip: they never take
the log of a probability. The Poisson cost clips y_hat below at the same eps
in its log and its slope (an exp output underflows to 0 for z < -745), so
the seed 1 - y/y_hat stays finite.

The Poisson cost is half the Poisson deviance, the term
y_hat - y + y log(y / y_hat) (0 at y_hat = y; y log y = 0 at y = 0), meant
for counts y >= 0 with an exp output (the log link).
"""

import math

from numba import njit

SQUARED_ERROR = 0
BINARY_CROSS_ENTROPY = 1
CATEGORICAL_CROSS_ENTROPY = 2
POISSON = 3

#: name -> integer code used by the kernels.
COSTS = {
    "squared_error": SQUARED_ERROR,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "categorical_cross_entropy": CATEGORICAL_CROSS_ENTROPY,
    "poisson": POISSON,
}
#: short names accepted wherever a cost name is.
COST_ALIASES = {
    "mse": "squared_error",
    "se": "squared_error",
    "bce": "binary_cross_entropy",
    "log_loss": "binary_cross_entropy",
    "cce": "categorical_cross_entropy",
    "cross_entropy": "categorical_cross_entropy",
}
COST_NAMES = {code: name for name, code in COSTS.items()}


@njit(cache=True, inline="always")
def loss_term(code, y_hat, y):
    """The (j, i) term of L_i (the costs of ``docs/derivation.rst``).

    squared error: 1/2 (y_hat - y)^2.
    binary cross-entropy: -[y log y_hat + (1 - y) log(1 - y_hat)].
    categorical cross-entropy: -y log y_hat.
    poisson: y_hat - y + y log(y / y_hat) (half the Poisson deviance).
    y_hat is clipped to [eps, 1 - eps] in the cross-entropies and below at
    eps in the Poisson log (module doc).
    """
    one = type(y_hat)(1)
    zero = type(y_hat)(0)
    if code == SQUARED_ERROR:
        d = y_hat - y
        return type(y_hat)(0.5) * d * d
    eps = _eps_like(y_hat)
    if code == POISSON:
        t = y_hat - y
        if y != zero:
            t += y * (math.log(y) - math.log(max(y_hat, eps)))
        return t
    p = min(max(y_hat, eps), one - eps)
    if code == BINARY_CROSS_ENTROPY:
        t = zero
        if y != zero:
            t -= y * math.log(p)
        if y != one:
            t -= (one - y) * math.log1p(-p)
        return t
    if code == CATEGORICAL_CROSS_ENTROPY:
        if y == zero:
            return zero
        return -y * math.log(p)
    return type(y_hat)(math.nan)


@njit(cache=True, inline="always")
def loss_slope(code, y_hat, y):
    """dL_i/dy_hat[j,i]; the backprop seed is dJ/dA[L][j,i] = this / m.

    squared error: y_hat - y.
    binary cross-entropy: (y_hat - y) / (y_hat (1 - y_hat)).
    categorical cross-entropy: -y / y_hat.
    poisson: 1 - y / y_hat.
    y_hat is clipped to [eps, 1 - eps] in the cross-entropies (below at eps
    for poisson), so the seed is finite for predictions of exactly 0 or 1.
    """
    one = type(y_hat)(1)
    zero = type(y_hat)(0)
    if code == SQUARED_ERROR:
        return y_hat - y
    eps = _eps_like(y_hat)
    if code == POISSON:
        return one - y / max(y_hat, eps)
    p = min(max(y_hat, eps), one - eps)
    if code == BINARY_CROSS_ENTROPY:
        return (p - y) / (p * (one - p))
    if code == CATEGORICAL_CROSS_ENTROPY:
        if y == zero:
            return zero
        return -y / p
    return type(y_hat)(math.nan)


@njit(cache=True, inline="always")
def _eps_like(x):
    """Machine epsilon of x's dtype (float32 or float64)."""
    one = type(x)(1)
    eps32 = type(x)(1.1920928955078125e-07)
    # in float32, 1 + 2.2e-16 == 1: pick the epsilon the dtype can resolve
    if one + type(x)(2.220446049250313e-16) == one:
        return eps32
    return type(x)(2.220446049250313e-16)


#: (activation name, cost name) pairs with a fused output delta.
FUSED_PAIRS = {
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
}


@njit(cache=True, inline="always")
def fused_loss_term(code, z, y):
    """The (j, i) term of L_i computed from the logit z, never from y_hat.

    sigmoid + binary CE: ``max(z, 0) - z y + log(1 + exp(-abs(z)))``, which
    equals ``-[y log sigma(z) + (1 - y) log(1 - sigma(z))]`` for every finite z.
    softmax + categorical CE is handled column-wise by the kernel (it needs
    log sum_p exp(z_p)), so it is not here.
    """
    zero = type(z)(0)
    if code == BINARY_CROSS_ENTROPY:
        return max(z, zero) - z * y + math.log1p(math.exp(-abs(z)))
    return type(z)(math.nan)
