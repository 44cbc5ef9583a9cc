"""The equation registry: every equation of the derivation and all of its twins, one entry each.

The derivation is Jonas Lalin, "Feedforward Neural Networks in Depth", part 1
(forward and backward propagation, labels "P1 (n)") and part 2 (activation
functions, "P2 (n)"); the costs, the seed, the fused output deltas and the L2
term are the project's own (``docs/derivation.rst`` states them). Each
:class:`Equation` names

- ``label``: the equation's number ("P1 (13)"), or the project's row label
  ("cost", "seed", "fused", "L2") where the derivation gives none;
- ``quantity``: what it computes ("dJ/dW[l]"); ``role``: a name for it that
  is unique together with the label (:func:`entry` looks entries up by role);
- ``kernel``: the fast CPU kernel of :mod:`fnn_numba.kernels`;
- ``cuda``: the name of its CUDA twin in :mod:`fnn_numba.gpu_kernels`, a
  string resolved only by :meth:`Equation.cuda_kernel` (importing numba-cuda
  is slow and optional); the launcher is ``launch_`` plus the name without
  ``_cuda``;
- ``reference``: the index-level loops of :mod:`fnn_numba.reference`;
- ``vectorized``: the NumPy form of :mod:`fnn_numba.vectorized` (None where
  there is none);
- ``row``: the quantity column of the cross-check report's row, a format
  string over ``l`` (the layer), ``prev`` (l - 1), ``L``, ``act`` (the
  layer's activation) and ``detail``/``head`` (text the report adds);
- ``variants``: the activations, costs or fused (activation, cost) pairs the
  entry covers (an activation's forward formula and closed-form derivative
  carry the label of part 2 where it numbers them, else P1 (2) or P1 (17));
- ``case``: how to draw inputs and call each twin (:class:`Case`), which the
  parametrised twin tests of ``tests/test_equations.py`` run;
- ``formula``: the equation in index notation, for a reader of the entry.

:data:`EQUATIONS` drives the rows of :func:`fnn_numba.verify.crosscheck`, the
twin tests (CPU kernel against reference and NumPy form; CUDA kernel under the
simulator against the CPU kernel) and the equation table of
``docs/derivation.rst``. A new equation (a convolution, a pooling layer) is
one more :class:`Equation` in the tuple, plus a :class:`Case` if its kernels
take a new argument layout.
"""
import importlib
from dataclasses import dataclass

import numpy as np

from . import kernels, reference, vectorized
from .activations import ACTIVATIONS
from .costs import COSTS, FUSED_PAIRS


# ------------------------------------------------------------ twin calls
@dataclass(frozen=True)
class Out:
    """An output argument of a kernel call: allocated as zeros (Fortran
    order, like the engine's workspaces) by :func:`call`."""

    shape: tuple


def _device_module():
    from numba import cuda

    return cuda


def call(fn, *args, device=False):
    """Call ``fn(*args)`` with each :class:`Out` allocated; return the outputs
    (one array, or a tuple), or ``fn``'s return value when there are none.

    With ``device=True``, ``fn`` is a CUDA launcher: NumPy arrays go to the
    device first and the outputs come back to the host."""
    cuda = _device_module() if device else None
    outs, actual = [], []
    for arg in args:
        if isinstance(arg, Out):
            buf = np.zeros(arg.shape, order="F")
            arg = cuda.to_device(buf) if device else buf
            outs.append(arg)
        elif device and isinstance(arg, np.ndarray):
            arg = cuda.to_device(np.asfortranarray(arg) if arg.ndim > 1 else arg)
        actual.append(arg)
    value = fn(*actual)
    if device:
        outs = [o.copy_to_host() for o in outs]
    if not outs:
        return value
    return outs[0] if len(outs) == 1 else tuple(outs)


@dataclass(frozen=True)
class Trial:
    """One draw of an equation's inputs and how each twin computes the
    quantity from them: ``cpu(kernel)``, ``reference(fn)``,
    ``vectorized(fn)`` and ``cuda(launcher)`` each return the quantity as an
    array (``vectorized``/``cuda`` None where the equation has no such twin)."""

    cpu: object
    reference: object
    vectorized: object = None
    cuda: object = None


@dataclass(frozen=True)
class Case:
    """How the twin tests exercise an equation: ``draw(rng, dims, variant)``
    returns a :class:`Trial`; ``dims`` are the shapes the CPU test runs (edge
    tiles, m = 1, n = 1), ``cuda_dims`` the few the simulator runs."""

    draw: object
    dims: tuple
    cuda_dims: tuple


