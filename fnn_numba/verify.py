"""Cross-checking: every equation of the derivation verified four ways, index by index.

:func:`crosscheck` runs one network on one batch through the fast CPU kernels
of :mod:`fnn_numba.kernels`, called one equation at a time in the order
:mod:`fnn_numba.engine` calls them (outputs of one kernel feed the next, as in
``fit``), and compares each intermediate quantity with

- **reference**: the index-level loops of :mod:`fnn_numba.reference`, run as
  an independent chain of their own;
- **numpy**: the vectorised NumPy forms of :mod:`fnn_numba.vectorized`, an
  independent chain too;
- **finite diff**: central finite differences of the cost J that the same
  kernels compute (for dJ/dW, dJ/db, dJ/dZ, dJ/dA down to dJ/dX and the seed),
  and of the forward activation kernel (for the Jacobian da/dz of P1 (17));
- **net.gradients**: the whole jitted path that ``Network.gradients`` and
  ``fit`` run (:func:`fnn_numba.engine.forward_pass`, ``batch_cost``,
  ``backward_pass``), for A[L], J, dJ/dW, dJ/db and dJ/dX.

Each row of the :class:`CrosscheckReport` is one (equation, layer): its label
("P1 (13)"), the quantity ("dJ/dW[2]"), its shape, and for each witness the
largest absolute difference ``max|fast - witness|`` and the relative
difference ``max|fast - witness| / max(max|fast|, max|witness|)`` (normwise:
relative to the largest entry, so that entries that cancel to ~0 do not
dominate). Rows are in the order the quantities are computed (forward
l = 1..L, cost, seed, backward l = L..1), so the first failing row names the
first equation that went wrong; the rows after it that depend on it fail with
it.

Tolerances (float64; a float32 network is converted to float64 first, and the
report says so): a comparison passes when ``max|d| <= atol + rtol * scale``,
with (rtol, atol) = (1e-10, 1e-13) for the reference, numpy and net.gradients
witnesses (they differ from the kernels only by summation order, ~1e-15
relative at these sizes) and (1e-6, 1e-8) for central differences with step
``h = 1e-6 max(1, |x|)`` (truncation O(h^2), rounding ``O(1e-16 |J| / h)``,
about 1e-10). A slip in a formula (a wrong factor, a transpose, a wrong slope) shows up as a
relative difference of 1e-3 to 1 and fails every witness at once.

Finite differences across a kink (relu, leaky_relu and selu at z = 0) are not
derivatives; the report notes when some ``|z|`` of such a layer is below 1e-4.
The cost of the check is O(P + sum_l n[l] m) forward passes for P parameters,
and the reference is plain Python: use it on small networks and batches.

The rows, their labels and the kernels, references and NumPy forms they
compare come from the equation registry, :data:`fnn_numba.equations.EQUATIONS`.

The check verifies the kernels, not the network's values, so it never runs
with a parameter that is exactly zero: a zero would hide the term it
multiplies or adds (with every bias at 0, as in a freshly built network, a
P1 (1) kernel that ignored b would still give the right Z). Such entries
(every bias of a new network, every weight of ``init="zeros"``) are replaced,
in the float64 copy the check runs on, by draws from N(0, 0.3^2) for biases
and N(0, 1/n[l-1]) for weights, from a generator seeded with
:data:`ZERO_PARAMETER_SEED`; the report notes how many were replaced.

For the tests only, :func:`_with_kernels` substitutes fast kernels by name or
by (name, layer), so that a test can plant a slip into a copy of a kernel and
see which rows fail (``tests/test_crosscheck.py``).
"""
import argparse
import contextlib
import contextvars
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import equations, reference, vectorized
from . import kernels as _kernels
from ._threading import kernel_section
from ._validation import check_choice, check_positive, check_sizes
from .activations import ACTIVATIONS, POSITIVE_OUTPUT, UNIT_INTERVAL_OUTPUT
from .costs import COST_ALIASES, COSTS, FUSED_PAIRS
from .equations import entry

#: the kernels the check calls, by the name :func:`_with_kernels` substitutes them under
KERNEL_NAMES = equations.kernel_names()

WITNESSES = ("reference", "numpy", "finite diff", "net.gradients")
#: witness -> (rtol, atol); see the module doc
TOLERANCES = {
    "reference": (1e-10, 1e-13),
    "numpy": (1e-10, 1e-13),
    "net.gradients": (1e-10, 1e-13),
    "finite diff": (1e-6, 1e-8),
}
FD_STEP = 1e-6
#: a layer with a kink at 0 and some ``|z|`` below this gets a note (finite differences may straddle it)
KINK_MARGIN = 1e-4
KINKED = ("relu", "leaky_relu", "selu")
#: seed of the values that replace parameters that are exactly zero (see the module doc)
ZERO_PARAMETER_SEED = 20240601
#: standard deviation of a bias that replaces a zero
ZERO_BIAS_STD = 0.3

