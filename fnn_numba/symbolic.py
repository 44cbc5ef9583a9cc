"""Symbolic verification with SymPy: each closed form the kernels use is the
derivative of its forward formula.

For every activation, SymPy differentiates the forward formula (P1 (2), P2 (1),
(3), (5), (7) and the rest) and shows that the result minus the closed form of
:func:`fnn_numba.activations.activation_slope` / :func:`fnn_numba.kernels.dz_backward`
simplifies to 0: sigmoid a (1 - a) (P2 (4)), tanh 1 - a^2 (P2 (6)),
relu I(z > 0) (P2 (2)), leaky relu, ELU and SELU branch by branch, the softmax
Jacobian a_p (delta_pj - a_j) and its contraction, the cross-sum of P2 (8).
For every cost it differentiates L_i and shows dL_i/dy_hat is the closed form
of :func:`fnn_numba.costs.loss_slope`, and that J = (1/m) sum_i L_i gives the
seed (1/m) dL_i/dy_hat. For the fused pairs it shows the fused deltas and the
losses-from-logits are the derivative and the value of the composed cost. For
the linear layer it derives P1 (13), (14) and (21) from z = W a + b.

A symbolic identity proves the formula; it does not prove that the kernel
implements it. So each row also evaluates the compiled kernel that uses the
closed form (``dz_backward``, ``cost_seed``, ``output_delta_fused``,
``example_losses``) at sample points on every branch and compares it with the
SymPy derivative evaluated there (relative 1e-12). A row is verified when both
hold. The tests plant slips into these kernels through the same private
mechanism as :func:`fnn_numba.verify.crosscheck` (``fnn_numba.verify._with_kernels``).

SymPy is an optional dependency (``pip install sympy``, or the ``symbolic``
extra: ``pip install fnn-numba[symbolic]``); it is imported only when a
function here is called.
"""

import functools
from dataclasses import dataclass

import numpy as np

from .activations import (
    ACTIVATIONS,
    ELU_ALPHA,
    LEAKY_RELU_SLOPE,
    SELU_ALPHA,
    SELU_LAMBDA,
)
from .costs import COSTS, FUSED_PAIRS

#: relative tolerance of the kernel-against-SymPy spot checks (float64)
SPOT_RTOL = 1e-12
#: sample points of the spot checks, on each side of the branch point z = 0
POSITIVE_POINTS = (0.3, 1.7, 4.0)
NEGATIVE_POINTS = (-0.2, -1.3, -3.5)
#: nodes of the symbolic softmax (the identities hold for any n; 3 shows every case p = j, p != j)
SOFTMAX_NODES = 3
#: examples in the symbolic J = (1/m) sum_i L_i
SEED_EXAMPLES = 3


@dataclass(frozen=True)
class SymbolicRow:
    """One verified statement: the equation's label, the statement in words,
    whether SymPy proved it and the kernel agreed at the sample points, and
    what was checked."""

    equation: str
    statement: str
    verified: bool
    detail: str = ""

    @property
    def passed(self):
        return self.verified


def require_sympy():
    """Import SymPy, or raise an ImportError saying how to install it."""
    try:
        import sympy
    except ImportError as exc:
        raise ImportError(
            "fnn_numba.symbolic needs SymPy: pip install sympy "
            "(or install the 'symbolic' extra: pip install fnn-numba[symbolic])"
        ) from exc
    return sympy


def sympy_available():
    try:
        require_sympy()
    except ImportError:
        return False
    return True


def _kernel(name):
    """The kernel ``name`` of :mod:`fnn_numba.kernels`, or the substitute a
    test planted for it (every layer's, not a (name, layer) one)."""
    from .verify import _kernel as planted

    return planted(name)


def _F(values):
    return np.asfortranarray(np.asarray(values, dtype=np.float64))


def _close(got, want):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        return False, float("inf")
    scale = max(float(np.max(np.abs(want))), 1e-300)
    err = float(np.max(np.abs(got - want))) / scale
    return err <= SPOT_RTOL, err


def _is_zero(sp, expr):
    return sp.simplify(expr) == 0