def _f(x):
    return np.asfortranarray(x)


#: (n, K, m) shapes of the layer equations: full and edge 4 x 4 tiles, m = 1, n = 1
LAYER_DIMS = ((1, 1, 1), (3, 5, 1), (1, 7, 4), (4, 4, 4), (5, 9, 8), (9, 4, 7), (13, 17, 11))
#: P1 (13), (14), (21) switch loop order at kernels.DW_OUTER_MAX_BATCH examples and
#: DW_DOT_MIN_ROWS rows; these shapes run both orders, edge tiles of each, and a
#: run of K longer than one outer-product chunk (tests/test_kernels.py checks that)
GEMM_DIMS = LAYER_DIMS + ((6, 530, 9), (133, 9, 70), (5, 9, 390), (16, 7, 384), (17, 9, 385),
                          (19, 6, 388), (130, 9, 6))
#: GEMM tiles of the simulator runs are 8 x 8 with K_TILE 16: edge tiles and two K slices
CUDA_LAYER_DIMS = ((1, 1, 1), (9, 4, 7), (13, 17, 11))
#: (n, m) shapes of the per-column equations
COLUMN_DIMS = ((1, 1), (1, 5), (4, 1), (6, 9))
COST_DIMS = ((1, 1), (3, 1), (1, 6), (5, 7))
CUDA_COLUMN_DIMS = ((1, 5), (4, 3))


def _targets(cost, n, m, rng):
    """Targets valid for ``cost``: real values, probabilities, or one-hot columns."""
    if cost == "squared_error":
        return _f(rng.standard_normal((n, m)))
    if cost == "binary_cross_entropy":
        return _f(rng.uniform(0, 1, (n, m)))
    y = np.zeros((n, m), order="F")
    y[rng.integers(0, n, m), np.arange(m)] = 1
    return y


def _weighted_sum(rng, dims, variant):
    n, K, m = dims
    w, b, a = rng.standard_normal((n, K)), rng.standard_normal(n), _f(rng.standard_normal((K, m)))
    return Trial(cpu=lambda k: call(k, w, b, a, Out((n, m))),
                 reference=lambda f: f(w, b, a), vectorized=lambda f: f(w, b, a),
                 cuda=lambda k: call(k, w, b, a, Out((n, m)), device=True))


def _activation(rng, dims, name):
    n, m = dims
    z = _f(rng.standard_normal((n, m)) * 2)
    code = ACTIVATIONS[name]
    return Trial(cpu=lambda k: call(k, code, z, Out((n, m))),
                 reference=lambda f: f(name, z), vectorized=lambda f: f(name, z),
                 cuda=lambda k: call(k, code, z, Out((n, m)), device=True))


def _activation_inputs(rng, dims, name):
    n, m = dims
    z = _f(rng.standard_normal((n, m)) * 2)
    a = _f(reference.a_reference(name, z))
    return z, a, _f(rng.standard_normal((n, m))), ACTIVATIONS[name]


def _dz_closed(rng, dims, name):
    z, a, da, code = _activation_inputs(rng, dims, name)
    return Trial(cpu=lambda k: call(k, code, z, a, da, Out(z.shape)),
                 reference=lambda f: f(name, z, a, da), vectorized=lambda f: f(name, z, a, da),
                 cuda=lambda k: call(k, code, z, a, da, Out(z.shape), device=True))


def _dz_general(rng, dims, name):
    z, a, da, code = _activation_inputs(rng, dims, name)
    return Trial(cpu=lambda k: call(k, code, z, a, da, Out(z.shape)),
                 reference=lambda f: f(name, z, a, da),
                 vectorized=lambda f: f(da, vectorized.jacobian_vectorized(name, z, a)),
                 cuda=lambda k: call(k, code, z, a, da, Out(z.shape), device=True))


def implied_jacobian(dz_kernel, code, z, a, device=False):
    """da[p,i]/dz[j,i] as jac[i, p, j], read from a dJ/dZ kernel: a unit dJ/dA
    in row q gives dz[j,i] = da[q,i]/dz[j,i]."""
    n, m = z.shape
    jac = np.zeros((m, n, n))
    for q in range(n):
        unit = np.zeros((n, m), order="F")
        unit[q, :] = 1
        jac[:, q, :] = call(dz_kernel, code, z, a, unit, Out((n, m)), device=device).T
    return jac