#: activation -> (label of its forward formula, label of its closed-form dJ/dZ), from the registry
ACTIVATION_EQUATIONS = {name: (entry("A", name).label, entry("dZ closed form", name).label)
                        for name in ACTIVATIONS}


# ---------------------------------------------------------------------- report
@dataclass(frozen=True)
class Comparison:
    """The fast kernel's value against one witness."""

    witness: str
    max_abs: float
    max_rel: float
    rtol: float
    atol: float
    passed: bool


@dataclass
class Row:
    """One (equation, layer) of the report."""

    equation: str
    quantity: str
    shape: tuple
    comparisons: dict = field(default_factory=dict)

    @property
    def passed(self):
        return all(c.passed for c in self.comparisons.values())

    @property
    def max_abs(self):
        return max((c.max_abs for c in self.comparisons.values()), default=0.0)

    @property
    def max_rel(self):
        return max((c.max_rel for c in self.comparisons.values()), default=0.0)


@dataclass
class CrosscheckReport:
    """What :func:`crosscheck` found: ``rows`` (numeric, in computation
    order), ``symbolic_rows`` (:class:`fnn_numba.symbolic.SymbolicRow`, when
    SymPy ran), ``notes``; ``passed`` is True when every row passed.
    ``str(report)`` is the table."""

    title: str
    rows: list
    symbolic_rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        return all(r.passed for r in self.rows) and all(r.verified for r in self.symbolic_rows)

    def failures(self):
        """The failing rows, numeric then symbolic."""
        return [r for r in self.rows if not r.passed] + [r for r in self.symbolic_rows if not r.verified]

    @property
    def first_failure(self):
        """The first failing numeric row: the first equation that went wrong."""
        return next((r for r in self.rows if not r.passed), None)

    def find(self, quantity):
        """The numeric row whose quantity starts with ``quantity``."""
        for r in self.rows:
            if r.quantity.startswith(quantity):
                return r
        raise KeyError(f"quantity: no row for {quantity!r}")

    def format(self):
        return format_table(self.title, self.rows, self.notes, self.symbolic_rows)

    def __str__(self):
        return self.format()


def _cell(comparison):
    if comparison is None:
        return f"{'-':<16}"
    mark = " " if comparison.passed else "!"
    return f"{comparison.max_abs:7.1e} {comparison.max_rel:7.1e}{mark}"


def format_table(title, rows, notes=(), symbolic_rows=()):
    """The numeric rows as a fixed-width table (a failing witness is marked !)."""
    head = f"{'equation':<9} {'quantity':<34} {'shape':<10} " + \
        "".join(f"{w:<17}" for w in WITNESSES) + "ok"
    sub = f"{'':<9} {'':<34} {'':<10} " + "".join(f"{'max|d|':<8}{'rel':<9}" for _ in WITNESSES)
    lines = [title] + [f"  note: {n}" for n in notes] + [head, sub.rstrip(), "-" * len(head)]
    for r in rows:
        shape = "x".join(str(s) for s in r.shape) if r.shape else "scalar"
        cells = "".join(_cell(r.comparisons.get(w)) + " " for w in WITNESSES)
        lines.append(f"{r.equation:<9} {r.quantity:<34} {shape:<10} {cells}{'ok' if r.passed else 'FAIL'}")
    n_fail = sum(not r.passed for r in rows)
    lines.append(f"{len(rows)} rows, " + ("all passed" if n_fail == 0 else f"{n_fail} FAILED"))
    if symbolic_rows:
        from .symbolic import format_rows
        lines += ["", "symbolic (SymPy):", format_rows(symbolic_rows)]
    return "\n".join(lines)


TOLERANCE_LEGEND = ("pass: max|d| <= atol + rtol * max(|fast|, |witness|); (rtol, atol) = "
                    "(1e-10, 1e-13) for reference, numpy, net.gradients; (1e-6, 1e-8) for central "
                    "finite differences with step 1e-6 max(1, |x|). fast = the kernels of "
                    "fnn_numba.kernels called as engine.py calls them.")


