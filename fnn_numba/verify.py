"""Cross-checking: every equation of the derivation verified four ways, index by index.

:func:`crosscheck` runs one network on one batch through the fast CPU kernels
of :mod:`fnn_numba.kernels` (and, for the layers with maps, of
:mod:`fnn_numba.conv_kernels`), called one equation at a time in the order
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
about 1e-10; for the seed dJ/dA[L] the step is no larger than 1e-6 times the
distance from the output to the cost's log singularity, a = 0 (and a = 1 for
binary cross-entropy), so that a saturated output keeps the truncation error
small). A slip in a formula (a wrong factor, a transpose, a wrong slope) shows up as a
relative difference of 1e-3 to 1 and fails every witness at once.

Finite differences across a kink (relu, leaky_relu and selu at z = 0) are not
derivatives; the report notes when some ``|z|`` of such a layer is below 1e-4.
The cost of the check is O(P + sum_l n[l] m) forward passes for P parameters,
and the reference is plain Python: use it on small networks and batches.

The rows, their labels and the kernels, references and NumPy forms they
compare come from the equation registry, :data:`fnn_numba.equations.EQUATIONS`.

Layers with maps (:mod:`fnn_numba.layers`: Conv2D, MaxPool2D, AvgPool2D,
Subsample2D, Flatten, Dropout) get one row per equation and layer too:
CNN (1)-(4) (CNN (4) twice: against the direct sum and against the padded,
flipped form), POOL (1)-(4), SUB (1)-(4), FLATTEN and DROP (1), (2), with the
same witnesses. Dropout runs as in training with fixed masks (key
:data:`DROPOUT_KEY`, step 0), each chain drawing them with its own twin of
the mask equation; the net.gradients witness is then the engine's gradient
path in training mode with those masks. A maximum has no derivative where
the two largest entries of a pooling window tie (a relu's zeros often do):
the finite differences of that layer's dJ/dA[l-1] leave those windows out,
and the report notes how many entries that is.

The check verifies the kernels, not the network's values, so it never runs
with a parameter that is exactly zero: a zero would hide the term it
multiplies or adds (with every bias at 0, as in a freshly built network, a
P1 (1) kernel that ignored b would still give the right Z). Such entries
(every bias of a new network, every weight of ``init="zeros"``) are replaced,
in the float64 copy the check runs on, by draws from N(0, 0.3^2) for biases
and N(0, 1/n[l-1]) for weights, from a generator seeded with
:data:`ZERO_PARAMETER_SEED`; the report notes how many were replaced.

With example weights s_i (``sample_weight``, as ``Network.fit`` takes them)
the check is of the weighted cost J = sum_i s_i L_i / S, S = sum_i s_i: the
registry's entries labelled "weighted" (J, the seed (s_i / S) dL_i/dy_hat
and the fused dJ/dZ[L]) take the place of the unweighted ones, the reference
and NumPy chains start from the weighted seed, and the finite differences
and net.gradients witnesses are of the weighted J.

For the tests only, :func:`_with_kernels` substitutes fast kernels by name or
by (name, layer), so that a test can plant a slip into a copy of a kernel and
see which rows fail (``tests/test_crosscheck.py``).
"""

import argparse
import contextlib
import contextvars
import importlib
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import equations, reference, vectorized
from ._threading import kernel_section
from ._validation import check_choice, check_positive, check_sizes
from .activations import ACTIVATIONS, POSITIVE_OUTPUT, UNIT_INTERVAL_OUTPUT
from .costs import COST_ALIASES, COSTS, FUSED_PAIRS
from .equations import entry
from .layers import (
    AVGPOOL2D,
    B_OFF,
    CONV2D,
    DENSE,
    DROPOUT,
    FLATTEN,
    MAXPOOL2D,
    N_OUT,
    SUBSAMPLE2D,
    W_OFF,
    W_SIZE,
    dense_stack,
)
from .layers import parameter_layout as layer_layout

#: the kernels the check calls, by the name :func:`_with_kernels` substitutes them under
KERNEL_NAMES = equations.kernel_names()
#: the module of each kernel (fnn_numba.kernels or fnn_numba.conv_kernels), read at each call
_KERNEL_MODULES = equations.kernel_modules()

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
#: the key of the dropout masks of the check (training step 0; see the module doc)
DROPOUT_KEY = 20240602

#: activation -> (label of its forward formula, label of its closed-form dJ/dZ), from the registry
ACTIVATION_EQUATIONS = {
    name: (entry("A", name).label, entry("dZ closed form", name).label) for name in ACTIVATIONS
}


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
        return [r for r in self.rows if not r.passed] + [
            r for r in self.symbolic_rows if not r.verified
        ]

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
    head = (
        f"{'equation':<9} {'quantity':<34} {'shape':<10} "
        + "".join(f"{w:<17}" for w in WITNESSES)
        + "ok"
    )
    sub = f"{'':<9} {'':<34} {'':<10} " + "".join(f"{'max|d|':<8}{'rel':<9}" for _ in WITNESSES)
    lines = [title] + [f"  note: {n}" for n in notes] + [head, sub.rstrip(), "-" * len(head)]
    for r in rows:
        shape = "x".join(str(s) for s in r.shape) if r.shape else "scalar"
        cells = "".join(_cell(r.comparisons.get(w)) + " " for w in WITNESSES)
        lines.append(
            f"{r.equation:<9} {r.quantity:<34} {shape:<10} {cells}{'ok' if r.passed else 'FAIL'}"
        )
    n_fail = sum(not r.passed for r in rows)
    lines.append(f"{len(rows)} rows, " + ("all passed" if n_fail == 0 else f"{n_fail} FAILED"))
    if symbolic_rows:
        from .symbolic import format_rows

        lines += ["", "symbolic (SymPy):", format_rows(symbolic_rows)]
    return "\n".join(lines)


TOLERANCE_LEGEND = (
    "pass: max|d| <= atol + rtol * max(|fast|, |witness|); (rtol, atol) = "
    "(1e-10, 1e-13) for reference, numpy, net.gradients; (1e-6, 1e-8) for central "
    "finite differences with step 1e-6 max(1, |x|). fast = the kernels of "
    "fnn_numba.kernels called as engine.py calls them."
)


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
    for witness, value in (
        ("reference", reference),
        ("numpy", numpy),
        ("finite diff", fd),
        ("net.gradients", engine),
    ):
        if value is not None:
            comparisons[witness] = _compare(witness, fast, value)
    return Row(eq.label, eq.row_quantity(**where), tuple(fast.shape), comparisons)


# -------------------------------------------------------------- kernel chain
#: the substitutes planted by :func:`_with_kernels`: {name or (name, layer): function}
_SUBSTITUTES = contextvars.ContextVar("fnn_numba_verify_substitutes", default=None)