# ------------------------------------------------------------------ activations
def _activation_branches(sp, name):
    """(branch, z symbol, forward g(z), closed-form slope as a function of (z, a))
    per branch, and the values of the constants. The closed forms are written
    as activation_slope writes them; the constants stay symbols, so each
    identity is proved for every value of them."""
    real = sp.Symbol("z", real=True)
    pos = sp.Symbol("z", positive=True)
    neg = sp.Symbol("z", negative=True)
    slope, alpha, lam = sp.symbols("slope alpha lambda", positive=True)
    one, zero = sp.Integer(1), sp.Integer(0)
    if name == "identity":
        return [("all z", real, real, lambda z, a: one)], {}
    if name == "sigmoid":
        return [("all z", real, 1 / (1 + sp.exp(-real)), lambda z, a: a * (1 - a))], {}
    if name == "tanh":
        g = (sp.exp(real) - sp.exp(-real)) / (sp.exp(real) + sp.exp(-real))  # P2 (5) as written
        return [("all z", real, g, lambda z, a: 1 - a * a)], {}
    if name == "relu":
        return [("z > 0", pos, pos, lambda z, a: one), ("z < 0", neg, zero, lambda z, a: zero)], {}
    if name == "leaky_relu":
        return [
            ("z > 0", pos, pos, lambda z, a: one),
            ("z < 0", neg, slope * neg, lambda z, a: slope),
        ], {slope: LEAKY_RELU_SLOPE}
    if name == "elu":
        return [
            ("z > 0", pos, pos, lambda z, a: one),
            ("z < 0", neg, alpha * (sp.exp(neg) - 1), lambda z, a: a + alpha),
        ], {alpha: ELU_ALPHA}
    if name == "selu":
        return [
            ("z > 0", pos, lam * pos, lambda z, a: lam),
            ("z < 0", neg, lam * alpha * (sp.exp(neg) - 1), lambda z, a: a + lam * alpha),
        ], {lam: SELU_LAMBDA, alpha: SELU_ALPHA}
    if name == "exp":
        return [("all z", real, sp.exp(real), lambda z, a: a)], {}
    raise ValueError(f"activation: no element-wise formula for {name!r}")


_ACTIVATION_STATEMENTS = {
    "identity": ("P1 (17)", "identity: d/dz z = 1"),
    "sigmoid": ("P2 (4)", "sigmoid: d/dz 1/(1 + exp(-z)) = a (1 - a)"),
    "tanh": ("P2 (6)", "tanh: d/dz (e^z - e^-z)/(e^z + e^-z) = 1 - a^2"),
    "relu": ("P2 (2)", "relu: d/dz max(0, z) = I(z > 0)  (0 taken at z = 0)"),
    "leaky_relu": (
        "P1 (17)",
        f"leaky_relu: slope 1 (z > 0), {LEAKY_RELU_SLOPE} (z < 0), the forward pass's own slope",
    ),
    "elu": ("P1 (17)", "elu: d/dz alpha (e^z - 1) = a + alpha (z < 0); 1 (z > 0)"),
    "selu": (
        "P1 (17)",
        "selu: d/dz lambda alpha (e^z - 1) = a + lambda alpha (z < 0); lambda (z > 0)",
    ),
    "exp": ("P1 (17)", "exp: d/dz e^z = a"),
}


@functools.cache
def _activation_symbolic(name):
    """Per branch: whether d g/dz - closed form simplifies to 0, and numeric
    callables for g and its SymPy derivative."""
    sp = require_sympy()
    out = []
    branches, constants = _activation_branches(sp, name)
    for branch, z, g, closed in branches:
        dg = sp.diff(g, z)
        ok = _is_zero(sp, dg - closed(z, g))
        out.append(
            (
                branch,
                ok,
                sp.lambdify(z, g.subs(constants), "math"),
                sp.lambdify(z, dg.subs(constants), "math"),
            )
        )
    return tuple(out)


def _activation_row(name):
    label, statement = _ACTIVATION_STATEMENTS[name]
    code = ACTIVATIONS[name]
    proved, agree, worst = True, True, 0.0
    for branch, ok, g, dg in _activation_symbolic(name):
        proved &= ok
        pts = (
            POSITIVE_POINTS
            if branch == "z > 0"
            else NEGATIVE_POINTS
            if branch == "z < 0"
            else NEGATIVE_POINTS + POSITIVE_POINTS
        )
        z = _F([pts])
        a = np.zeros_like(z)
        _kernel("activation_forward")(code, z, a)
        dz = np.zeros_like(z)
        _kernel("dz_backward")(code, z, a, _F(np.ones_like(z)), dz)
        ok_a, err_a = _close(a[0], [g(p) for p in pts])
        ok_d, err_d = _close(dz[0], [dg(p) for p in pts])
        agree &= ok_a and ok_d
        worst = max(worst, err_a, err_d)
    detail = (
        f"SymPy: {'identity holds' if proved else 'DIFFERS'} on every branch; "
        f"kernels activation_forward/dz_backward vs SymPy at {2 * len(POSITIVE_POINTS)} "
        f"points: rel {worst:.1e}"
    )
    return SymbolicRow(label, statement, bool(proved and agree), detail)