def _compare(witness, fast, other):
    rtol, atol = TOLERANCES[witness]
    fast = np.asarray(fast, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if fast.shape != other.shape or not (np.all(np.isfinite(fast)) and np.all(np.isfinite(other))):
        return Comparison(witness, math.inf, math.inf, rtol, atol, False)
    if fast.size == 0:
        return Comparison(witness, 0.0, 0.0, rtol, atol, True)
    max_abs = float(np.max(np.abs(fast - other)))
    scale = max(float(np.max(np.abs(fast))), float(np.max(np.abs(other))))
    rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    return Comparison(witness, max_abs, rel, rtol, atol, max_abs <= atol + rtol * scale)


def _row(eq, fast, reference=None, numpy=None, fd=None, engine=None, **where):
    """The row of registry entry ``eq`` (its label; its quantity formatted
    with ``where``: l, L, act, detail, head) comparing ``fast`` with the witnesses given."""
    fast = np.asarray(fast, dtype=np.float64)
    comparisons = {}
    for witness, value in (("reference", reference), ("numpy", numpy), ("finite diff", fd),
                           ("net.gradients", engine)):
        if value is not None:
            comparisons[witness] = _compare(witness, fast, value)
    return Row(eq.label, eq.row_quantity(**where), tuple(fast.shape), comparisons)


# -------------------------------------------------------------- kernel chain
#: the substitutes planted by :func:`_with_kernels`: {name or (name, layer): function}
_SUBSTITUTES = contextvars.ContextVar("fnn_numba_verify_substitutes", default=None)


def _check_kernels(mapping):
    if not hasattr(mapping, "items"):
        raise TypeError(f"kernels: expected a mapping from kernel name (or (name, layer)) to a "
                        f"function, got {type(mapping).__name__}")
    for key, fn in mapping.items():
        name, layer = (key if isinstance(key, tuple) and len(key) == 2 else (key, None))
        if name not in KERNEL_NAMES:
            raise ValueError(f"kernels: unknown kernel {key!r}; expected one of {', '.join(KERNEL_NAMES)} "
                             f"or a (name, layer) pair")
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int) or layer < 1):
            raise ValueError(f"kernels: layer of {key!r} must be an integer >= 1, got {layer!r}")
        if not callable(fn):
            raise TypeError(f"kernels: the substitute for {key!r} is not callable: {fn!r}")
    return dict(mapping)


@contextlib.contextmanager
def _with_kernels(mapping):
    """For tests only: inside the block, :func:`crosscheck`, the command
    line's ``cli_main`` and the spot checks of :mod:`fnn_numba.symbolic` call
    ``mapping[name]`` in place of ``fnn_numba.kernels.<name>`` (every call),
    or ``mapping[(name, layer)]`` for the calls of that layer (cost kernels
    belong to layer L). A substitute takes the arguments the kernel takes.
    The net.gradients witness always runs the real engine."""
    token = _SUBSTITUTES.set(_check_kernels(mapping))
    try:
        yield
    finally:
        _SUBSTITUTES.reset(token)


def _kernel(name, layer=None):
    """The kernel the check calls for ``name`` (at ``layer``): the real one,
    or the substitute planted by :func:`_with_kernels`."""
    mapping = _SUBSTITUTES.get() or {}
    if (name, layer) in mapping:
        return mapping[(name, layer)]
    if name in mapping:
        return mapping[name]
    return getattr(_kernels, name)