def _jacobian(rng, dims, name):
    z, a, _, code = _activation_inputs(rng, dims, name)
    return Trial(cpu=lambda k: implied_jacobian(k, code, z, a),
                 reference=lambda f: f(name, z, a), vectorized=lambda f: f(name, z, a),
                 cuda=lambda k: implied_jacobian(k, code, z, a, device=True))


def _cost_inputs(rng, dims, cost):
    n, m = dims
    return _f(rng.uniform(0.05, 0.95, (n, m))), _targets(cost, n, m, rng)


def _losses(rng, dims, cost):
    y_hat, y = _cost_inputs(rng, dims, cost)
    args = (COSTS[cost], ACTIVATIONS["identity"], False, y_hat, y_hat, y, Out((y.shape[1],)))
    return Trial(cpu=lambda k: call(k, *args), reference=lambda f: f(cost, y_hat, y),
                 vectorized=lambda f: f(cost, y_hat, y), cuda=lambda k: call(k, *args, device=True))


def _mean_cost(rng, dims, cost):
    # the mean of the reference's L_i, so that a slip in example_losses cannot reach this entry
    y_hat, y = _cost_inputs(rng, dims, cost)
    losses = reference.losses_reference(cost, y_hat, y)
    return Trial(cpu=lambda k: np.asarray(k(losses)), reference=lambda f: f(cost, y_hat, y),
                 vectorized=lambda f: f(cost, y_hat, y),
                 cuda=lambda k: call(k, losses, Out((3,)), 1, device=True)[1])


def _seed(rng, dims, cost):
    y_hat, y = _cost_inputs(rng, dims, cost)
    return Trial(cpu=lambda k: call(k, COSTS[cost], y_hat, y, Out(y.shape)),
                 reference=lambda f: f(cost, y_hat, y), vectorized=lambda f: f(cost, y_hat, y),
                 cuda=lambda k: call(k, COSTS[cost], y_hat, y, Out(y.shape), device=True))


def _fused_inputs(rng, dims, pair):
    out, cost = pair
    n, m = dims
    if out == "softmax":
        n = max(n, 2)  # a one-unit softmax is constant
    z = _f(rng.standard_normal((n, m)) * 3)
    return out, cost, z, _f(reference.a_reference(out, z)), _targets(cost, n, m, rng)


def _fused_losses(rng, dims, pair):
    out, cost, z, a, y = _fused_inputs(rng, dims, pair)
    args = (COSTS[cost], ACTIVATIONS[out], True, z, a, y, Out((y.shape[1],)))
    return Trial(cpu=lambda k: call(k, *args), reference=lambda f: f(out, z, y),
                 vectorized=lambda f: f(cost, a, y), cuda=lambda k: call(k, *args, device=True))


def _fused_delta(rng, dims, pair):
    out, _, z, a, y = _fused_inputs(rng, dims, pair)
    code = ACTIVATIONS[out]
    return Trial(cpu=lambda k: call(k, code, a, y, Out(a.shape)), reference=lambda f: f(out, a, y),
                 cuda=lambda k: call(k, code, a, y, Out(a.shape), device=True))


def _layer_backward(rng, dims, pick):
    n, K, m = dims
    dz, a, w = _f(rng.standard_normal((n, m))), _f(rng.standard_normal((K, m))), rng.standard_normal((n, K))
    outs = (Out((n, K)), Out((n,)))
    return Trial(cpu=lambda k: call(k, dz, a, w, 0.0, *outs, Out((n, m)), Out((K, m)))[pick],
                 reference=lambda f: f(dz, a) if pick == 0 else f(dz),
                 vectorized=lambda f: f(dz, a) if pick == 0 else f(dz),
                 cuda=lambda k: call(k, dz, a, w, 0.0, *outs, device=True)[pick])


def _dw(rng, dims, variant):
    return _layer_backward(rng, dims, 0)


def _db(rng, dims, variant):
    return _layer_backward(rng, dims, 1)


def _da_prev(rng, dims, variant):
    n, K, m = dims
    w, dz = rng.standard_normal((n, K)), _f(rng.standard_normal((n, m)))
    return Trial(cpu=lambda k: call(k, w, dz, Out((K, m))), reference=lambda f: f(w, dz),
                 vectorized=lambda f: f(w, dz), cuda=lambda k: call(k, w, dz, Out((K, m)), device=True))