def _check_kernels(mapping):
    if not hasattr(mapping, "items"):
        raise TypeError(
            f"kernels: expected a mapping from kernel name (or (name, layer)) to a "
            f"function, got {type(mapping).__name__}"
        )
    for key, fn in mapping.items():
        name, layer = key if isinstance(key, tuple) and len(key) == 2 else (key, None)
        if name not in KERNEL_NAMES:
            raise ValueError(
                f"kernels: unknown kernel {key!r}; expected one of {', '.join(KERNEL_NAMES)} "
                f"or a (name, layer) pair"
            )
        if layer is not None and (
            isinstance(layer, bool) or not isinstance(layer, int) or layer < 1
        ):
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
    return getattr(importlib.import_module(_KERNEL_MODULES[name]), name)


class _KernelNet:
    """The network as plain arrays, run through the fast kernels one equation
    at a time, with the calls and layouts of :mod:`fnn_numba.engine`
    (``layer_forward``, ``layer_backward``): any stack of the layers of
    :mod:`fnn_numba.layers`. Dropout runs as in training, with the masks of
    :data:`DROPOUT_KEY` at step 0, drawn once by the mask kernel."""

    def __init__(self, net, X, Y, l2, s=None):
        self.layers = list(net.layers[1:])
        self.L = len(self.layers)
        self.sizes = list(net.sizes)
        self.kinds = [layer.kind for layer in self.layers]
        self.names = list(net.activations)
        self.codes = [ACTIVATIONS[a] if a is not None else -1 for a in self.names]
        self.cost = net.cost_name
        self.cost_code = COSTS[self.cost]
        self.fused = (self.names[-1], self.cost) in FUSED_PAIRS
        self.l2 = float(l2)
        geom, _ = layer_layout(self.layers)
        self.w_off = np.ascontiguousarray(geom[:, W_OFF])
        self.w_sizes = np.ascontiguousarray(geom[:, W_SIZE])
        # theta is the flat [W1, b1, W2, ...] of the engine; the views below
        # read it, so perturbing theta[q] perturbs the network
        self.theta = np.asarray(net.get_parameters(), dtype=np.float64).copy()
        self.w, self.b, self.b_off = [], [], []
        for layer, g in zip(self.layers, geom):
            shapes = dict(layer.parameter_shapes())
            w_shape, b_shape = shapes.get("W"), shapes.get("b")
            self.w.append(
                None
                if w_shape is None
                else self.theta[g[W_OFF] : g[W_OFF] + g[W_SIZE]].reshape(w_shape)
            )
            self.b.append(None if b_shape is None else self.theta[g[B_OFF] : g[B_OFF] + b_shape[0]])
            self.b_off.append(int(g[B_OFF]))
        self.x = X
        self.y = Y
        self.m = X.shape[1]
        # the example weights s_i, or None (the unweighted cost)
        self.s = s
        self.masks = {}
        for l in range(1, self.L + 1):
            if self.kinds[l - 1] == DROPOUT:
                mask = self._zeros(self.sizes[l])
                self.k("dropout_mask", l)(self.layers[l - 1].rate, DROPOUT_KEY, 0, l, mask)
                self.masks[l] = mask

    def k(self, name, layer):
        return _kernel(name, layer)

    def _zeros(self, n, order="F"):
        return np.zeros((n, self.m), order=order)

    def has_activation(self, l):
        return self.names[l - 1] is not None

    def maps(self, l):
        """(C, H, W) of layer l's input ((n, 1, 1) for a column of n numbers)."""
        layer = self.layers[l - 1]
        shape = layer.input_shape
        return shape if len(shape) == 3 else (shape[0], 1, 1)

    def activate(self, l, z):
        a = self._zeros(self.sizes[l])
        self.k("activation_forward", l)(self.codes[l - 1], z, a)
        return a

    def layer(self, l, a_prev):
        """Layer l's forward equations: (Z[l], A[l]). Z[l] is A[l] itself for
        a pooling or flatten layer, the mask for a dropout layer."""
        kind, layer, n = self.kinds[l - 1], self.layers[l - 1], self.sizes[l]
        w, b = self.w[l - 1], self.b[l - 1]
        if kind == DENSE:
            z = self._zeros(n)
            self.k("z_forward", l)(w, b, a_prev, z)
            return z, self.activate(l, z)
        C, H, W = self.maps(l)
        if kind == CONV2D:
            z = self._zeros(n)
            self.k("conv_forward", l)(w, b, a_prev, z, H, W, layer.stride, layer.padding)
            return z, self.activate(l, z)
        if kind == SUBSAMPLE2D:
            z = self._zeros(n)
            self.k("subsample_forward", l)(w, b, a_prev, z, C, H, W, *layer.pool_size)
            return z, self.activate(l, z)
        a = self._zeros(n)
        if kind == MAXPOOL2D:
            self.k("maxpool_forward", l)(a_prev, a, C, H, W, *layer.pool_size)
        elif kind == AVGPOOL2D:
            self.k("avgpool_forward", l)(a_prev, a, C, H, W, *layer.pool_size)
        elif kind == FLATTEN:
            self.k("copy_columns", l)(a_prev, a)
        elif kind == DROPOUT:
            self.k("dropout_apply", l)(self.masks[l], a_prev, a)
            return self.masks[l], a
        else:
            raise ValueError(f"net: {layer.name} has no equations in the cross-check")
        return a, a

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

    def mean_cost(self, losses):
        """J from the L_i: (1/m) sum_i L_i, or sum_i s_i L_i / sum_i s_i with example weights."""
        if self.s is None:
            return self.k("mean_of", self.L)(losses)
        return self.k("weighted_mean_of", self.L)(losses, self.s)

    def data_cost(self, z, a, fused=None):
        return self.mean_cost(self.losses(z, a, fused))

    def l2_term(self):
        return self.k("l2_penalty", self.L)(self.theta, self.w_off, self.w_sizes, self.l2)

    def cost_total(self):
        """J as batch_cost computes it: (1/m) sum_i L_i (sum_i s_i L_i / sum_i s_i
        with example weights), plus the L2 term when l2 > 0."""
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
        """The data part of J as a function of Z[l] (a layer with an activation)."""
        a = self.activate(l, z)
        for later in range(l + 1, self.L + 1):
            z, a = self.layer(later, a)
        return self.data_cost(z, a)

    def seed(self, a):
        """dJ/dA[L]: (1/m) dL_i/dy_hat, or (s_i / S) dL_i/dy_hat with example weights."""
        da = self._zeros(self.sizes[-1])
        if self.s is None:
            self.k("cost_seed", self.L)(self.cost_code, a, self.y, da)
        else:
            self.k("cost_seed_weighted", self.L)(self.cost_code, a, self.y, self.s, da)
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
        """The fused dJ/dZ[L] (each column times s_i / S instead of 1/m with example weights)."""
        dz = self._zeros(self.sizes[-1])
        if self.s is None:
            self.k("output_delta_fused", self.L)(self.codes[-1], a, self.y, dz)
        else:
            self.k("output_delta_fused_weighted", self.L)(self.codes[-1], a, self.y, self.s, dz)
        return dz

    def layer_backward(self, l, dz, a_prev, z):
        """Layer l's backward equations from dJ/dZ[l] (dJ/dA[l] for a layer
        without activation): (dJ/dW[l] or None, dJ/db[l] or None, dJ/dA[l-1])."""
        kind, layer, w = self.kinds[l - 1], self.layers[l - 1], self.w[l - 1]
        l2 = np.float64(self.l2)
        da_prev = self._zeros(self.sizes[l - 1])
        dw = db = None
        if kind == DENSE:
            n, K = self.sizes[l], self.sizes[l - 1]
            dw, db = np.zeros((n, K)), np.zeros(n)
            self.k("dw_db_backward", l)(
                dz, a_prev, w, l2, dw, db, np.zeros((n, self.m)), np.zeros((K, self.m))
            )
            self.k("da_prev_backward", l)(w, dz, da_prev)
            return dw, db, da_prev
        C, H, W = self.maps(l)
        if kind == CONV2D:
            dw, db = np.zeros(w.shape), np.zeros(w.shape[0])
            self.k("conv_dw_db", l)(dz, a_prev, w, l2, dw, db, H, W, layer.stride, layer.padding)
            self.k("conv_da_prev", l)(w, dz, da_prev, H, W, layer.stride, layer.padding)
        elif kind == SUBSAMPLE2D:
            dw, db = np.zeros(C), np.zeros(C)
            self.k("subsample_dbeta_db", l)(dz, a_prev, w, l2, dw, db, C, H, W, *layer.pool_size)
            self.k("subsample_da_prev", l)(w, dz, da_prev, C, H, W, *layer.pool_size)
        elif kind == MAXPOOL2D:
            self.k("maxpool_backward", l)(a_prev, dz, da_prev, C, H, W, *layer.pool_size)
        elif kind == AVGPOOL2D:
            self.k("avgpool_backward", l)(dz, da_prev, C, H, W, *layer.pool_size)
        elif kind == FLATTEN:
            self.k("copy_columns", l)(dz, da_prev)
        elif kind == DROPOUT:
            self.k("dropout_apply", l)(z, dz, da_prev)
        return dw, db, da_prev

    def backward(self, zs, As, dz_out):
        """For l = L..1 from dJ/dZ[L]: layer l's backward equations, then
        P1 (17) for layer l-1 (whose dJ/dZ is its dJ/dA when it has no
        activation), as engine.backward_layers runs them."""
        dzs, dws, dbs, das = {}, {}, {}, {}
        dz = dz_out
        for l in range(self.L, 0, -1):
            dzs[l] = dz
            dws[l], dbs[l], das[l - 1] = self.layer_backward(l, dz, As[l - 1], zs[l])
            if l > 1:
                dz = (
                    self.dz(l - 1, zs[l - 1], As[l - 1], das[l - 1])
                    if self.has_activation(l - 1)
                    else das[l - 1]
                )
        return dzs, dws, dbs, das