@functools.cache
def _softmax_symbolic():
    sp = require_sympy()
    n = SOFTMAX_NODES
    z = sp.symbols(f"z1:{n + 1}", real=True)
    g = sp.symbols(f"g1:{n + 1}", real=True)  # g_p stands for dJ/da_p
    total = sum(sp.exp(v) for v in z)
    a = [sp.exp(v) / total for v in z]
    jac = [[sp.diff(a[p], z[j]) for j in range(n)] for p in range(n)]
    jac_ok = all(
        _is_zero(sp, jac[p][j] - a[p] * ((1 if p == j else 0) - a[j]))
        for p in range(n)
        for j in range(n)
    )
    contraction = [sum(g[p] * jac[p][j] for p in range(n)) for j in range(n)]
    cross = sum(g[p] * a[p] for p in range(n))
    p8_ok = all(_is_zero(sp, contraction[j] - a[j] * (g[j] - cross)) for j in range(n))
    jac_f = sp.lambdify([z], jac, "math")
    con_f = sp.lambdify([z, g], contraction, "math")
    return jac_ok, p8_ok, jac_f, con_f


def _softmax_rows():
    jac_ok, p8_ok, jac_f, con_f = _softmax_symbolic()
    n = SOFTMAX_NODES
    code = ACTIVATIONS["softmax"]
    rng = np.random.default_rng(2021)
    z = _F(rng.standard_normal((n, 4)) * 2)
    a = np.zeros_like(z)
    _kernel("activation_forward")(code, z, a)
    # the kernel's Jacobian, column by column: a unit dJ/dA row q gives dz[j,i] = da[q,i]/dz[j,i]
    jac_kernel = np.zeros((z.shape[1], n, n))
    for q in range(n):
        unit = np.zeros_like(z)
        unit[q, :] = 1
        dz = np.zeros_like(z)
        _kernel("dz_backward")(code, z, a, unit, dz)
        jac_kernel[:, q, :] = dz.T
    jac_sym = np.array([jac_f(list(z[:, i])) for i in range(z.shape[1])])
    ok_j, err_j = _close(jac_kernel, jac_sym)
    da = _F(rng.standard_normal(z.shape))
    dz = np.zeros_like(z)
    _kernel("dz_backward")(code, z, a, da, dz)
    con_sym = np.array([con_f(list(z[:, i]), list(da[:, i])) for i in range(z.shape[1])]).T
    ok_c, err_c = _close(dz, con_sym)
    return [
        SymbolicRow(
            "P1 (17)",
            "softmax Jacobian: da_p/dz_j = a_p (delta_pj - a_j)",
            bool(jac_ok and ok_j),
            f"SymPy: {'identity holds' if jac_ok else 'DIFFERS'} for n = {n}, every (p, j); "
            f"kernel dz_backward on unit dJ/dA vs SymPy: rel {err_j:.1e}",
        ),
        SymbolicRow(
            "P2 (8)",
            "softmax: sum_p dJ/da_p da_p/dz_j = a_j (dJ/da_j - sum_p dJ/da_p a_p)",
            bool(p8_ok and ok_c),
            f"SymPy: {'identity holds' if p8_ok else 'DIFFERS'} for n = {n}; "
            f"kernel dz_backward vs SymPy contraction: rel {err_c:.1e}",
        ),
    ]


def activation_rows(names=None):
    """One row per activation (softmax: two, its Jacobian and P2 (8))."""
    names = list(ACTIVATIONS) if names is None else list(names)
    rows = []
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(f"names: unknown activation {name!r}")
        rows.extend(_softmax_rows() if name == "softmax" else [_activation_row(name)])
    return rows


# ----------------------------------------------------------------------- costs
_COST_STATEMENTS = {
    "squared_error": "squared_error: L = 1/2 sum_j (y_hat - y)^2, dL/dy_hat = y_hat - y",
    "binary_cross_entropy": "binary_cross_entropy: L = -sum_j [y log y_hat + (1 - y) log(1 - y_hat)], "
    "dL/dy_hat = (y_hat - y)/(y_hat (1 - y_hat))",
    "categorical_cross_entropy": "categorical_cross_entropy: L = -sum_j y log y_hat, dL/dy_hat = -y/y_hat",
    "poisson": "poisson: L = sum_j [y_hat - y + y log(y / y_hat)], dL/dy_hat = 1 - y/y_hat",
}