def _l2_inputs(rng, sizes):
    from .engine import parameter_layout

    w_off, _, total = parameter_layout(sizes)
    params = rng.standard_normal(total)  # biases included: the term must skip them
    weights = [params[w_off[l]:w_off[l] + sizes[l + 1] * sizes[l]].reshape(sizes[l + 1], sizes[l])
               for l in range(len(sizes) - 1)]
    w_len = np.array([w.size for w in weights], dtype=np.int64)
    return weights, params, w_off.astype(np.int64), w_len, 0.3


def _l2_term(rng, dims, variant):
    weights, params, w_off, w_len, l2 = _l2_inputs(rng, dims)

    def on_device(k):
        blocks = importlib.import_module("fnn_numba.gpu_kernels").REDUCE_BLOCKS
        return call(k, params, w_off, w_len, l2, Out((blocks,)), Out((1,)), 0, device=True)[1][0]

    return Trial(cpu=lambda k: np.asarray(k(params, w_off, w_len, l2)), reference=lambda f: f(weights, l2),
                 vectorized=lambda f: f(weights, l2), cuda=on_device)


def _l2_gradient(rng, dims, variant):
    # dw_db_backward with dJ/dZ = 0 returns exactly the L2 share of P1 (13)
    n, K, m = dims
    w, l2 = rng.standard_normal((n, K)), 0.3
    zeros = (np.zeros((n, m), order="F"), np.zeros((K, m), order="F"))
    return Trial(cpu=lambda k: call(k, *zeros, w, l2, Out((n, K)), Out((n,)), Out((n, m)), Out((K, m)))[0],
                 reference=lambda f: f(w, l2), vectorized=lambda f: f(w, l2),
                 cuda=lambda k: call(k, *zeros, w, l2, Out((n, K)), Out((n,)), device=True)[0])


LAYER = Case(_weighted_sum, LAYER_DIMS, CUDA_LAYER_DIMS)
ACTIVATION = Case(_activation, COLUMN_DIMS, CUDA_COLUMN_DIMS)
JACOBIAN = Case(_jacobian, COLUMN_DIMS, ((3, 2),))
DZ_CLOSED = Case(_dz_closed, COLUMN_DIMS, CUDA_COLUMN_DIMS)
DZ_GENERAL = Case(_dz_general, COLUMN_DIMS, CUDA_COLUMN_DIMS)
LOSSES = Case(_losses, COST_DIMS, CUDA_COLUMN_DIMS)
MEAN_COST = Case(_mean_cost, COST_DIMS, CUDA_COLUMN_DIMS)
SEED = Case(_seed, COST_DIMS, CUDA_COLUMN_DIMS)
L2_TERM = Case(_l2_term, ((3, 1), (4, 6, 5, 3)), ((4, 6, 3),))
FUSED_LOSSES = Case(_fused_losses, ((1, 1), (4, 3), (7, 9)), ((3, 4),))
FUSED_DELTA = Case(_fused_delta, ((1, 1), (4, 3), (7, 9)), ((3, 4),))
DW = Case(_dw, GEMM_DIMS, CUDA_LAYER_DIMS)
DB = Case(_db, GEMM_DIMS, CUDA_LAYER_DIMS)
DA_PREV = Case(_da_prev, GEMM_DIMS, CUDA_LAYER_DIMS)
L2_GRADIENT = Case(_l2_gradient, LAYER_DIMS, ((9, 4, 7),))