class _KernelNet:
    """The network as plain arrays, run through the fast kernels one equation
    at a time, with the calls and layouts of :mod:`fnn_numba.engine`."""

    def __init__(self, net, X, Y, l2):
        from .engine import parameter_layout

        self.sizes = list(net.sizes)
        self.L = len(self.sizes) - 1
        self.names = list(net.activations)
        self.codes = [ACTIVATIONS[a] for a in self.names]
        self.cost = net.cost_name
        self.cost_code = COSTS[self.cost]
        self.fused = (self.names[-1], self.cost) in FUSED_PAIRS
        self.l2 = float(l2)
        w_off, b_off, _ = parameter_layout(self.sizes)
        self.w_off = w_off
        self.w_sizes = np.asarray([self.sizes[l + 1] * self.sizes[l] for l in range(self.L)], dtype=np.int64)
        # theta is the flat [W1, b1, W2, ...] of the engine; the views below
        # read it, so perturbing theta[q] perturbs the network
        self.theta = np.asarray(net.get_parameters(), dtype=np.float64).copy()
        self.w = [self.theta[w_off[l]:w_off[l] + self.w_sizes[l]].reshape(self.sizes[l + 1], self.sizes[l])
                  for l in range(self.L)]
        self.b = [self.theta[b_off[l]:b_off[l] + self.sizes[l + 1]] for l in range(self.L)]
        self.x = X
        self.y = Y
        self.m = X.shape[1]

    def k(self, name, layer):
        return _kernel(name, layer)

    def _zeros(self, n, order="F"):
        return np.zeros((n, self.m), order=order)

    def activate(self, l, z):
        a = self._zeros(self.sizes[l])
        self.k("activation_forward", l)(self.codes[l - 1], z, a)
        return a

    def layer(self, l, a_prev):
        """P1 (1) then P1 (2) for layer l."""
        z = self._zeros(self.sizes[l])
        self.k("z_forward", l)(self.w[l - 1], self.b[l - 1], a_prev, z)
        return z, self.activate(l, z)

    def forward(self):
        zs, As = [None], [self.x]
        for l in range(1, self.L + 1):
            z, a = self.layer(l, As[-1])
            zs.append(z)
            As.append(a)
        return zs, As

    def losses(self, z, a, fused=None):
        fused = self.fused if fused is None else fused
        out = np.zeros(self.m)
        self.k("example_losses", self.L)(self.cost_code, self.codes[-1], fused, z, a, self.y, out)
        return out

    def data_cost(self, z, a, fused=None):
        return self.k("mean_of", self.L)(self.losses(z, a, fused))

    def l2_term(self):
        return self.k("l2_penalty", self.L)(self.theta, self.w_off, self.w_sizes, self.l2)

    def cost_total(self):
        """J as batch_cost computes it: (1/m) sum_i L_i, plus the L2 term when l2 > 0."""
        zs, As = self.forward()
        J = self.data_cost(zs[-1], As[-1])
        return J + self.l2_term() if self.l2 > 0 else J

    def cost_from_a(self, l, a):
        """The data part of J as a function of A[l] (l < L)."""
        z = None
        for later in range(l + 1, self.L + 1):
            z, a = self.layer(later, a)
        return self.data_cost(z, a)

    def cost_from_z(self, l, z):
        """The data part of J as a function of Z[l]."""
        a = self.activate(l, z)
        for later in range(l + 1, self.L + 1):
            z, a = self.layer(later, a)
        return self.data_cost(z, a)

    def seed(self, a):
        da = self._zeros(self.sizes[-1])
        self.k("cost_seed", self.L)(self.cost_code, a, self.y, da)
        return da

    def dz(self, l, z, a, da):
        """P1 (17) in closed form: dz_backward."""
        dz = self._zeros(self.sizes[l])
        self.k("dz_backward", l)(self.codes[l - 1], z, a, da, dz)
        return dz

    def jacobian(self, l, z, a):
        """da[p,i]/dz[j,i] as jac[i, p, j], read from dz_backward
        (:func:`fnn_numba.equations.implied_jacobian`)."""
        return equations.implied_jacobian(self.k("dz_backward", l), self.codes[l - 1], z, a)

    def fused_delta(self, a):
        dz = self._zeros(self.sizes[-1])
        self.k("output_delta_fused", self.L)(self.codes[-1], a, self.y, dz)
        return dz

    def backward(self, zs, As, dz_out):
        """For l = L..1 from dJ/dZ[L]: P1 (17) (l < L), P1 (13)+(14), P1 (21)."""
        dzs, dws, dbs, das = {}, {}, {}, {}
        for l in range(self.L, 0, -1):
            n, K = self.sizes[l], self.sizes[l - 1]
            dz = dz_out if l == self.L else self.dz(l, zs[l], As[l], das[l])
            dzs[l] = dz
            dw, db = np.zeros((n, K)), np.zeros(n)
            self.k("dw_db_backward", l)(dz, As[l - 1], self.w[l - 1], np.float64(self.l2), dw, db,
                                        np.zeros((n, self.m)), np.zeros((K, self.m)))
            da_prev = self._zeros(K)
            self.k("da_prev_backward", l)(self.w[l - 1], dz, da_prev)
            dws[l], dbs[l], das[l - 1] = dw, db, da_prev
        return dzs, dws, dbs, das


def _central(f, x, step):
    """Central differences of the scalar f() over every entry of x, which f reads."""
    g = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        h = step * max(1.0, abs(old))
        x[idx] = old + h
        up = f()
        x[idx] = old - h
        down = f()
        x[idx] = old
        # the step actually taken, after rounding old +- h
        g[idx] = (up - down) / ((old + h) - (old - h))
    return g


def _fd_jacobian(kn, l, z, step):
    """da[p,i]/dz[j,i] by central differences of the activation kernel; each
    column of z is its own example, so one perturbed row j serves every i."""
    n = z.shape[0]
    jac = np.zeros((kn.m, n, n))
    for j in range(n):
        h = step * np.maximum(1.0, np.abs(z[j, :]))
        zp, zm = np.array(z, order="F"), np.array(z, order="F")
        zp[j, :] += h
        zm[j, :] -= h
        jac[:, :, j] = ((kn.activate(l, zp) - kn.activate(l, zm)) / (zp[j, :] - zm[j, :])).T
    return jac