def _cost_term(sp, name, p, t):
    if name == "squared_error":
        return (p - t) ** 2 / 2
    if name == "binary_cross_entropy":
        return -(t * sp.log(p) + (1 - t) * sp.log(1 - p))
    if name == "poisson":
        return p - t + t * sp.log(t / p)
    return -t * sp.log(p)


def _cost_closed(name, p, t):
    """dL/dy_hat as loss_slope writes it."""
    if name == "squared_error":
        return p - t
    if name == "binary_cross_entropy":
        return (p - t) / (p * (1 - p))
    if name == "poisson":
        return 1 - t / p
    return -t / p


@functools.cache
def _cost_symbolic(name):
    sp = require_sympy()
    m = SEED_EXAMPLES
    p = sp.symbols(f"yhat1:{m + 1}", positive=True)
    t = sp.symbols(f"y1:{m + 1}", real=True)
    slope_ok = _is_zero(
        sp, sp.diff(_cost_term(sp, name, p[0], t[0]), p[0]) - _cost_closed(name, p[0], t[0])
    )
    J = sum(_cost_term(sp, name, p[i], t[i]) for i in range(m)) / m
    seed_ok = all(
        _is_zero(sp, sp.diff(J, p[i]) - _cost_closed(name, p[i], t[i]) / m) for i in range(m)
    )
    term = sp.lambdify([p[0], t[0]], _cost_term(sp, name, p[0], t[0]), "math")
    slope = sp.lambdify([p[0], t[0]], sp.diff(_cost_term(sp, name, p[0], t[0]), p[0]), "math")
    return slope_ok, seed_ok, term, slope


def cost_rows(names=None):
    """One row per cost: dL_i/dy_hat and the seed (1/m) dL_i/dy_hat."""
    names = list(COSTS) if names is None else list(names)
    rows = []
    rng = np.random.default_rng(2022)
    for name in names:
        if name not in COSTS:
            raise ValueError(f"names: unknown cost {name!r}")
        slope_ok, seed_ok, term, slope = _cost_symbolic(name)
        y_hat = _F(rng.uniform(0.05, 0.95, (2, 5)))
        y = _F(
            rng.uniform(0, 1, (2, 5)) if name != "squared_error" else rng.standard_normal((2, 5))
        )
        m = y.shape[1]
        da = np.zeros_like(y_hat)
        _kernel("cost_seed")(COSTS[name], y_hat, y, da)
        want_seed = np.array(
            [[slope(y_hat[j, i], y[j, i]) / m for i in range(m)] for j in range(2)]
        )
        ok_s, err_s = _close(da, want_seed)
        losses = np.zeros(m)
        _kernel("example_losses")(
            COSTS[name], ACTIVATIONS["identity"], False, y_hat, y_hat, y, losses
        )
        want_l = [sum(term(y_hat[j, i], y[j, i]) for j in range(2)) for i in range(m)]
        ok_l, err_l = _close(losses, want_l)
        rows.append(
            SymbolicRow(
                "cost",
                _COST_STATEMENTS[name] + "; seed dJ/dA[L] = (1/m) dL_i/dy_hat",
                bool(slope_ok and seed_ok and ok_s and ok_l),
                f"SymPy: dL/dy_hat {'holds' if slope_ok else 'DIFFERS'}, seed of J = (1/m) sum_i L_i "
                f"(m = {SEED_EXAMPLES}) {'holds' if seed_ok else 'DIFFERS'}; kernels cost_seed, "
                f"example_losses vs SymPy: rel {max(err_s, err_l):.1e}",
            )
        )
    return rows