def _central(f, x, step, scale=None):
    """Central differences of the scalar f() over every entry of x, which f
    reads, with step ``step max(1, |x|)`` (``step scale[idx]`` when given)."""
    g = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        h = step * (max(1.0, abs(old)) if scale is None else scale[idx])
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
def crosscheck(
    net,
    X,
    Y,
    *,
    l2=None,
    symbolic=None,
    finite_differences=True,
    fd_step=FD_STEP,
    sample_weight=None,
):
    """Verify every equation of the derivation on ``net`` and the batch (X, Y).

    Parameters
    ----------
    net : Network
        Any network; it is checked on a float64 copy (a float32 one is noted
        in the report), in which parameters that are exactly zero are replaced
        by random ones (module doc). The network itself is not changed.
    X : array (n0, m), or (C, H, W, m) for a network whose Input has maps
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
    sample_weight : array of shape (m,), optional
        Example weights s_i (finite, >= 0, not all zero), as ``Network.fit``
        takes them: the check is then of the weighted cost
        J = sum_i s_i L_i / S, S = sum_i s_i (plus the L2 term). Its rows
        "weighted" replace the J, seed and fused dJ/dZ[L] rows
        (:func:`fnn_numba.kernels.weighted_mean_of`, ``cost_seed_weighted``,
        ``output_delta_fused_weighted`` against the weighted references and
        NumPy forms), and every gradient row is checked against the finite
        differences of the weighted J and ``net.gradients(X, Y,
        sample_weight=s)``.

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
        (P1 (21)) down to dJ/dX; the L2 gradient. A layer with maps has the
        rows of its own equations in their place (CNN (1)-(4), POOL (1)-(4),
        SUB (1)-(4), FLATTEN, DROP (1), (2); module doc).

    Raises
    ------
    ValueError
        When the output layer has no activation (a pooling, flatten or
        dropout layer last): the cost is defined on an activation's output.
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
            raise ValueError(
                f"kernels: layer of {key!r} must be in 1..{net.n_layers} for this network"
            )

    notes = []
    if np.dtype(net.dtype) != np.float64:
        notes.append(
            f"the network is {np.dtype(net.dtype).name}; checked on a float64 copy "
            f"(tolerances are for float64)"
        )
    if getattr(net, "device", "cpu") != "cpu":
        notes.append(
            f"the network runs on {net.device}; this report checks the CPU kernels "
            f"(the CUDA twins are tested against them in tests/test_equations.py)"
        )
    if net.activations[-1] is None:
        raise ValueError(
            f"net: the output layer ({net.layers[-1].name}) has no activation; the "
            f"check starts from the cost of an activation's output"
        )
    net64 = Network(net.layers, cost=net.cost_name, init="zeros", dtype=np.float64, l2=l2)
    net64.weights, net64.biases, replaced = _without_zeros(net.weights, net.biases)
    if replaced:
        notes.append(
            f"{replaced} parameters were exactly 0 and were replaced by random values "
            f"(a zero would hide the term it multiplies or adds)"
        )
    X = net64._check_x(X)
    Y = net64._check_y(Y, X.shape[1])
    s = net64._check_sample_weight(sample_weight, X.shape[1])
    if s is not None:
        notes.append(
            "example weights s_i given: J = sum_i s_i L_i / sum_i s_i, its seed and fused "
            "delta scaled by s_i / sum_i s_i (the rows labelled weighted)"
        )
    # one caller at a time inside the parallel kernels under Numba's workqueue layer
    if _has_dropout(net64):
        notes.append(
            f"dropout runs as in training, with the masks of key {DROPOUT_KEY} at step 0; "
            f"net.gradients is the engine's path in training mode with those masks"
        )
    with kernel_section():
        rows, kn = _numeric_rows(net64, X, Y, l2, finite_differences, fd_step, notes, s)
    names, cost, out = [a for a in kn.names if a is not None], kn.cost, kn.names[-1]

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
            symbolic_rows = (
                list(layer_rows())
                + activation_rows(sorted(set(names)))
                + cost_rows([cost])
                + (fused_rows([(out, cost)]) if kn.fused else [])
            )
        else:
            notes.append("SymPy is not installed: symbolic rows skipped (pip install sympy)")

    if all(layer.kind == DENSE for layer in net.layers[1:]):
        arch = f"{'-'.join(str(s) for s in net.sizes)}, activations [{', '.join(names)}]"
    else:
        arch = describe_layers(net.layers)
    weighted = ", weighted by sample_weight" if s is not None else ""
    title = f"network {arch}, cost {cost}{weighted}, m = {X.shape[1]}, l2 = {l2:g}, float64"
    return CrosscheckReport(title, rows, symbolic_rows, notes)


def describe_layers(layers):
    """A network's layers in one line: "1x8x8 -> conv 4@3x3 p1 relu -> maxpool 2x2 -> ..."."""
    parts = ["x".join(str(s) for s in layers[0].shape)]
    for layer in layers[1:]:
        kind = layer.kind
        if kind == DENSE:
            parts.append(f"dense {layer.units} {layer.activation}")
        elif kind == CONV2D:
            kh, kw = layer.kernel_size
            parts.append(
                f"conv {layer.filters}@{kh}x{kw}"
                + (f" s{layer.stride}" if layer.stride > 1 else "")
                + (f" p{layer.padding}" if layer.padding else "")
                + f" {layer.activation}"
            )
        elif kind in (MAXPOOL2D, AVGPOOL2D, SUBSAMPLE2D):
            word = {MAXPOOL2D: "maxpool", AVGPOOL2D: "avgpool", SUBSAMPLE2D: "subsample"}[kind]
            act = f" {layer.activation}" if kind == SUBSAMPLE2D else ""
            parts.append(f"{word} {layer.pool_size[0]}x{layer.pool_size[1]}{act}")
        elif kind == FLATTEN:
            parts.append("flatten")
        else:
            parts.append(f"dropout {layer.rate:g}")
    return " -> ".join(parts)


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
                # a weight's fan-in: the entries one output reads (c, u, v for a convolution)
                fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 1
                std = ZERO_BIAS_STD if is_bias else 1.0 / math.sqrt(fan_in)
                p[zero] = rng.standard_normal(int(zero.sum())) * std
                replaced += int(zero.sum())
            dest.append(p)
    return out[0], out[1], replaced