# ------------------------------------------------------------------- the check
def crosscheck(net, X, Y, *, l2=None, symbolic=None, finite_differences=True, fd_step=FD_STEP):
    """Verify every equation of the derivation on ``net`` and the batch (X, Y).

    Parameters
    ----------
    net : Network
        Any network; it is checked on a float64 copy (a float32 one is noted
        in the report), in which parameters that are exactly zero are replaced
        by random ones (module doc). The network itself is not changed.
    X : array (n0, m)
        Inputs, columns are examples.
    Y : array (nL, m), or m integer labels for categorical cross-entropy
    l2 : float, optional
        lambda of the L2 term; default ``net.l2``.
    symbolic : bool, optional
        Add the SymPy rows (:mod:`fnn_numba.symbolic`) for this network's
        activations, cost and fused pair. Default: when SymPy is installed.
        True without SymPy raises ImportError.
    finite_differences : bool
        The finite-difference witness (O(P + sum_l n[l] m) forward passes).
    fd_step : float
        Relative step of the central differences: ``h = fd_step max(1, |x|)``.

    Returns
    -------
    CrosscheckReport
        One row per (equation, layer), from the registry
        :data:`fnn_numba.equations.EQUATIONS`: Z[l] (P1 (1)), A[l] (P1 (2) /
        P2), L_i and J (P1 (9)), the L2 term, the seed dJ/dA[L]; per layer
        from L down, the Jacobian da[l]/dz[l] and dJ/dZ[l] in closed form
        (P2 (2), (4), (6), (8), ...) and as the contraction P1 (17); the
        fused-versus-general rows at the output when the output and cost are
        a fused pair; dJ/dW[l] (P1 (13)), dJ/db[l] (P1 (14)), dJ/dA[l-1]
        (P1 (21)) down to dJ/dX; the L2 gradient.
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net: expected a fnn_numba.Network, got {type(net).__name__}")
    l2 = net.l2 if l2 is None else check_positive("l2", l2, allow_zero=True)
    fd_step = check_positive("fd_step", fd_step)
    if symbolic is not None and not isinstance(symbolic, (bool, np.bool_)):
        raise TypeError(f"symbolic: expected None, True or False, got {symbolic!r}")
    if not isinstance(finite_differences, (bool, np.bool_)):
        raise TypeError(f"finite_differences: expected True or False, got {finite_differences!r}")
    for key in _SUBSTITUTES.get() or {}:
        if isinstance(key, tuple) and key[1] > net.n_layers:
            raise ValueError(f"kernels: layer of {key!r} must be in 1..{net.n_layers} for this network")

    notes = []
    if np.dtype(net.dtype) != np.float64:
        notes.append(f"the network is {np.dtype(net.dtype).name}; checked on a float64 copy "
                     f"(tolerances are for float64)")
    if getattr(net, "device", "cpu") != "cpu":
        notes.append(f"the network runs on {net.device}; this report checks the CPU kernels "
                     f"(the CUDA twins are tested against them in tests/test_equations.py)")
    net64 = Network(net.sizes, net.activations, net.cost_name, init="zeros", dtype=np.float64, l2=l2)
    net64.weights, net64.biases, replaced = _without_zeros(net.weights, net.biases)
    if replaced:
        notes.append(f"{replaced} parameters were exactly 0 and were replaced by random values "
                     f"(a zero would hide the term it multiplies or adds)")
    X = net64._check_x(X)
    Y = net64._check_y(Y, X.shape[1])
    # one caller at a time inside the parallel kernels under Numba's workqueue layer
    with kernel_section():
        rows, kn = _numeric_rows(net64, X, Y, l2, finite_differences, fd_step, notes)
    names, cost, out = kn.names, kn.cost, kn.names[-1]

    symbolic_rows = []
    if symbolic is not False:
        from .symbolic import (
            activation_rows,
            cost_rows,
            fused_rows,
            layer_rows,
            require_sympy,
            sympy_available,
        )

        if symbolic:
            require_sympy()
        if symbolic or sympy_available():
            symbolic_rows = list(layer_rows()) + activation_rows(sorted(set(names))) \
                + cost_rows([cost]) + (fused_rows([(out, cost)]) if kn.fused else [])
        else:
            notes.append("SymPy is not installed: symbolic rows skipped (pip install sympy)")

    title = (f"network {'-'.join(str(s) for s in net.sizes)}, activations [{', '.join(names)}], "
             f"cost {cost}, m = {X.shape[1]}, l2 = {l2:g}, float64")
    return CrosscheckReport(title, rows, symbolic_rows, notes)


def _without_zeros(weights, biases):
    """float64 copies of the parameters with every exact 0 replaced by a
    seeded random draw (module doc); and how many were replaced."""
    rng = np.random.default_rng(ZERO_PARAMETER_SEED)
    replaced = 0
    out = ([], [])
    for arrays, dest, is_bias in ((weights, out[0], False), (biases, out[1], True)):
        for p in arrays:
            p = np.array(p, dtype=np.float64)
            zero = p == 0
            if zero.any():
                std = ZERO_BIAS_STD if is_bias else 1.0 / math.sqrt(p.shape[1])
                p[zero] = rng.standard_normal(int(zero.sum())) * std
                replaced += int(zero.sum())
            dest.append(p)
    return out[0], out[1], replaced


def _numeric_rows(net64, X, Y, l2, finite_differences, fd_step, notes):
    """The four chains and the rows comparing them (see :func:`crosscheck`)."""
    kn = _KernelNet(net64, X, Y, l2)
    L, names, cost = kn.L, kn.names, kn.cost
    out = names[-1]
    weights = [np.array(w) for w in kn.w]
    biases = [np.array(b) for b in kn.b]

    # the fast chain, as the library runs it
    zs, As = kn.forward()
    losses_k = kn.losses(zs[L], As[L])
    J_k = kn.k("mean_of", L)(losses_k)
    l2_k = kn.l2_term()
    if l2 > 0:
        J_k = J_k + l2_k
    seed_k = kn.seed(As[L])
    dz_general_k = kn.dz(L, zs[L], As[L], seed_k)
    dz_out_k = kn.fused_delta(As[L]) if kn.fused else dz_general_k
    dzs_k, dws_k, dbs_k, das_k = kn.backward(zs, As, dz_out_k)

    # the index-level reference chain (always the general route: seed, then P1 (17))
    zs_r, As_r = reference.forward_reference(weights, biases, names, X)
    zs_r = [None] + zs_r
    losses_r = (reference.fused_losses_reference(out, zs_r[L], Y) if kn.fused
                else reference.losses_reference(cost, As_r[L], Y))
    J_r = reference.cost_reference(cost, As_r[L], Y) + reference.l2_reference(weights, l2)
    seed_r = reference.seed_reference(cost, As_r[L], Y)
    jac_r, dzc_r, dzg_r, dw_r, db_r, da_r = {}, {}, {}, {}, {}, {L: seed_r}
    for l in range(L, 0, -1):
        name = names[l - 1]
        jac_r[l] = reference.jacobian_reference(name, zs_r[l], As_r[l])
        dzc_r[l] = reference.dz_closed_form_reference(name, zs_r[l], As_r[l], da_r[l])
        dzg_r[l] = reference.dz_general_reference(name, zs_r[l], As_r[l], da_r[l])
        dw_r[l] = reference.dw_reference(dzg_r[l], As_r[l - 1]) \
            + reference.l2_gradient_reference(weights[l - 1], l2)
        db_r[l] = reference.db_reference(dzg_r[l])
        da_r[l - 1] = reference.da_prev_reference(weights[l - 1], dzg_r[l])

    # the vectorised NumPy chain
    zs_v, As_v = vectorized.forward_vectorized(weights, biases, names, X)
    zs_v = [None] + zs_v
    J_v = vectorized.cost_vectorized(cost, As_v[L], Y) + vectorized.l2_vectorized(weights, l2)
    seed_v = vectorized.seed_vectorized(cost, As_v[L], Y)
    losses_v = vectorized.losses_vectorized(cost, As_v[L], Y)
    jac_v, dz_v, dw_v, db_v, da_v = {}, {}, {}, {}, {L: seed_v}
    for l in range(L, 0, -1):
        name = names[l - 1]
        jac_v[l] = vectorized.jacobian_vectorized(name, zs_v[l], As_v[l])
        dz_v[l] = vectorized.dz_vectorized(name, zs_v[l], As_v[l], da_v[l])
        dw_v[l] = vectorized.dw_vectorized(dz_v[l], As_v[l - 1]) + l2 * weights[l - 1]
        db_v[l] = vectorized.db_vectorized(dz_v[l])
        da_v[l - 1] = vectorized.da_prev_vectorized(weights[l - 1], dz_v[l])

    # the whole jitted path of Network.gradients / fit
    g = net64.gradients(X, Y)
    y_hat_engine = net64.forward(X)

    fd = _finite_differences(kn, zs, As, fd_step, notes) if finite_differences else {}
    if not finite_differences:
        notes.append("finite differences skipped (finite_differences=False)")

    rows = []
    # forward, P1 (7), (1), (2), (8)
    for l in range(1, L + 1):
        name = names[l - 1]
        rows.append(_row(entry("Z"), zs[l], reference=zs_r[l], numpy=zs_v[l], l=l))
        rows.append(_row(entry("A", name), As[l], reference=As_r[l], numpy=As_v[l],
                         engine=y_hat_engine if l == L else None, l=l, act=name))
    # cost, P1 (9)
    rows.append(_row(entry("L_i"), losses_k, reference=losses_r, numpy=losses_v,
                     detail=f" (fused, from Z[{L}])" if kn.fused else ""))
    rows.append(_row(entry("J"), J_k, reference=J_r, numpy=J_v, engine=g.cost,
                     detail=" + L2 term" if l2 > 0 else ""))
    rows.append(_row(entry("L2 term"), l2_k, reference=reference.l2_reference(weights, l2),
                     numpy=vectorized.l2_vectorized(weights, l2)))
    if kn.fused:
        rows.append(_row(entry("fused L_i"), losses_k, reference=reference.losses_reference(cost, As_r[L], Y),
                         numpy=losses_v, L=L))
    rows.append(_row(entry("seed"), seed_k, reference=seed_r, numpy=seed_v, fd=fd.get(("A", L)), L=L))
    # backward, layer by layer from L
    for l in range(L, 0, -1):
        name = names[l - 1]
        dz_k = dz_general_k if l == L else dzs_k[l]
        rows.append(_row(entry("Jacobian"), kn.jacobian(l, zs[l], As[l]), reference=jac_r[l],
                         numpy=jac_v[l], fd=fd.get(("jac", l)), l=l, act=name))
        rows.append(_row(entry("dZ closed form", name), dz_k, reference=dzc_r[l], numpy=dz_v[l],
                         fd=fd.get(("Z", l)), l=l, act=name))
        # numpy: P1 (18), the per-example product of the Jacobian with dJ/da
        rows.append(_row(entry("dZ"), dz_k, reference=dzg_r[l],
                         numpy=vectorized.dz_from_jacobian_vectorized(da_v[l], jac_v[l]),
                         fd=fd.get(("Z", l)), l=l))
        if l == L and kn.fused:
            rows.append(_row(entry("fused dZ"), dzs_k[L], reference=dzg_r[L], numpy=dz_v[L],
                             fd=fd.get(("Z", L)), L=L))
        rows.append(_row(entry("dW"), dws_k[l], reference=dw_r[l], numpy=dw_v[l], fd=fd.get(("W", l)),
                         engine=g.weights[l - 1], l=l))
        rows.append(_row(entry("db"), dbs_k[l], reference=db_r[l], numpy=db_v[l], fd=fd.get(("b", l)),
                         engine=g.biases[l - 1], l=l))
        rows.append(_row(entry("dA"), das_k[l - 1], reference=da_r[l - 1], numpy=da_v[l - 1],
                         fd=fd.get(("A", l - 1)), engine=g.inputs if l == 1 else None, l=l,
                         head="dJ/dX = " if l == 1 else ""))
    rows.append(_l2_gradient_row(kn, weights, l2, fd_step if finite_differences else None))
    return rows, kn


def _finite_differences(kn, zs, As, fd_step, notes):
    """Central differences of the kernels' own cost (and of the activation
    kernel, for the Jacobians), keyed ("W"|"b"|"Z"|"jac"|"A", layer)."""
    L, names = kn.L, kn.names
    fd = {}
    theta_g = _central(kn.cost_total, kn.theta, fd_step)
    for l in range(1, L + 1):
        fd[("W", l)] = theta_g[kn.w_off[l - 1]:kn.w_off[l - 1] + kn.w_sizes[l - 1]].reshape(kn.w[l - 1].shape)
        start = kn.w_off[l - 1] + kn.w_sizes[l - 1]
        fd[("b", l)] = theta_g[start:start + kn.sizes[l]]
        z = np.array(zs[l], order="F")
        fd[("Z", l)] = _central(lambda l=l, z=z: kn.cost_from_z(l, z), z, fd_step)
        fd[("jac", l)] = _fd_jacobian(kn, l, zs[l], fd_step)
    for l in range(0, L):
        a = np.array(As[l], order="F")
        fd[("A", l)] = _central(lambda l=l, a=a: kn.cost_from_a(l, a), a, fd_step)
    a_out = np.array(As[L], order="F")
    fd[("A", L)] = _central(lambda: kn.data_cost(a_out, a_out, fused=False), a_out, fd_step)
    for l in range(1, L + 1):
        if names[l - 1] in KINKED:
            closest = float(np.min(np.abs(zs[l])))
            if closest < KINK_MARGIN:
                notes.append(f"layer {l} ({names[l - 1]}) has |z| = {closest:.1e} near its kink at 0: "
                             f"finite differences there may disagree")
    return fd


def _l2_gradient_row(kn, weights, l2, fd_step):
    """d/dW (l2/2) ||W||^2 = l2 W, for every layer at once: dw_db_backward
    with dJ/dZ = 0 returns exactly its L2 share."""
    fast, ref, fd = [], [], []
    for l in range(1, kn.L + 1):
        n, K = kn.sizes[l], kn.sizes[l - 1]
        dw, db = np.zeros((n, K)), np.zeros(n)
        kn.k("dw_db_backward", l)(np.zeros((n, 1), order="F"), np.zeros((K, 1), order="F"), kn.w[l - 1],
                                  np.float64(l2), dw, db, np.zeros((n, 1)), np.zeros((K, 1)))
        fast.append(dw.ravel())
        ref.append(reference.l2_gradient_reference(weights[l - 1], l2).ravel())
    if fd_step is not None:
        fd_all = _central(lambda: kn.k("l2_penalty", kn.L)(kn.theta, kn.w_off, kn.w_sizes, l2),
                          kn.theta, fd_step)
        fd = [fd_all[kn.w_off[l]:kn.w_off[l] + kn.w_sizes[l]] for l in range(kn.L)]
    return _row(entry("L2 gradient"), np.concatenate(fast), reference=np.concatenate(ref),
                numpy=np.concatenate([vectorized.l2_gradient_vectorized(w, l2).ravel() for w in weights]),
                fd=np.concatenate(fd) if fd else None)


# ------------------------------------------------------------------------- CLI
ALL_ACTIVATIONS = tuple(ACTIVATIONS)
#: output activation of each cost's default network (fused where a fused pair exists)
DEFAULT_OUTPUT = {"squared_error": "identity", "binary_cross_entropy": "sigmoid",
                  "categorical_cross_entropy": "softmax", "poisson": "exp"}
DEFAULT_SIZES = (4, 6, 5, 7, 3)


def add_cli_arguments(parser):
    """The options of ``fnn-numba crosscheck`` (``python -m fnn_numba crosscheck``)."""
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), metavar="N",
                        help="layer sizes n0 n1 ... nL (default: %(default)s)")
    parser.add_argument("--activations", nargs="+", metavar="NAME",
                        help="one activation per layer; default: the hidden layers of the networks "
                             "cycle through every activation and each cost gets its usual output")
    parser.add_argument("--cost", nargs="+", metavar="NAME",
                        help="costs to check, one network each (default: every cost the output allows)")
    parser.add_argument("-m", "--examples", type=int, default=5, help="examples in the batch (default: 5)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="dtype of the networks (float32 ones are checked on a float64 copy)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the data")
    parser.add_argument("--l2", type=float, default=0.01, help="lambda of the L2 term (default: 0.01)")
    parser.add_argument("--no-symbolic", action="store_true", help="skip the SymPy rows")
    return parser


def _cli_networks(args):
    """[(network, X, Y)] for the options: one network per cost."""
    from .network import Network

    sizes = check_sizes(args.sizes)
    L = len(sizes) - 1
    m = check_positive("--examples", args.examples, integer=True)
    seed = args.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed: expected a non-negative integer, got {seed!r}")
    if args.activations is not None:
        acts = [check_choice("--activations", a, ACTIVATIONS) for a in args.activations]
        if len(acts) != L:
            raise ValueError(f"--activations: expected {L} names (one per layer with weights), got {len(acts)}")
    if args.cost is None:
        if args.activations is None or acts[-1] in UNIT_INTERVAL_OUTPUT:
            costs = list(COSTS)
        else:
            costs = ["squared_error"] + (["poisson"] if acts[-1] in POSITIVE_OUTPUT else [])
    else:
        costs = [check_choice("--cost", c, COSTS, COST_ALIASES) for c in args.cost]
    rng = np.random.default_rng(seed)
    cycle = 0
    out = []
    for cost in costs:
        if args.activations is None:
            hidden = [ALL_ACTIVATIONS[(cycle + h) % len(ALL_ACTIVATIONS)] for h in range(L - 1)]
            cycle += L - 1
            activations = hidden + [DEFAULT_OUTPUT[cost]]
        else:
            activations = acts
        net = Network(sizes, activations, cost, init="xavier", dtype=np.dtype(args.dtype).type,
                      seed=seed, l2=args.l2)
        # O(1) weights and biases, so that every activation sees both signs of z
        net.weights = [rng.standard_normal(w.shape) * 0.7 for w in net.weights]
        net.biases = [rng.standard_normal(b.shape) * 0.3 for b in net.biases]
        X = rng.standard_normal((sizes[0], m))
        n_out = sizes[-1]
        if cost == "squared_error":
            Y = rng.standard_normal((n_out, m))
        elif cost == "binary_cross_entropy":
            Y = rng.uniform(0, 1, (n_out, m))
        elif cost == "poisson":
            # counts, zeros included, so that the y = 0 branch of the term is met
            Y = rng.poisson(1.5, (n_out, m)).astype(float)
        else:
            Y = np.zeros((n_out, m))
            Y[rng.integers(0, n_out, m), np.arange(m)] = 1
        out.append((net, X, Y))
    return out


def cli_main(args):
    """Run ``fnn-numba crosscheck``: print one table per network (and the
    SymPy table), return 0 when every row passed, 1 when one failed, 2 on bad
    options."""
    t0 = time.perf_counter()
    try:
        cases = _cli_networks(args)
    except (ValueError, TypeError) as exc:
        print(f"fnn-numba crosscheck: error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    total = 0
    for net, X, Y in cases:
        report = crosscheck(net, X, Y, symbolic=False)
        print(report.format())
        print()
        total += len(report.rows)
        failed += len(report.failures())
    if not args.no_symbolic:
        from . import symbolic

        if symbolic.sympy_available():
            rows = symbolic.verify()
            print("symbolic (SymPy): each closed form is the derivative of its forward formula")
            print(symbolic.format_rows(rows))
            print()
            total += len(rows)
            failed += sum(not r.verified for r in rows)
        else:
            print("symbolic rows skipped: SymPy is not installed (pip install sympy)\n")
    print(TOLERANCE_LEGEND)
    verdict = "all passed" if failed == 0 else f"{failed} FAILED"
    print(f"crosscheck: {len(cases)} networks, {total} rows, {verdict} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0 if failed == 0 else 1


def main(argv=None):
    """The same as ``fnn-numba crosscheck`` (``python -m fnn_numba crosscheck``) on ``argv``."""
    parser = argparse.ArgumentParser(prog="fnn-numba crosscheck", description=__doc__.splitlines()[0])
    add_cli_arguments(parser)
    return cli_main(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
