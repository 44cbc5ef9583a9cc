"""Activation functions: the registry and the per-element formulas.

One table maps each activation's name to an integer code. The per-element
forward formula :func:`activation_value` (P1 (2), P2 (1), (3), (5)) and the
per-element derivative :func:`activation_slope` (the diagonal of the Jacobian
da[p,i]/dz[j,i] of P1 (17); P2 (2), (4), (6) and their analogues) are written
once here and called, inlined by Numba, from every CPU kernel and every CUDA
kernel. Adding an element-wise activation is one code, one branch in each of
the two functions and one row of :data:`ACTIVATIONS`.

Softmax is the one activation that reads a whole column (P2 (7)); its forward
pass and its cross-sum over p (P2 (8)) live in the kernels, not here.

Every formula keeps the dtype of its argument: the constants are built with
``type(z)(...)`` because a bare float literal is float64 in Numba and would
promote float32 arithmetic.
"""

import math

from numba import njit

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
ELU = 5
SELU = 6
SOFTMAX = 7
EXP = 8

#: Slope of leaky ReLU for z < 0, the same forward and backward (``docs/derivation.rst``).
LEAKY_RELU_SLOPE = 0.01
#: ELU's alpha (``docs/derivation.rst``: alpha = 1).
ELU_ALPHA = 1.0
#: SELU's constants (Klambauer et al. 2017), as in every major library.
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

#: name -> integer code used by the kernels.
ACTIVATIONS = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "selu": SELU,
    "softmax": SOFTMAX,
    "exp": EXP,
}
ACTIVATION_NAMES = {code: name for name, code in ACTIVATIONS.items()}

#: Activations whose output lies in (0, 1) by construction (needed for binary
#: cross-entropy, whose log(1 - y_hat) has no meaning elsewhere).
UNIT_INTERVAL_OUTPUT = frozenset({"sigmoid", "softmax"})
#: Activations whose output is > 0 by construction (needed for the Poisson
#: cost, whose log y_hat has no meaning elsewhere).
POSITIVE_OUTPUT = frozenset({"sigmoid", "softmax", "exp"})


@njit(cache=True, inline="always")
def activation_value(code, z):
    """P1 (2) for an element-wise g: a[j,i] = g(z[j,i]).

    identity: z.  sigmoid P2 (3): 1 / (1 + exp(-z)), evaluated as
    exp(z) / (1 + exp(z)) for z < 0 so that exp never overflows.  tanh P2 (5).
    relu P2 (1): max(0, z).  leaky_relu: z if z > 0 else 0.01 z.
    elu: z if z > 0 else alpha (exp(z) - 1).  selu: lambda * elu_alpha'(z).
    exp: e^z, the inverse of the log link of the Poisson cost (it overflows
    to inf for z > 709 in float64, 88 in float32; training refuses the step).
    Softmax is not element-wise and is rejected with NaN here; the kernels
    handle it column by column.
    """
    one = type(z)(1)
    zero = type(z)(0)
    if code == IDENTITY:
        return z
    if code == SIGMOID:
        if z >= zero:
            return one / (one + math.exp(-z))
        e = math.exp(z)
        return e / (one + e)
    if code == TANH:
        return math.tanh(z)
    if code == RELU:
        return z if z > zero else zero
    if code == LEAKY_RELU:
        return z if z > zero else type(z)(LEAKY_RELU_SLOPE) * z
    if code == ELU:
        # expm1 keeps full precision for small |z|
        return z if z > zero else type(z)(ELU_ALPHA) * math.expm1(z)
    if code == SELU:
        if z > zero:
            return type(z)(SELU_LAMBDA) * z
        return type(z)(SELU_LAMBDA * SELU_ALPHA) * math.expm1(z)
    if code == EXP:
        return math.exp(z)
    return type(z)(math.nan)


@njit(cache=True, inline="always")
def activation_slope(code, z, a):
    """da[j,i]/dz[j,i] for an element-wise g, from z and a = g(z).

    The off-diagonal terms da[p,i]/dz[j,i], p != j, are zero for every
    element-wise activation, so P1 (17) collapses to
    dJ/dz[j,i] = dJ/da[j,i] * activation_slope(z[j,i], a[j,i]).

    identity: 1.  sigmoid P2 (4): a (1 - a).  tanh P2 (6): 1 - a a.
    relu P2 (2): I(z > 0) (0 at z = 0).  leaky_relu: 1 if z > 0 else 0.01
    (the same slope as its forward pass).  elu: 1 if z > 0 else a + alpha.
    selu: lambda if z > 0 else a + lambda alpha.  exp: a (d/dz e^z = e^z).
    """
    one = type(z)(1)
    zero = type(z)(0)
    if code == IDENTITY:
        return one
    if code == SIGMOID:
        return a * (one - a)
    if code == TANH:
        return one - a * a
    if code == RELU:
        return one if z > zero else zero
    if code == LEAKY_RELU:
        return one if z > zero else type(z)(LEAKY_RELU_SLOPE)
    if code == ELU:
        return one if z > zero else a + type(z)(ELU_ALPHA)
    if code == SELU:
        if z > zero:
            return type(z)(SELU_LAMBDA)
        return a + type(z)(SELU_LAMBDA * SELU_ALPHA)
    if code == EXP:
        return a
    return type(z)(math.nan)