# ----------------------------------------------------------------------- fused
@functools.cache
def _fused_sigmoid_symbolic():
    sp = require_sympy()
    z, y = sp.Symbol("z", real=True), sp.Symbol("y", real=True)
    s = 1 / (1 + sp.exp(-z))
    L = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    delta_ok = _is_zero(sp, sp.diff(L, z) - (s - y))
    # fused_loss_term: max(z, 0) - z y + log(1 + exp(-|z|)), one branch at a time;
    # equal derivatives on a branch and equal values at one point of it make the
    # two functions equal on the whole branch
    loss_ok = True
    for zb, point in ((sp.Symbol("z", positive=True), 1), (sp.Symbol("z", negative=True), -1)):
        sb = 1 / (1 + sp.exp(-zb))
        Lb = -(y * sp.log(sb) + (1 - y) * sp.log(1 - sb))
        fb = sp.Max(zb, 0) - zb * y + sp.log(1 + sp.exp(-sp.Abs(zb)))
        diff = Lb - fb
        at = diff.subs({zb: point, y: sp.Rational(1, 3)}).evalf(60)
        loss_ok &= _is_zero(sp, sp.diff(diff, zb)) and abs(at) < sp.Float("1e-50")
    delta_f = sp.lambdify([z, y], sp.diff(L, z), "math")
    loss_f = sp.lambdify([z, y], L, "math")
    return delta_ok, loss_ok, delta_f, loss_f


@functools.cache
def _fused_softmax_symbolic():
    sp = require_sympy()
    n = SOFTMAX_NODES
    z = sp.symbols(f"z1:{n + 1}", real=True)
    y = sp.symbols(f"y1:{n + 1}", real=True)
    total = sum(sp.exp(v) for v in z)
    a = [sp.exp(v) / total for v in z]
    L = -sum(y[j] * sp.log(a[j]) for j in range(n))
    grad = [sp.diff(L, z[j]) for j in range(n)]
    delta_ok = all(_is_zero(sp, grad[j] - (a[j] * sum(y) - y[j])) for j in range(n))
    fused = -sum(y[j] * (z[j] - sp.log(total)) for j in range(n))
    loss_ok = _is_zero(sp, sp.expand_log(L - fused, force=True))
    return delta_ok, loss_ok, sp.lambdify([z, y], grad, "math"), sp.lambdify([z, y], L, "math")


def fused_rows(pairs=None):
    """Two rows per fused pair (output activation, cost): the fused delta
    dJ/dZ[L] and the loss computed from the logits."""
    pairs = sorted(FUSED_PAIRS) if pairs is None else list(pairs)
    rows = []
    rng = np.random.default_rng(2023)
    for out, cost in pairs:
        if (out, cost) not in FUSED_PAIRS:
            raise ValueError(f"pairs: ({out!r}, {cost!r}) is not a fused pair")
        n = 2 if out == "sigmoid" else SOFTMAX_NODES
        m = 4
        z = _F(rng.standard_normal((n, m)) * 2)
        a = np.zeros_like(z)
        _kernel("activation_forward")(ACTIVATIONS[out], z, a)
        if out == "sigmoid":
            delta_ok, loss_ok, delta_f, loss_f = _fused_sigmoid_symbolic()
            y = _F(rng.uniform(0, 1, (n, m)))
            want_delta = np.array(
                [[delta_f(z[j, i], y[j, i]) / m for i in range(m)] for j in range(n)]
            )
            want_loss = [sum(loss_f(z[j, i], y[j, i]) for j in range(n)) for i in range(m)]
            delta_text = "sigmoid + binary_cross_entropy: d/dz BCE(sigma(z)) = sigma(z) - y  (so dJ/dZ[L] = (A - Y)/m)"
            loss_text = (
                "sigmoid + binary_cross_entropy: max(z,0) - z y + log(1 + e^-|z|) = BCE(sigma(z))"
            )
        else:
            delta_ok, loss_ok, delta_f, loss_f = _fused_softmax_symbolic()
            y = np.zeros((n, m))
            y[rng.integers(0, n, m), np.arange(m)] = 1
            y = _F(y)
            want_delta = np.array([delta_f(list(z[:, i]), list(y[:, i])) for i in range(m)]).T / m
            want_loss = [loss_f(list(z[:, i]), list(y[:, i])) for i in range(m)]
            delta_text = (
                "softmax + categorical_cross_entropy: d/dz_j CCE(softmax(z)) = a_j sum_p y_p - y_j  "
                "(so dJ/dZ[L] = (A - Y)/m for one-hot Y)"
            )
            loss_text = "softmax + categorical_cross_entropy: -sum_j y_j (z_j - log sum_p e^z_p) = CCE(softmax(z))"
        dz = np.zeros_like(z)
        _kernel("output_delta_fused")(ACTIVATIONS[out], a, y, dz)
        ok_d, err_d = _close(dz, want_delta)
        losses = np.zeros(m)
        _kernel("example_losses")(COSTS[cost], ACTIVATIONS[out], True, z, a, y, losses)
        ok_l, err_l = _close(losses, want_loss)
        rows.append(
            SymbolicRow(
                "fused",
                delta_text,
                bool(delta_ok and ok_d),
                f"SymPy: {'identity holds' if delta_ok else 'DIFFERS'}; kernel "
                f"output_delta_fused vs SymPy: rel {err_d:.1e}",
            )
        )
        rows.append(
            SymbolicRow(
                "fused",
                loss_text,
                bool(loss_ok and ok_l),
                f"SymPy: {'identity holds' if loss_ok else 'DIFFERS'}; kernel "
                f"example_losses (fused) vs SymPy: rel {err_l:.1e}",
            )
        )
    return rows