def _maps(c, shape):
    """(C H W, m) columns as (C, H, W, m) maps."""
    return np.asarray(c).reshape(tuple(shape) + (c.shape[1],))


def _columns(a):
    """(C, H, W, m) maps as (C H W, m) columns."""
    return np.asarray(a).reshape(-1, a.shape[-1])


#: the registry roles of each layer kind's forward equation, parameter
#: gradients and dJ/dA[l-1] (the Dense ones are the P1 rows)
_FORWARD_ROLE = {
    DENSE: "Z",
    CONV2D: "conv Z",
    SUBSAMPLE2D: "subsample Z",
    MAXPOOL2D: "max pool",
    AVGPOOL2D: "avg pool",
    FLATTEN: "flatten",
    DROPOUT: "dropout",
}
_GRADIENT_ROLES = {
    DENSE: ("dW", "db"),
    CONV2D: ("conv dW", "conv db"),
    SUBSAMPLE2D: ("subsample dbeta", "subsample db"),
}
_DA_ROLES = {
    DENSE: ("dA",),
    CONV2D: ("conv dA", "conv dA flipped"),
    SUBSAMPLE2D: ("subsample dA",),
    MAXPOOL2D: ("max pool dA",),
    AVGPOOL2D: ("avg pool dA",),
    FLATTEN: ("unflatten dA",),
    DROPOUT: ("dropout dA",),
}


def _twin_chain(kn, twin, weights, biases):
    """The whole network by one twin of the registry, ``twin`` "reference"
    (the index-level loops, always the general route: seed, then P1 (17))
    or "vectorized" (the NumPy forms, the closed-form dJ/dZ), layer by
    layer from the registry entries of each layer's equations, as an
    independent chain of its own. Returns a dict of per-layer dicts."""
    L, X, Y, cost = kn.L, kn.x, kn.y, kn.cost

    def fn(role, variant=None):
        return getattr(entry(role, variant), twin)

    def forward(l, a_prev):
        kind, layer, w, b, name = (
            kn.kinds[l - 1],
            kn.layers[l - 1],
            weights[l - 1],
            biases[l - 1],
            kn.names[l - 1],
        )
        shape = kn.maps(l)
        f = fn(
            _FORWARD_ROLE[kind],
            {MAXPOOL2D: "max", AVGPOOL2D: "avg", SUBSAMPLE2D: "subsample"}.get(kind),
        )
        if kind == DENSE:
            z = f(w, b, a_prev)
        elif kind == CONV2D:
            z = _columns(f(w, b, _maps(a_prev, shape), layer.stride, layer.padding))
        elif kind == SUBSAMPLE2D:
            z = _columns(f(w, b, _maps(a_prev, shape), layer.pool_size))
        elif kind in (MAXPOOL2D, AVGPOOL2D):
            a = _columns(f(_maps(a_prev, shape), layer.pool_size))
            return a, a, None
        elif kind == FLATTEN:
            a = f(_maps(a_prev, shape))
            return a, a, None
        else:  # dropout: its mask by this twin, then DROP (1)
            mask = fn("dropout mask")(layer.rate, DROPOUT_KEY, 0, l, kn.sizes[l], kn.m)
            return mask, f(a_prev, mask != 0, layer.rate), mask
        return z, fn("A", name)(name, z), None

    def backward(l, dz, a_prev, z):
        """(dW, db, dA[l-1], the flipped form of CNN (4) or None)."""
        kind, layer, w = kn.kinds[l - 1], kn.layers[l - 1], weights[l - 1]
        shape = kn.maps(l)
        roles = _GRADIENT_ROLES.get(kind)
        dw = db = flipped = None
        if kind == DENSE:
            dw, db, da = fn("dW")(dz, a_prev), fn("db")(dz), fn("dA")(w, dz)
        elif kind == CONV2D:
            out = _maps(dz, (w.shape[0],) + tuple(layer.output_shape[1:]))
            dw = fn(roles[0])(
                out, _maps(a_prev, shape), layer.kernel_size, layer.stride, layer.padding
            )
            db = fn(roles[1])(out)
            da = _columns(fn("conv dA")(w, out, shape, layer.stride, layer.padding))
            flipped = _columns(fn("conv dA flipped")(w, out, shape, layer.stride, layer.padding))
        elif kind == SUBSAMPLE2D:
            out = _maps(dz, layer.output_shape)
            dw, db = fn(roles[0])(out, _maps(a_prev, shape), layer.pool_size), fn(roles[1])(out)
            da = _columns(fn("subsample dA", "subsample")(w, out, shape, layer.pool_size))
        elif kind == MAXPOOL2D:
            da = _columns(
                fn("max pool dA", "max")(
                    _maps(a_prev, shape), _maps(dz, layer.output_shape), layer.pool_size
                )
            )
        elif kind == AVGPOOL2D:
            da = _columns(
                fn("avg pool dA", "avg")(_maps(dz, layer.output_shape), shape, layer.pool_size)
            )
        elif kind == FLATTEN:
            da = _columns(fn("unflatten dA")(dz, shape))
        else:
            da = fn("dropout dA")(dz, z != 0, layer.rate)
        if dw is not None:
            dw = dw + fn("L2 gradient")(w, kn.l2)
        return dw, db, da, flipped

    c = dict(
        z={}, a={0: X}, mask={}, jac={}, dzc={}, dzg={}, dz={}, dw={}, db={}, da={}, flipped={}
    )
    for l in range(1, L + 1):
        c["z"][l], c["a"][l], mask = forward(l, c["a"][l - 1])
        if mask is not None:
            c["mask"][l] = mask
    out = kn.names[-1]
    a_out = c["a"][L]
    params = [w for w in weights if w is not None]
    if twin == "reference":
        c["losses"] = (
            reference.fused_losses_reference(out, c["z"][L], Y)
            if kn.fused
            else reference.losses_reference(cost, a_out, Y)
        )
    else:
        c["losses"] = vectorized.losses_vectorized(cost, a_out, Y)
    if kn.s is None:
        c["J"] = fn("J", cost)(cost, a_out, Y) + fn("L2 term")(params, kn.l2)
        c["da"][L] = fn("seed", cost)(cost, a_out, Y)
    else:
        c["J"] = fn("weighted J", cost)(cost, a_out, Y, kn.s) + fn("L2 term")(params, kn.l2)
        c["da"][L] = fn("weighted seed", cost)(cost, a_out, Y, kn.s)
    for l in range(L, 0, -1):
        z, a, da = c["z"][l], c["a"][l], c["da"][l]
        name = kn.names[l - 1]
        if name is None:
            dz = da
        else:
            c["jac"][l] = fn("Jacobian")(name, z, a)
            c["dzc"][l] = fn("dZ closed form", name)(name, z, a, da)
            if twin == "reference":
                c["dzg"][l] = reference.dz_general_reference(name, z, a, da)
                dz = c["dzg"][l]
            else:
                # P1 (18), the per-example product of the Jacobian with dJ/da
                c["dzg"][l] = vectorized.dz_from_jacobian_vectorized(da, c["jac"][l])
                dz = c["dzc"][l]
        c["dz"][l] = dz
        c["dw"][l], c["db"][l], c["da"][l - 1], c["flipped"][l] = backward(l, dz, c["a"][l - 1], z)
    return c