# ---------------------------------------------------------------- registry
@dataclass(frozen=True)
class Equation:
    """One equation and its twins; see the module doc for the fields."""

    label: str
    quantity: str
    role: str
    kernel: object
    cuda: str
    reference: object
    vectorized: object
    row: str
    case: Case
    variants: tuple = (None,)
    formula: str = ""

    @property
    def kernel_name(self):
        """The CPU kernel's name in :mod:`fnn_numba.kernels` (the name a test substitutes it under)."""
        return self.kernel.__name__

    @property
    def launcher_name(self):
        """The name of the CUDA launcher in :mod:`fnn_numba.gpu_kernels`."""
        return "launch_" + self.cuda[:-len("_cuda")] if self.cuda else None

    def cuda_kernel(self):
        """The CUDA kernel, imported from :mod:`fnn_numba.gpu_kernels` now."""
        return getattr(importlib.import_module("fnn_numba.gpu_kernels"), self.cuda)

    def cuda_launcher(self):
        """The launcher of the CUDA kernel (grid and block sizes chosen for the shapes)."""
        return getattr(importlib.import_module("fnn_numba.gpu_kernels"), self.launcher_name)

    def row_quantity(self, l=None, L=None, act="", detail="", head=""):
        """The quantity column of the cross-check's row for layer ``l``."""
        return self.row.format(l=l, prev=None if l is None else l - 1, L=L, act=act, detail=detail,
                               head=head)

    @property
    def id(self):
        """A unique name of the entry: its label and role ("P1 (13) dW", "seed")."""
        return self.role if self.role.startswith(self.label) else f"{self.label} {self.role}"

    def twins(self):
        """Every twin's qualified name, in the order CPU, CUDA, reference, NumPy."""
        out = {"cpu": f"fnn_numba.kernels.{self.kernel_name}",
               "cuda": f"fnn_numba.gpu_kernels.{self.cuda}" if self.cuda else None,
               "reference": f"fnn_numba.reference.{self.reference.__name__}",
               "vectorized": (f"fnn_numba.vectorized.{self.vectorized.__name__}"
                              if self.vectorized is not None else None)}
        return out


_ELEMENTWISE_P1 = ("identity", "leaky_relu", "elu", "selu", "exp")
_FUSED = tuple(sorted(FUSED_PAIRS, key=lambda p: p[0]))
_COSTS = tuple(COSTS)


def _act(label, names, forward=True):
    if forward:
        return Equation(label, "A[l]", "A", kernels.activation_forward, "activation_forward_cuda",
                        reference.a_reference, vectorized.a_vectorized, "A[{l}] = {act}(Z[{l}])",
                        ACTIVATION, names, formula="a[j,i] = g_j(z[1,i], ..., z[n,i])")
    return Equation(label, "dJ/dZ[l]", "dZ closed form", kernels.dz_backward, "dz_backward_cuda",
                    reference.dz_closed_form_reference, vectorized.dz_vectorized,
                    "dJ/dZ[{l}] closed form ({act})", DZ_CLOSED, names,
                    formula="dJ/dz[j,i] = dJ/da[j,i] g'(z[j,i]) (element-wise); P2 (8) for softmax")