# ----------------------------------------------------------------- the layer
@functools.cache
def layer_rows():
    """P1 (13), (14), (21) derived by SymPy from z = W a + b (P1 (1)) for
    n = 2, K = 3, m = 2 and a J that couples every z[j,i] (a cubic plus the
    square of a weighted sum), against the index formulas. These rows check
    the formula only; the kernels are checked numerically by the report."""
    sp = require_sympy()
    n, K, m = 2, 3, 2
    W = sp.Matrix(n, K, lambda j, k: sp.Symbol(f"w{j}{k}", real=True))
    b = sp.Matrix(n, 1, lambda j, _: sp.Symbol(f"b{j}", real=True))
    A = sp.Matrix(K, m, lambda k, i: sp.Symbol(f"a{k}{i}", real=True))
    Zs = sp.Matrix(n, m, lambda j, i: sp.Symbol(f"z{j}{i}", real=True))
    c = sp.Matrix(n, m, lambda j, i: sp.Symbol(f"c{j}{i}", real=True))
    J_of_z = (
        sum(Zs[j, i] ** 3 for j in range(n) for i in range(m))
        + sum(c[j, i] * Zs[j, i] for j in range(n) for i in range(m)) ** 2
    )
    Z = W * A + b * sp.ones(1, m)
    at_z = {Zs[j, i]: Z[j, i] for j in range(n) for i in range(m)}
    J = J_of_z.subs(at_z)
    dJdz = sp.Matrix(n, m, lambda j, i: sp.diff(J_of_z, Zs[j, i]).subs(at_z))
    ok13 = all(
        sp.expand(sp.diff(J, W[j, k]) - sum(dJdz[j, i] * A[k, i] for i in range(m))) == 0
        for j in range(n)
        for k in range(K)
    )
    ok14 = all(
        sp.expand(sp.diff(J, b[j]) - sum(dJdz[j, i] for i in range(m))) == 0 for j in range(n)
    )
    ok21 = all(
        sp.expand(sp.diff(J, A[k, i]) - sum(dJdz[j, i] * W[j, k] for j in range(n))) == 0
        for k in range(K)
        for i in range(m)
    )
    detail = "SymPy, n = 2, K = 3, m = 2; formula only (the kernels are checked numerically in the table)"
    return (
        SymbolicRow("P1 (13)", "dJ/dw[j,k] = sum_i dJ/dz[j,i] a[k,i]", bool(ok13), detail),
        SymbolicRow("P1 (14)", "dJ/db[j] = sum_i dJ/dz[j,i]", bool(ok14), detail),
        SymbolicRow("P1 (21)", "dJ/da[k,i] = sum_j dJ/dz[j,i] w[j,k]", bool(ok21), detail),
    )


def verify(activations=None, costs=None, fused_pairs=None, layer=True):
    """Every symbolic row: the linear layer (P1 (13), (14), (21)), the given
    activations, costs and fused pairs (default: all of them).

    Raises ImportError (with the install command) when SymPy is missing.
    """
    require_sympy()
    rows = list(layer_rows()) if layer else []
    rows += activation_rows(activations)
    rows += cost_rows(costs)
    rows += fused_rows(fused_pairs)
    return rows


def format_rows(rows):
    """The rows as a table: equation, verified, statement, and what was checked."""
    lines = [f"{'equation':<9} {'ok':<4} statement", f"{'-' * 9} {'-' * 4} {'-' * 60}"]
    for row in rows:
        lines.append(f"{row.equation:<9} {'ok' if row.verified else 'FAIL':<4} {row.statement}")
        lines.append(f"{'':<14} {row.detail}")
    return "\n".join(lines)