def _has_dropout(net):
    return any(layer.kind == DROPOUT and layer.rate > 0 for layer in net.layers[1:])


def _engine_witness(net64, X, Y, s=None):
    """(A[L], gradients) of the whole jitted path: ``net.forward`` and
    ``net.gradients`` (with ``sample_weight=s`` when s is given); for a
    network with dropout, the same drivers of
    :mod:`fnn_numba.engine` in training mode with the check's masks
    (key :data:`DROPOUT_KEY`, step 0), as ``fit`` runs them."""
    if not _has_dropout(net64):
        return net64.forward(X), net64.gradients(X, Y, sample_weight=s)
    from . import engine
    from .network import Gradients

    backend, geom, m = net64._backend, net64._geom, X.shape[1]
    model = backend.model()._replace(training=True, rng=np.array([DROPOUT_KEY, 0], dtype=np.int64))
    grads, dx, J = backend.gradients(X, Y, s, model=model)
    buf, L = backend.buffers(m, "gradients"), geom.shape[0]
    y_hat = engine.view_f(buf.ws, buf.ws_off[engine.A, L], geom[L - 1, N_OUT], m).copy(order="F")
    weights, biases = net64._unflatten(grads)
    return y_hat, Gradients(weights, biases, dx, J)


def _numeric_rows(net64, X, Y, l2, finite_differences, fd_step, notes, s=None):
    """The four chains and the rows comparing them (see :func:`crosscheck`);
    with example weights ``s``, of the weighted cost."""
    kn = _KernelNet(net64, X, Y, l2, s)
    L, names, cost = kn.L, kn.names, kn.cost
    weights = [None if w is None else np.array(w) for w in kn.w]
    biases = [None if b is None else np.array(b) for b in kn.b]

    # the fast chain, as the library runs it
    zs, As = kn.forward()
    losses_k = kn.losses(zs[L], As[L])
    J_k = kn.mean_cost(losses_k)
    l2_k = kn.l2_term()
    if l2 > 0:
        J_k = J_k + l2_k
    seed_k = kn.seed(As[L])
    dz_general_k = kn.dz(L, zs[L], As[L], seed_k)
    dz_out_k = kn.fused_delta(As[L]) if kn.fused else dz_general_k
    dzs_k, dws_k, dbs_k, das_k = kn.backward(zs, As, dz_out_k)

    # the index-level reference chain and the vectorised NumPy chain
    r = _twin_chain(kn, "reference", weights, biases)
    v = _twin_chain(kn, "vectorized", weights, biases)

    # the whole jitted path of Network.gradients / fit
    y_hat_engine, g = _engine_witness(net64, X, Y, s)
    # the engine's gradients of each parametrised layer, by layer
    param_index = {}
    for l in range(1, L + 1):
        if kn.w[l - 1] is not None:
            param_index[l] = len(param_index)

    fd = _finite_differences(kn, zs, As, fd_step, notes) if finite_differences else {}
    if not finite_differences:
        notes.append("finite differences skipped (finite_differences=False)")

    rows = []
    # forward, P1 (7), (1), (2), (8) and the layers' own forward equations
    for l in range(1, L + 1):
        name, kind = names[l - 1], kn.kinds[l - 1]
        out = y_hat_engine if l == L else None
        if kind == DROPOUT:
            rows.append(
                _row(entry("dropout mask"), zs[l], reference=r["mask"][l], numpy=v["mask"][l], l=l)
            )
        eq = entry(
            _FORWARD_ROLE[kind],
            {MAXPOOL2D: "max", AVGPOOL2D: "avg", SUBSAMPLE2D: "subsample"}.get(kind),
        )
        if name is None:
            rows.append(_row(eq, As[l], reference=r["a"][l], numpy=v["a"][l], engine=out, l=l))
            continue
        rows.append(_row(eq, zs[l], reference=r["z"][l], numpy=v["z"][l], l=l))
        rows.append(
            _row(
                entry("A", name),
                As[l],
                reference=r["a"][l],
                numpy=v["a"][l],
                engine=out,
                l=l,
                act=name,
            )
        )
    # cost, P1 (9)
    rows.append(
        _row(
            entry("L_i"),
            losses_k,
            reference=r["losses"],
            numpy=v["losses"],
            detail=f" (fused, from Z[{L}])" if kn.fused else "",
        )
    )
    # with example weights, the weighted entries replace J, the seed and the fused delta
    weighted = "weighted " if s is not None else ""
    rows.append(
        _row(
            entry(weighted + "J"),
            J_k,
            reference=r["J"],
            numpy=v["J"],
            engine=g.cost,
            detail=" + L2 term" if l2 > 0 else "",
        )
    )
    params = [w for w in weights if w is not None]
    rows.append(
        _row(
            entry("L2 term"),
            l2_k,
            reference=reference.l2_reference(params, l2),
            numpy=vectorized.l2_vectorized(params, l2),
        )
    )
    if kn.fused:
        rows.append(
            _row(
                entry("fused L_i"),
                losses_k,
                reference=reference.losses_reference(cost, r["a"][L], Y),
                numpy=v["losses"],
                L=L,
            )
        )
    rows.append(
        _row(
            entry(weighted + "seed"),
            seed_k,
            reference=r["da"][L],
            numpy=v["da"][L],
            fd=fd.get(("A", L)),
            L=L,
        )
    )
    # backward, layer by layer from L
    for l in range(L, 0, -1):
        name, kind = names[l - 1], kn.kinds[l - 1]
        if name is not None:
            dz_k = dz_general_k if l == L else dzs_k[l]
            rows.append(
                _row(
                    entry("Jacobian"),
                    kn.jacobian(l, zs[l], As[l]),
                    reference=r["jac"][l],
                    numpy=v["jac"][l],
                    fd=fd.get(("jac", l)),
                    l=l,
                    act=name,
                )
            )
            rows.append(
                _row(
                    entry("dZ closed form", name),
                    dz_k,
                    reference=r["dzc"][l],
                    numpy=v["dzc"][l],
                    fd=fd.get(("Z", l)),
                    l=l,
                    act=name,
                )
            )
            rows.append(
                _row(
                    entry("dZ"),
                    dz_k,
                    reference=r["dzg"][l],
                    numpy=v["dzg"][l],
                    fd=fd.get(("Z", l)),
                    l=l,
                )
            )
            if l == L and kn.fused:
                rows.append(
                    _row(
                        entry(weighted + "fused dZ"),
                        dzs_k[L],
                        reference=r["dzg"][L],
                        numpy=v["dzc"][L],
                        fd=fd.get(("Z", L)),
                        L=L,
                    )
                )
        if kind in _GRADIENT_ROLES:
            dw_role, db_role = _GRADIENT_ROLES[kind]
            p = param_index[l]
            rows.append(
                _row(
                    entry(dw_role),
                    dws_k[l],
                    reference=r["dw"][l],
                    numpy=v["dw"][l],
                    fd=fd.get(("W", l)),
                    engine=g.weights[p],
                    l=l,
                )
            )
            rows.append(
                _row(
                    entry(db_role),
                    dbs_k[l],
                    reference=r["db"][l],
                    numpy=v["db"][l],
                    fd=fd.get(("b", l)),
                    engine=g.biases[p],
                    l=l,
                )
            )
        fd_da = fd.get(("A", l - 1))
        if ("tied", l) in fd:
            # only the windows with one maximum have a derivative to measure
            fd_da = np.where(fd[("tied", l)], das_k[l - 1], fd_da)
        for role in _DA_ROLES[kind]:
            # the flipped form of CNN (4) is kept by layer, dJ/dA by the layer it belongs to
            key, at = ("flipped", l) if role == "conv dA flipped" else ("da", l - 1)
            rows.append(
                _row(
                    entry(role),
                    das_k[l - 1],
                    reference=r[key][at],
                    numpy=v[key][at],
                    fd=fd_da,
                    engine=g.inputs.reshape(das_k[0].shape) if l == 1 else None,
                    l=l,
                    head="dJ/dX = " if l == 1 else "",
                )
            )
    rows.append(_l2_gradient_row(kn, weights, l2, fd_step if finite_differences else None))
    return rows, kn