#: the registry, in the order the cross-check computes the quantities
EQUATIONS = (
    # forward, P1 (1), (2)
    Equation("P1 (1)", "Z[l]", "Z", kernels.z_forward, "z_forward_cuda", reference.z_reference,
             vectorized.z_vectorized, "Z[{l}] = W[{l}] A[{prev}] + b[{l}]", LAYER,
             formula="z[j,i] = sum_k w[j,k] a[k,i] + b[j]"),
    _act("P1 (2)", _ELEMENTWISE_P1),
    _act("P2 (1)", ("relu",)),
    _act("P2 (3)", ("sigmoid",)),
    _act("P2 (5)", ("tanh",)),
    _act("P2 (7)", ("softmax",)),
    # the cost, P1 (9), and the L2 term
    Equation("cost", "L_i", "L_i", kernels.example_losses, "example_losses_cuda",
             reference.losses_reference, vectorized.losses_vectorized, "L_i{detail}", LOSSES, _COSTS, formula="L_i of the cost, per example"),
    Equation("P1 (9)", "J", "J", kernels.mean_of, "mean_of_cuda", reference.cost_reference,
             vectorized.cost_vectorized, "J = (1/m) sum_i L_i{detail}", MEAN_COST, _COSTS, formula="J = (1/m) sum_i L_i"),
    Equation("L2", "L2 term", "L2 term", kernels.l2_penalty, "l2_penalty_cuda", reference.l2_reference,
             vectorized.l2_vectorized, "(l2/2) sum_l ||W[l]||^2", L2_TERM,
             formula="(lambda/2) sum_l ||W[l]||_F^2"),
    Equation("fused", "L_i from Z[L]", "fused L_i", kernels.example_losses, "example_losses_cuda",
             reference.fused_losses_reference, vectorized.losses_vectorized,
             "L_i from Z[{L}] vs general from A[{L}]", FUSED_LOSSES, _FUSED,
             formula="L_i from the logits where the output activation and the cost cancel"),
    Equation("seed", "dJ/dA[L]", "seed", kernels.cost_seed, "cost_seed_cuda", reference.seed_reference,
             vectorized.seed_vectorized, "dJ/dA[{L}] = (1/m) dL_i/dy_hat", SEED, _COSTS,
             formula="dJ/da[j,i] = (1/m) dL_i/dy_hat[j,i]"),
    # backward, P1 (17) and the closed forms of part 2
    Equation("P1 (17)", "da[l]/dz[l]", "Jacobian", kernels.dz_backward, "dz_backward_cuda",
             reference.jacobian_reference, vectorized.jacobian_vectorized,
             "da[{l}]/dz[{l}] Jacobian ({act})", JACOBIAN, tuple(ACTIVATIONS),
             formula="da[p,i]/dz[j,i], implied by the dJ/dZ kernel"),
    _act("P1 (17)", _ELEMENTWISE_P1, forward=False),
    _act("P2 (2)", ("relu",), forward=False),
    _act("P2 (4)", ("sigmoid",), forward=False),
    _act("P2 (6)", ("tanh",), forward=False),
    _act("P2 (8)", ("softmax",), forward=False),
    Equation("P1 (17)", "dJ/dZ[l]", "dZ", kernels.dz_backward, "dz_backward_cuda",
             reference.dz_general_reference, vectorized.dz_from_jacobian_vectorized,
             "dJ/dZ[{l}] = sum_p dJ/dA[{l}] da/dz", DZ_GENERAL, tuple(ACTIVATIONS),
             formula="dJ/dz[j,i] = sum_p dJ/da[p,i] da[p,i]/dz[j,i]"),
    Equation("fused", "dJ/dZ[L]", "fused dZ", kernels.output_delta_fused, "output_delta_fused_cuda",
             reference.fused_delta_reference, None, "dJ/dZ[{L}] fused vs general", FUSED_DELTA, _FUSED, formula="(A - Y)/m; (a_j sum_p y_p - y_j)/m for softmax"),
    Equation("P1 (13)", "dJ/dW[l]", "dW", kernels.dw_db_backward, "dw_db_backward_cuda",
             reference.dw_reference, vectorized.dw_vectorized, "dJ/dW[{l}]", DW,
             formula="dJ/dw[j,k] = sum_i dJ/dz[j,i] a[k,i]"),
    Equation("P1 (14)", "dJ/db[l]", "db", kernels.dw_db_backward, "dw_db_backward_cuda",
             reference.db_reference, vectorized.db_vectorized, "dJ/db[{l}]", DB,
             formula="dJ/db[j] = sum_i dJ/dz[j,i]"),
    Equation("P1 (21)", "dJ/dA[l-1]", "dA", kernels.da_prev_backward, "da_prev_backward_cuda",
             reference.da_prev_reference, vectorized.da_prev_vectorized, "{head}dJ/dA[{prev}]", DA_PREV,
             formula="dJ/da[k,i] = sum_j dJ/dz[j,i] w[j,k]"),
    Equation("L2", "dL2/dW[l]", "L2 gradient", kernels.dw_db_backward, "dw_db_backward_cuda",
             reference.l2_gradient_reference, vectorized.l2_gradient_vectorized,
             "l2 W[l] = d/dW[l] of the L2 term", L2_GRADIENT,
             formula="d/dw[j,k] of the L2 term = lambda w[j,k]"),
)


def entry(role, variant=None):
    """The entry computing ``role`` (for an activation, cost or fused pair ``variant``)."""
    for e in EQUATIONS:
        if e.role == role and (variant is None or variant in e.variants):
            return e
    raise KeyError(f"role: no equation {role!r}" + (f" for {variant!r}" if variant is not None else ""))


def find(label):
    """Every entry labelled ``label`` ("P1 (13)"), in registry order."""
    found = [e for e in EQUATIONS if e.label == label]
    if not found:
        raise KeyError(f"label: no equation {label!r}; the labels are "
                       f"{', '.join(dict.fromkeys(e.label for e in EQUATIONS))}")
    return found


def kernel_names():
    """The CPU kernels the registry names, each once, in registry order."""
    return tuple(dict.fromkeys(e.kernel_name for e in EQUATIONS))


def table_rows():
    """The equation table of ``docs/derivation.rst``: one row per entry,
    (label, quantity, variants, CPU kernel, CUDA kernel, reference, NumPy form)."""
    rows = []
    for e in EQUATIONS:
        twins = e.twins()
        variants = ", ".join("+".join(v) if isinstance(v, tuple) else v for v in e.variants if v is not None)
        rows.append((e.label, e.quantity, variants, twins["cpu"], twins["cuda"] or "",
                     twins["reference"], twins["vectorized"] or ""))
    return rows