def _finite_differences(kn, zs, As, fd_step, notes):
    """Central differences of the kernels' own cost (and of the activation
    kernel, for the Jacobians), keyed ("W"|"b"|"Z"|"jac"|"A", layer)."""
    L, names = kn.L, kn.names
    fd = {}
    theta_g = _central(kn.cost_total, kn.theta, fd_step)
    for l in range(1, L + 1):
        w, b = kn.w[l - 1], kn.b[l - 1]
        if w is not None:
            fd[("W", l)] = theta_g[kn.w_off[l - 1] : kn.w_off[l - 1] + w.size].reshape(w.shape)
            fd[("b", l)] = theta_g[kn.b_off[l - 1] : kn.b_off[l - 1] + b.size]
        if names[l - 1] is not None:
            z = np.array(zs[l], order="F")
            fd[("Z", l)] = _central(lambda l=l, z=z: kn.cost_from_z(l, z), z, fd_step)
            fd[("jac", l)] = _fd_jacobian(kn, l, zs[l], fd_step)
    for l in range(0, L):
        a = np.array(As[l], order="F")
        fd[("A", l)] = _central(lambda l=l, a=a: kn.cost_from_a(l, a), a, fd_step)
    a_out = np.array(As[L], order="F")
    fd[("A", L)] = _central(
        lambda: kn.data_cost(a_out, a_out, fused=False),
        a_out,
        fd_step,
        _seed_step_scale(kn.cost, a_out),
    )
    for l in range(1, L + 1):
        if names[l - 1] in KINKED:
            closest = float(np.min(np.abs(zs[l])))
            if closest < KINK_MARGIN:
                notes.append(
                    f"layer {l} ({names[l - 1]}) has |z| = {closest:.1e} near its kink at 0: "
                    f"finite differences there may disagree"
                )
        if kn.kinds[l - 1] == MAXPOOL2D:
            tied = _max_pool_ties(kn, l, As[l - 1])
            if tied.any():
                fd[("tied", l)] = tied
                notes.append(
                    f"layer {l} (max pool): {int(tied.sum())} entries of A[{l - 1}] lie in windows "
                    f"whose two largest entries are within {KINK_MARGIN:g} (ties: a relu's zeros); "
                    f"the maximum has no derivative there, and the finite differences of "
                    f"dJ/dA[{l - 1}] leave them out (the reference and numpy witnesses check them)"
                )
    return fd


def _seed_step_scale(cost, a):
    """Per-entry scale of the seed's finite-difference step: max(1, |a|),
    but no more than the distance from a to where the cost's log is singular
    (a = 0 for the cross-entropies and poisson, also a = 1 for binary
    cross-entropy). A fixed step near a saturated output would reach across
    the log's steep part (truncation error ~ (h / a)^2); a step scaled with
    the distance keeps that error ~ 1e-12 at every a."""
    scale = np.maximum(1.0, np.abs(a))
    if cost in ("binary_cross_entropy", "categorical_cross_entropy", "poisson"):
        scale = np.minimum(scale, np.abs(a))
    if cost == "binary_cross_entropy":
        scale = np.minimum(scale, np.abs(1.0 - a))
    # an output exactly at the singularity has no derivative to measure; keep the step positive
    return np.maximum(scale, np.finfo(np.float64).tiny)


def _max_pool_ties(kn, l, a_prev):
    """A boolean (C H W, m) column: the entries of max-pooling windows whose
    largest and second largest entries are less than :data:`KINK_MARGIN`
    apart. There the maximum has a kink: a central difference moves the
    argmax and measures half the gradient, or none."""
    layer = kn.layers[l - 1]
    C, H, W = kn.maps(l)
    P, Q = layer.pool_size
    OH, OW = H // P, W // Q
    tied = np.zeros((C, H, W, kn.m), dtype=bool)
    if P * Q < 2:
        return tied.reshape(-1, kn.m)
    win = _maps(a_prev, (C, H, W))[:, : OH * P, : OW * Q].reshape(C, OH, P, OW, Q, kn.m)
    top = np.sort(win.transpose(0, 1, 3, 5, 2, 4).reshape(C, OH, OW, kn.m, P * Q), axis=-1)
    close = (top[..., -1] - top[..., -2]) < KINK_MARGIN  # (C, OH, OW, m)
    spread = np.repeat(np.repeat(close, P, axis=1), Q, axis=2)
    tied[:, : OH * P, : OW * Q] = spread
    return tied.reshape(-1, kn.m)


def _l2_gradient_row(kn, weights, l2, fd_step):
    """d/dW (l2/2) ||W||^2 = l2 W, for every layer with weights at once: the
    layer's parameter-gradient kernel with dJ/dZ = 0 returns exactly its L2
    share (dw_db_backward, conv_dw_db, subsample_dbeta_db)."""
    fast, ref, num, fd = [], [], [], []
    zero_l2 = np.float64(l2)
    for l in range(1, kn.L + 1):
        w, layer, kind = kn.w[l - 1], kn.layers[l - 1], kn.kinds[l - 1]
        if w is None:
            continue
        n_out, n_in = kn.sizes[l], kn.sizes[l - 1]
        dz, a_prev = np.zeros((n_out, 1), order="F"), np.zeros((n_in, 1), order="F")
        dw, db = np.zeros(w.shape), np.zeros(kn.b[l - 1].shape)
        if kind == DENSE:
            kn.k("dw_db_backward", l)(
                dz, a_prev, w, zero_l2, dw, db, np.zeros((n_out, 1)), np.zeros((n_in, 1))
            )
        elif kind == CONV2D:
            _, H, W = kn.maps(l)
            kn.k("conv_dw_db", l)(dz, a_prev, w, zero_l2, dw, db, H, W, layer.stride, layer.padding)
        else:
            C, H, W = kn.maps(l)
            kn.k("subsample_dbeta_db", l)(dz, a_prev, w, zero_l2, dw, db, C, H, W, *layer.pool_size)
        fast.append(dw.ravel())
        ref.append(reference.l2_gradient_reference(weights[l - 1], l2).ravel())
        num.append(vectorized.l2_gradient_vectorized(weights[l - 1], l2).ravel())
    if fd_step is not None:
        fd_all = _central(
            lambda: kn.k("l2_penalty", kn.L)(kn.theta, kn.w_off, kn.w_sizes, l2), kn.theta, fd_step
        )
        fd = [
            fd_all[kn.w_off[l] : kn.w_off[l] + kn.w_sizes[l]]
            for l in range(kn.L)
            if kn.w[l] is not None
        ]
    return _row(
        entry("L2 gradient"),
        np.concatenate(fast),
        reference=np.concatenate(ref),
        numpy=np.concatenate(num),
        fd=np.concatenate(fd) if fd else None,
    )


# ------------------------------------------------------------------------- CLI
ALL_ACTIVATIONS = tuple(ACTIVATIONS)
#: output activation of each cost's default network (fused where a fused pair exists)
DEFAULT_OUTPUT = {
    "squared_error": "identity",
    "binary_cross_entropy": "sigmoid",
    "categorical_cross_entropy": "softmax",
    "poisson": "exp",
}
DEFAULT_SIZES = (4, 6, 5, 7, 3)


def default_conv_layers():
    """The convolutional network ``fnn-numba crosscheck`` checks by default
    (with the dense ones): every layer type, so every equation of
    ``docs/convolution.rst``: stride 1 and 2, padding 1, an oblong kernel,
    odd and even maps, a remainder row or column dropped by each pooling
    layer, several channels, dropout active (training masks)."""
    from .layers import AvgPool2D, Conv2D, Dense, Dropout, Flatten, Input, MaxPool2D, Subsample2D

    return [
        Input((1, 10, 9)),
        Conv2D(2, 3, padding=1, activation="tanh"),
        MaxPool2D(2),
        Conv2D(3, (3, 2), stride=2, padding=1, activation="elu"),
        AvgPool2D((1, 2)),
        Subsample2D((2, 1), activation="sigmoid"),
        Dropout(0.25),
        Flatten(),
        Dense(4, "softmax"),
    ]


DEFAULT_INPUT_SHAPE = (1, 8, 8)


def _shape(text):
    """--input-shape C,H,W."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected three positive integers C,H,W, got {text!r}")
    return tuple(int(p) for p in parts)


def add_cli_arguments(parser):
    """The options of ``fnn-numba crosscheck`` (``python -m fnn_numba crosscheck``)."""
    from .layers import LAYER_SYNTAX

    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help=f"layer sizes n0 n1 ... nL of a dense network (default: "
        f"{' '.join(str(s) for s in DEFAULT_SIZES)}, and, when no option "
        f"chooses the network, one convolutional network with every layer type)",
    )
    parser.add_argument(
        "--layers",
        metavar="SPEC",
        help="check a convolutional network instead: an Input of --input-shape, the "
        "layers of SPEC (the syntax of 'fnn-numba train --layers', e.g. "
        f"conv4x3p1,maxpool2,flatten; tokens: {LAYER_SYNTAX}), then the dense "
        "layers of --dense",
    )
    parser.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        metavar="C,H,W",
        help="the input maps of --layers (default: 1,8,8)",
    )
    parser.add_argument(
        "--dense",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="sizes of the dense layers after --layers, the last one the output (default: 3)",
    )
    parser.add_argument(
        "--activations",
        nargs="+",
        metavar="NAME",
        help="one activation per layer with an activation (dense; with --layers also "
        "each conv and subsample layer, in order); default: the hidden dense "
        "layers cycle through every activation, --layers keeps its own, and each "
        "cost gets its usual output",
    )
    parser.add_argument(
        "--cost",
        nargs="+",
        metavar="NAME",
        help="costs to check, one network each (default: every cost the output allows)",
    )
    parser.add_argument(
        "-m", "--examples", type=int, default=5, help="examples in the batch (default: 5)"
    )
    parser.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        default="float64",
        help="dtype of the networks (float32 ones are checked on a float64 copy)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the data")
    parser.add_argument(
        "--l2", type=float, default=0.01, help="lambda of the L2 term (default: 0.01)"
    )
    parser.add_argument(
        "--weighted",
        action="store_true",
        help="check the cost with example weights: random s_i in [0.2, 2], the first 0 "
        "(sample_weight; the rows labelled weighted)",
    )
    parser.add_argument("--no-symbolic", action="store_true", help="skip the SymPy rows")
    return parser


def _cli_weight_scale(fan_in):
    """Standard deviation of the command line's random weights (see :func:`_cli_networks`)."""
    return min(0.7, math.sqrt(2.0 / fan_in))


def _cli_targets(cost, n_out, m, rng):
    if cost == "squared_error":
        return rng.standard_normal((n_out, m))
    if cost == "binary_cross_entropy":
        return rng.uniform(0, 1, (n_out, m))
    if cost == "poisson":
        # counts, zeros included, so that the y = 0 branch of the term is met
        return rng.poisson(1.5, (n_out, m)).astype(float)
    Y = np.zeros((n_out, m))
    Y[rng.integers(0, n_out, m), np.arange(m)] = 1
    return Y


def _cli_costs(args, last_activation):
    """The costs of the options: those given, or every cost the output allows."""
    if args.cost is not None:
        return [check_choice("--cost", c, COSTS, COST_ALIASES) for c in args.cost]
    if last_activation is None or last_activation in UNIT_INTERVAL_OUTPUT:
        return list(COSTS)
    return ["squared_error"] + (["poisson"] if last_activation in POSITIVE_OUTPUT else [])


def _conv_layer_lists(args):
    """{cost: [Input, layer, ...]} of ``--layers`` (the layers re-made with
    the activations of ``--activations``, or each cost's usual output)."""
    from . import layers as layers_mod

    shape = args.input_shape or DEFAULT_INPUT_SHAPE
    try:
        stack = layers_mod.parse_layers(args.layers, int(np.prod(shape)), shape)
    except ValueError as exc:
        raise ValueError(f"--layers: {exc}") from exc
    dense = args.dense if args.dense is not None else [3]
    for n in dense:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"--dense: expected positive integers, got {n!r}")
    stack += [layers_mod.Dense(n, "relu") for n in dense]
    with_act = [i for i, layer in enumerate(stack) if i > 0 and layer.activation is not None]
    acts = None
    if args.activations is not None:
        acts = [check_choice("--activations", a, ACTIVATIONS) for a in args.activations]
        if len(acts) != len(with_act):
            raise ValueError(
                f"--activations: expected {len(with_act)} names (one per conv, subsample "
                f"and dense layer), got {len(acts)}"
            )
    out = {}
    for cost in _cli_costs(args, acts[-1] if acts else None):
        names = acts or [stack[i].activation for i in with_act[:-1]] + [DEFAULT_OUTPUT[cost]]
        layers = list(stack)
        for i, name in zip(with_act, names):
            try:
                layers[i] = layers_mod.from_config({**stack[i].config(), "activation": name})
            except ValueError as exc:
                raise ValueError(f"--activations: {exc}") from exc
        out[cost] = layers
    return out


def _cli_networks(args):
    """[(network, X, Y, sample weights or None)] for the options: one network
    per cost (and the default convolutional network when no option chooses
    the network); with ``--weighted``, random example weights, the first 0
    (an example that carries no weight) when m > 1."""
    from .network import Network

    m = check_positive("--examples", args.examples, integer=True)
    seed = args.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed: expected a non-negative integer, got {seed!r}")
    if args.layers is None and (args.input_shape is not None or args.dense is not None):
        raise ValueError(
            "--input-shape and --dense: they describe the network of --layers; give --layers"
        )
    if args.layers is not None and args.sizes is not None:
        raise ValueError(
            "--sizes: give --sizes (a dense network) or --layers (a convolutional one), not both"
        )
    rng = np.random.default_rng(seed)
    dtype = np.dtype(args.dtype).type
    stacks = []
    if args.layers is not None:
        stacks = list(_conv_layer_lists(args).items())
    else:
        sizes = check_sizes(args.sizes if args.sizes is not None else list(DEFAULT_SIZES))
        L = len(sizes) - 1
        if args.activations is not None:
            acts = [check_choice("--activations", a, ACTIVATIONS) for a in args.activations]
            if len(acts) != L:
                raise ValueError(
                    f"--activations: expected {L} names (one per layer with weights), "
                    f"got {len(acts)}"
                )
        cycle = 0
        for cost in _cli_costs(args, acts[-1] if args.activations is not None else None):
            if args.activations is None:
                hidden = [ALL_ACTIVATIONS[(cycle + h) % len(ALL_ACTIVATIONS)] for h in range(L - 1)]
                cycle += L - 1
                activations = hidden + [DEFAULT_OUTPUT[cost]]
            else:
                activations = acts
            stacks.append((cost, dense_stack(sizes, activations)))
        if args.sizes is None and args.activations is None and args.cost is None:
            stacks.append(("categorical_cross_entropy", default_conv_layers()))
    out = []
    for cost, layers in stacks:
        try:
            net = Network(layers, cost=cost, init="xavier", dtype=dtype, seed=seed, l2=args.l2)
        except ValueError as exc:
            if args.layers is None:
                raise
            raise ValueError(f"--layers: {exc}") from exc
        # O(1) weights and biases, so that every activation sees both signs of z; beyond a fan-in
        # of 4 (a conv layer's c, u, v; a dense layer after a flatten) He's sqrt(2 / fan-in), so
        # that z stays O(1) through the layers and the output does not saturate (near a = 0 or 1
        # the finite differences of the seed and the logs of the costs lose their digits)
        net.weights = [
            rng.standard_normal(w.shape) * _cli_weight_scale(int(np.prod(w.shape[1:])))
            for w in net.weights
        ]
        net.biases = [rng.standard_normal(b.shape) * 0.3 for b in net.biases]
        X = rng.standard_normal((net.sizes[0], m))
        Y = _cli_targets(cost, net.sizes[-1], m, rng)
        s = None
        if getattr(args, "weighted", False):
            s = rng.uniform(0.2, 2.0, m)
            s[0] = 0.0 if m > 1 else s[0]
        out.append((net, X, Y, s))
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
    for net, X, Y, s in cases:
        report = crosscheck(net, X, Y, symbolic=False, sample_weight=s)
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
    print(
        f"crosscheck: {len(cases)} networks, {total} rows, {verdict} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return 0 if failed == 0 else 1


def main(argv=None):
    """The same as ``fnn-numba crosscheck`` (``python -m fnn_numba crosscheck``) on ``argv``."""
    parser = argparse.ArgumentParser(
        prog="fnn-numba crosscheck", description=__doc__.splitlines()[0]
    )
    add_cli_arguments(parser)
    return cli_main(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
