"""The equation registry: every equation of the derivation and all of its twins, one entry each.

The derivation is Jonas Lalin, "Feedforward Neural Networks in Depth", part 1
(forward and backward propagation, labels "P1 (n)") and part 2 (activation
functions, "P2 (n)"); the costs, the seed, the fused output deltas and the L2
term are the project's own (``docs/derivation.rst`` states them). The
convolution, pooling, flatten and dropout equations come from the "Neural
Networks" notes (notes-neural-networks, section "Convolutional Neural Networks
(CNN)"), which do not number them: their labels "CNN (1)"-(4), "POOL (1)"-(4),
"SUB (1)"-(4), "FLATTEN", "DROP (1)", (2) are those of
:mod:`fnn_numba.conv_kernels` and ``docs/convolution.rst``. Each
:class:`Equation` names

- ``label``: the equation's number ("P1 (13)"), or the project's row label
  ("cost", "seed", "fused", "L2"; "weighted" for the cost with example
  weights s_i, J = sum_i s_i L_i / sum_i s_i, its seed and fused delta)
  where the derivation gives none;
- ``quantity``: what it computes ("dJ/dW[l]"); ``role``: a name for it that
  is unique together with the label (:func:`entry` looks entries up by role);
- ``kernel``: the fast CPU kernel of :mod:`fnn_numba.kernels` (dense
  layers) or :mod:`fnn_numba.conv_kernels` (the layers with maps);
- ``cuda``: the name of its CUDA twin in :mod:`fnn_numba.gpu_kernels` (for a
  kernel of :mod:`fnn_numba.conv_kernels`, in :mod:`fnn_numba.gpu_conv`), a
  string resolved only by :meth:`Equation.cuda_kernel` (importing numba-cuda
  is slow and optional), None where there is no twin yet; the launcher is
  ``launch_`` plus the name without ``_cuda``;
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

Maps: the kernels of :mod:`fnn_numba.conv_kernels` read and write (C H W, m)
columns, the references and NumPy forms (C, H, W, m) arrays; a conv
:class:`Trial` reshapes the kernel's columns to maps (C order, the kernels'
layout) so that all twins return the same array.
"""

import importlib
from dataclasses import dataclass

import numpy as np

from . import conv_kernels as ck
from . import kernels, reference, vectorized
from .activations import ACTIVATIONS
from .costs import COSTS, FUSED_PAIRS


# ------------------------------------------------------------ twin calls
@dataclass(frozen=True)
class Out:
    """An output argument of a kernel call: allocated as zeros by
    :func:`call`, in Fortran order like the engine's workspaces (C order for
    a conv kernel's (F, C, KH, KW) gradient, a view of the flat gradient in
    the engine)."""

    shape: tuple
    order: str = "F"


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
            buf = np.zeros(arg.shape, order=arg.order)
            arg = cuda.to_device(buf) if device else buf
            outs.append(arg)
        elif device and isinstance(arg, np.ndarray):
            arg = cuda.to_device(np.asfortranarray(arg) if arg.ndim == 2 else arg)
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
GEMM_DIMS = LAYER_DIMS + (
    (6, 530, 9),
    (133, 9, 70),
    (5, 9, 390),
    (16, 7, 384),
    (17, 9, 385),
    (19, 6, 388),
    (130, 9, 6),
)
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
    return Trial(
        cpu=lambda k: call(k, w, b, a, Out((n, m))),
        reference=lambda f: f(w, b, a),
        vectorized=lambda f: f(w, b, a),
        cuda=lambda k: call(k, w, b, a, Out((n, m)), device=True),
    )


def _activation(rng, dims, name):
    n, m = dims
    z = _f(rng.standard_normal((n, m)) * 2)
    code = ACTIVATIONS[name]
    return Trial(
        cpu=lambda k: call(k, code, z, Out((n, m))),
        reference=lambda f: f(name, z),
        vectorized=lambda f: f(name, z),
        cuda=lambda k: call(k, code, z, Out((n, m)), device=True),
    )


def _activation_inputs(rng, dims, name):
    n, m = dims
    z = _f(rng.standard_normal((n, m)) * 2)
    a = _f(reference.a_reference(name, z))
    return z, a, _f(rng.standard_normal((n, m))), ACTIVATIONS[name]


def _dz_closed(rng, dims, name):
    z, a, da, code = _activation_inputs(rng, dims, name)
    return Trial(
        cpu=lambda k: call(k, code, z, a, da, Out(z.shape)),
        reference=lambda f: f(name, z, a, da),
        vectorized=lambda f: f(name, z, a, da),
        cuda=lambda k: call(k, code, z, a, da, Out(z.shape), device=True),
    )


def _dz_general(rng, dims, name):
    z, a, da, code = _activation_inputs(rng, dims, name)
    return Trial(
        cpu=lambda k: call(k, code, z, a, da, Out(z.shape)),
        reference=lambda f: f(name, z, a, da),
        vectorized=lambda f: f(da, vectorized.jacobian_vectorized(name, z, a)),
        cuda=lambda k: call(k, code, z, a, da, Out(z.shape), device=True),
    )


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
    return Trial(
        cpu=lambda k: implied_jacobian(k, code, z, a),
        reference=lambda f: f(name, z, a),
        vectorized=lambda f: f(name, z, a),
        cuda=lambda k: implied_jacobian(k, code, z, a, device=True),
    )


def _cost_inputs(rng, dims, cost):
    n, m = dims
    return _f(rng.uniform(0.05, 0.95, (n, m))), _targets(cost, n, m, rng)


def _losses(rng, dims, cost):
    y_hat, y = _cost_inputs(rng, dims, cost)
    args = (COSTS[cost], ACTIVATIONS["identity"], False, y_hat, y_hat, y, Out((y.shape[1],)))
    return Trial(
        cpu=lambda k: call(k, *args),
        reference=lambda f: f(cost, y_hat, y),
        vectorized=lambda f: f(cost, y_hat, y),
        cuda=lambda k: call(k, *args, device=True),
    )


def _mean_cost(rng, dims, cost):
    # the mean of the reference's L_i, so that a slip in example_losses cannot reach this entry
    y_hat, y = _cost_inputs(rng, dims, cost)
    losses = reference.losses_reference(cost, y_hat, y)
    return Trial(
        cpu=lambda k: np.asarray(k(losses)),
        reference=lambda f: f(cost, y_hat, y),
        vectorized=lambda f: f(cost, y_hat, y),
        cuda=lambda k: call(k, losses, Out((3,)), 1, device=True)[1],
    )


def _seed(rng, dims, cost):
    y_hat, y = _cost_inputs(rng, dims, cost)
    return Trial(
        cpu=lambda k: call(k, COSTS[cost], y_hat, y, Out(y.shape)),
        reference=lambda f: f(cost, y_hat, y),
        vectorized=lambda f: f(cost, y_hat, y),
        cuda=lambda k: call(k, COSTS[cost], y_hat, y, Out(y.shape), device=True),
    )


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
    return Trial(
        cpu=lambda k: call(k, *args),
        reference=lambda f: f(out, z, y),
        vectorized=lambda f: f(cost, a, y),
        cuda=lambda k: call(k, *args, device=True),
    )


def _fused_delta(rng, dims, pair):
    out, _, z, a, y = _fused_inputs(rng, dims, pair)
    code = ACTIVATIONS[out]
    return Trial(
        cpu=lambda k: call(k, code, a, y, Out(a.shape)),
        reference=lambda f: f(out, a, y),
        cuda=lambda k: call(k, code, a, y, Out(a.shape), device=True),
    )


def _example_weights(rng, m):
    """Example weights s_i for a twin test: uneven, in [0, 2], the first one 0
    when m > 1 (an example that carries no weight), never all zero."""
    s = rng.uniform(0.1, 2.0, m)
    if m > 1:
        s[0] = 0.0
    return s


def _weighted_cost(rng, dims, cost):
    # the reference's L_i, as for the unweighted J, so that only the weighting is under test
    y_hat, y = _cost_inputs(rng, dims, cost)
    s = _example_weights(rng, y.shape[1])
    losses = reference.losses_reference(cost, y_hat, y)
    return Trial(
        cpu=lambda k: np.asarray(k(losses, s)),
        reference=lambda f: f(cost, y_hat, y, s),
        vectorized=lambda f: f(cost, y_hat, y, s),
    )


def _weighted_seed(rng, dims, cost):
    y_hat, y = _cost_inputs(rng, dims, cost)
    s = _example_weights(rng, y.shape[1])
    return Trial(
        cpu=lambda k: call(k, COSTS[cost], y_hat, y, s, Out(y.shape)),
        reference=lambda f: f(cost, y_hat, y, s),
        vectorized=lambda f: f(cost, y_hat, y, s),
    )


def _weighted_fused_delta(rng, dims, pair):
    out, _, z, a, y = _fused_inputs(rng, dims, pair)
    s = _example_weights(rng, y.shape[1])
    return Trial(
        cpu=lambda k: call(k, ACTIVATIONS[out], a, y, s, Out(a.shape)),
        reference=lambda f: f(out, a, y, s),
        vectorized=lambda f: f(out, a, y, s),
    )


def _layer_backward(rng, dims, pick):
    n, K, m = dims
    dz, a, w = (
        _f(rng.standard_normal((n, m))),
        _f(rng.standard_normal((K, m))),
        rng.standard_normal((n, K)),
    )
    outs = (Out((n, K)), Out((n,)))
    return Trial(
        cpu=lambda k: call(k, dz, a, w, 0.0, *outs, Out((n, m)), Out((K, m)))[pick],
        reference=lambda f: f(dz, a) if pick == 0 else f(dz),
        vectorized=lambda f: f(dz, a) if pick == 0 else f(dz),
        cuda=lambda k: call(k, dz, a, w, 0.0, *outs, device=True)[pick],
    )


def _dw(rng, dims, variant):
    return _layer_backward(rng, dims, 0)


def _db(rng, dims, variant):
    return _layer_backward(rng, dims, 1)


def _da_prev(rng, dims, variant):
    n, K, m = dims
    w, dz = rng.standard_normal((n, K)), _f(rng.standard_normal((n, m)))
    return Trial(
        cpu=lambda k: call(k, w, dz, Out((K, m))),
        reference=lambda f: f(w, dz),
        vectorized=lambda f: f(w, dz),
        cuda=lambda k: call(k, w, dz, Out((K, m)), device=True),
    )


def _l2_inputs(rng, sizes):
    from .engine import parameter_layout

    w_off, _, total = parameter_layout(sizes)
    params = rng.standard_normal(total)  # biases included: the term must skip them
    weights = [
        params[w_off[l] : w_off[l] + sizes[l + 1] * sizes[l]].reshape(sizes[l + 1], sizes[l])
        for l in range(len(sizes) - 1)
    ]
    w_len = np.array([w.size for w in weights], dtype=np.int64)
    return weights, params, w_off.astype(np.int64), w_len, 0.3


def _l2_term(rng, dims, variant):
    weights, params, w_off, w_len, l2 = _l2_inputs(rng, dims)

    def on_device(k):
        blocks = importlib.import_module("fnn_numba.gpu_kernels").REDUCE_BLOCKS
        return call(k, params, w_off, w_len, l2, Out((blocks,)), Out((1,)), 0, device=True)[1][0]

    return Trial(
        cpu=lambda k: np.asarray(k(params, w_off, w_len, l2)),
        reference=lambda f: f(weights, l2),
        vectorized=lambda f: f(weights, l2),
        cuda=on_device,
    )


def _l2_gradient(rng, dims, variant):
    # dw_db_backward with dJ/dZ = 0 returns exactly the L2 share of P1 (13)
    n, K, m = dims
    w, l2 = rng.standard_normal((n, K)), 0.3
    zeros = (np.zeros((n, m), order="F"), np.zeros((K, m), order="F"))
    return Trial(
        cpu=lambda k: call(k, *zeros, w, l2, Out((n, K)), Out((n,)), Out((n, m)), Out((K, m)))[0],
        reference=lambda f: f(w, l2),
        vectorized=lambda f: f(w, l2),
        cuda=lambda k: call(k, *zeros, w, l2, Out((n, K)), Out((n,)), device=True)[0],
    )


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
WEIGHTED_COST = Case(_weighted_cost, COST_DIMS, ())
WEIGHTED_SEED = Case(_weighted_seed, COST_DIMS, ())
WEIGHTED_FUSED_DELTA = Case(_weighted_fused_delta, ((1, 1), (4, 3), (7, 9)), ())


# ------------------------------------------------- convolution and pooling
#: (C, H, W, F, KH, KW, stride, pad, m) of CNN (1)-(4): stride 1 and 2 (and
#: 3), padding 0 and 1 (and one as large as the kernel), odd and even sizes,
#: one and several channels and maps, square and oblong kernels, m = 1
CONV_DIMS = (
    (1, 5, 5, 2, 3, 3, 1, 0, 2),
    (3, 6, 7, 2, 3, 2, 2, 1, 3),
    (2, 8, 8, 3, 2, 2, 2, 0, 1),
    (2, 7, 6, 2, 3, 3, 1, 1, 4),
    (2, 4, 5, 2, 2, 3, 2, 2, 2),
    (3, 5, 4, 2, 1, 1, 3, 1, 2),
)
#: the simulator runs one thread per example (per (f, c) pair for CNN (2), (3)):
#: m = 9 spans two blocks of the tests' 8 threads
CUDA_CONV_DIMS = ((2, 5, 4, 2, 3, 2, 2, 1, 9), (1, 4, 4, 3, 2, 2, 1, 0, 2))
#: (C, H, W, P, Q, m) of POOL (1)-(4), SUB (1)-(4): remainders dropped in rows,
#: columns or both, oblong windows, a window of one row
POOL_DIMS = ((2, 4, 4, 2, 2, 3), (3, 5, 7, 2, 2, 2), (1, 6, 6, 3, 2, 1), (2, 3, 5, 1, 2, 4))
CUDA_POOL_DIMS = ((2, 5, 6, 2, 3, 9),)
#: (C, H, W, m) of flatten, (n, m, rate) of dropout
FLATTEN_DIMS = ((1, 1, 1, 1), (2, 3, 4, 3), (3, 5, 2, 1))
DROPOUT_DIMS = ((1, 1, 0.5), (6, 4, 0.25), (7, 9, 0.75), (5, 3, 0.0))


def _cols(a):
    """(C, H, W, m) maps as the kernels' (C H W, m) F-ordered columns."""
    return _f(a.reshape(-1, a.shape[-1]))


def _maps(c, shape):
    """A kernel's (C H W, m) columns as (C, H, W, m) maps (C order of (c, x, y))."""
    c = np.asarray(c)
    return c.reshape(tuple(shape) + (c.shape[1],))


def _conv_inputs(rng, dims):
    C, H, W, F, KH, KW, s, p, m = dims
    OH, OW = (H + 2 * p - KH) // s + 1, (W + 2 * p - KW) // s + 1
    w, b = rng.standard_normal((F, C, KH, KW)), rng.standard_normal(F)
    a, dz = rng.standard_normal((C, H, W, m)), rng.standard_normal((F, OH, OW, m))
    return w, b, a, dz, (C, H, W), (F, OH, OW), (KH, KW), s, p


def _conv_z(rng, dims, variant):
    w, b, a, _, (C, H, W), out, _, s, p = _conv_inputs(rng, dims)
    args = (w, b, _cols(a), Out((int(np.prod(out)), a.shape[3])), H, W, s, p)
    return Trial(
        cpu=lambda k: _maps(call(k, *args), out),
        reference=lambda f: f(w, b, a, s, p),
        vectorized=lambda f: f(w, b, a, s, p),
        cuda=lambda k: _maps(call(k, *args, device=True), out),
    )


def _conv_parameter_gradient(rng, dims, pick):
    # CNN (2) and (3) come from one kernel; l2 = 0 here (the L2 entry checks that share)
    w, _, a, dz, (C, H, W), _, kernel, s, p = _conv_inputs(rng, dims)
    args = (_cols(dz), _cols(a), w, 0.0, Out(w.shape, "C"), Out((w.shape[0],)), H, W, s, p)
    return Trial(
        cpu=lambda k: call(k, *args)[pick],
        reference=lambda f: f(dz, a, kernel, s, p) if pick == 0 else f(dz),
        vectorized=lambda f: f(dz, a, kernel, s, p) if pick == 0 else f(dz),
        cuda=lambda k: call(k, *args, device=True)[pick],
    )


def _conv_dw(rng, dims, variant):
    return _conv_parameter_gradient(rng, dims, 0)


def _conv_db(rng, dims, variant):
    return _conv_parameter_gradient(rng, dims, 1)


def _conv_da_prev(rng, dims, variant):
    w, _, a, dz, shape, _, _, s, p = _conv_inputs(rng, dims)
    args = (
        w,
        _cols(dz),
        Out((a.shape[0] * a.shape[1] * a.shape[2], a.shape[3])),
        shape[1],
        shape[2],
        s,
        p,
    )
    return Trial(
        cpu=lambda k: _maps(call(k, *args), shape),
        reference=lambda f: f(w, dz, shape, s, p),
        vectorized=lambda f: f(w, dz, shape, s, p),
        cuda=lambda k: _maps(call(k, *args, device=True), shape),
    )


def _pool_inputs(rng, dims):
    C, H, W, P, Q, m = dims
    a, g = rng.standard_normal((C, H, W, m)), rng.standard_normal((C, H // P, W // Q, m))
    beta, b = rng.standard_normal(C), rng.standard_normal(C)
    return a, g, beta, b, (C, H, W), (C, H // P, W // Q), (P, Q)


def _pool_trial(cpu_args, out_shape, ref_args):
    """A Trial whose kernel takes ``cpu_args`` (columns) plus (C, H, W, P, Q) and
    whose reference and NumPy form take ``ref_args`` (maps)."""
    return Trial(
        cpu=lambda k: _maps(call(k, *cpu_args), out_shape),
        reference=lambda f: f(*ref_args),
        vectorized=lambda f: f(*ref_args),
        cuda=lambda k: _maps(call(k, *cpu_args, device=True), out_shape),
    )


def _pool_forward(rng, dims, variant):
    a, _, beta, b, shape, out, pool = _pool_inputs(rng, dims)
    o = Out((int(np.prod(out)), a.shape[3]))
    if variant == "subsample":
        return _pool_trial((beta, b, _cols(a), o) + shape + pool, out, (beta, b, a, pool))
    return _pool_trial((_cols(a), o) + shape + pool, out, (a, pool))


def _pool_backward(rng, dims, variant):
    a, g, beta, _, shape, _, pool = _pool_inputs(rng, dims)
    o = Out((int(np.prod(shape)), a.shape[3]))
    if variant == "max":
        return _pool_trial((_cols(a), _cols(g), o) + shape + pool, shape, (a, g, pool))
    if variant == "subsample":
        return _pool_trial((beta, _cols(g), o) + shape + pool, shape, (beta, g, shape, pool))
    return _pool_trial((_cols(g), o) + shape + pool, shape, (g, shape, pool))


def _subsample_gradient(rng, dims, pick):
    a, g, beta, _, shape, _, pool = _pool_inputs(rng, dims)
    C = shape[0]
    args = (_cols(g), _cols(a), beta, 0.0, Out((C,)), Out((C,))) + shape + pool
    return Trial(
        cpu=lambda k: call(k, *args)[pick],
        reference=lambda f: f(g, a, pool) if pick == 0 else f(g),
        vectorized=lambda f: f(g, a, pool) if pick == 0 else f(g),
        cuda=lambda k: call(k, *args, device=True)[pick],
    )


def _subsample_dbeta(rng, dims, variant):
    return _subsample_gradient(rng, dims, 0)


def _subsample_db(rng, dims, variant):
    return _subsample_gradient(rng, dims, 1)


def _flatten(rng, dims, variant):
    C, H, W, m = dims
    a = rng.standard_normal((C, H, W, m))
    return Trial(
        cpu=lambda k: call(k, _cols(a), Out((C * H * W, m))),
        reference=lambda f: f(a),
        vectorized=lambda f: f(a),
    )


def _unflatten(rng, dims, variant):
    C, H, W, m = dims
    d = _f(rng.standard_normal((C * H * W, m)))
    return Trial(
        cpu=lambda k: _maps(call(k, d, Out(d.shape)), (C, H, W)),
        reference=lambda f: f(d, (C, H, W)),
        vectorized=lambda f: f(d, (C, H, W)),
    )


def _dropout_mask(rng, dims, variant):
    n, m, rate = dims
    key, counter, layer = (
        int(rng.integers(0, 2**62)),
        int(rng.integers(0, 1000)),
        int(rng.integers(1, 9)),
    )
    return Trial(
        cpu=lambda k: call(k, rate, key, counter, layer, Out((n, m))),
        reference=lambda f: f(rate, key, counter, layer, n, m),
        vectorized=lambda f: f(rate, key, counter, layer, n, m),
    )


def _dropout(rng, dims, variant):
    # forward (a_prev) and backward (dJ/da) multiply by the same mask
    n, m, rate = dims
    keep = (rng.uniform(0, 1, (n, m)) >= rate).astype(float)
    mask, x = _f(keep / (1.0 - rate)), _f(rng.standard_normal((n, m)))
    return Trial(
        cpu=lambda k: call(k, mask, x, Out((n, m))),
        reference=lambda f: f(x, keep, rate),
        vectorized=lambda f: f(x, keep, rate),
    )


CONV_Z = Case(_conv_z, CONV_DIMS, CUDA_CONV_DIMS)
CONV_DW = Case(_conv_dw, CONV_DIMS, CUDA_CONV_DIMS)
CONV_DB = Case(_conv_db, CONV_DIMS, CUDA_CONV_DIMS)
CONV_DA_PREV = Case(_conv_da_prev, CONV_DIMS, CUDA_CONV_DIMS)
POOL_FORWARD = Case(_pool_forward, POOL_DIMS, CUDA_POOL_DIMS)
POOL_BACKWARD = Case(_pool_backward, POOL_DIMS, CUDA_POOL_DIMS)
SUBSAMPLE_DBETA = Case(_subsample_dbeta, POOL_DIMS, CUDA_POOL_DIMS)
SUBSAMPLE_DB = Case(_subsample_db, POOL_DIMS, CUDA_POOL_DIMS)
FLATTEN = Case(_flatten, FLATTEN_DIMS, ())
UNFLATTEN = Case(_unflatten, FLATTEN_DIMS, ())
DROPOUT_MASK = Case(_dropout_mask, DROPOUT_DIMS, ())
DROPOUT = Case(_dropout, DROPOUT_DIMS, ())


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
        """The CPU kernel's name in its module (the name a test substitutes it under)."""
        return self.kernel.__name__

    @property
    def kernel_module(self):
        """The CPU kernel's module: "fnn_numba.kernels" or "fnn_numba.conv_kernels"."""
        return self.kernel.__module__

    @property
    def cuda_module(self):
        """The module of the CUDA twin (None without one)."""
        return CUDA_MODULES[self.kernel_module] if self.cuda else None

    @property
    def launcher_name(self):
        """The name of the CUDA launcher in :attr:`cuda_module`."""
        return "launch_" + self.cuda[: -len("_cuda")] if self.cuda else None

    def cuda_kernel(self):
        """The CUDA kernel, imported from :attr:`cuda_module` now."""
        return getattr(importlib.import_module(self.cuda_module), self.cuda)

    def cuda_launcher(self):
        """The launcher of the CUDA kernel (grid and block sizes chosen for the shapes)."""
        return getattr(importlib.import_module(self.cuda_module), self.launcher_name)

    def row_quantity(self, l=None, L=None, act="", detail="", head=""):
        """The quantity column of the cross-check's row for layer ``l``."""
        return self.row.format(
            l=l, prev=None if l is None else l - 1, L=L, act=act, detail=detail, head=head
        )

    @property
    def id(self):
        """A unique name of the entry: its label and role ("P1 (13) dW", "seed")."""
        return self.role if self.role.startswith(self.label) else f"{self.label} {self.role}"

    def twins(self):
        """Every twin's qualified name, in the order CPU, CUDA, reference, NumPy."""
        out = {
            "cpu": f"{self.kernel_module}.{self.kernel_name}",
            "cuda": f"{self.cuda_module}.{self.cuda}" if self.cuda else None,
            "reference": f"fnn_numba.reference.{self.reference.__name__}",
            "vectorized": (
                f"fnn_numba.vectorized.{self.vectorized.__name__}"
                if self.vectorized is not None
                else None
            ),
        }
        return out


#: the module of the CUDA twins of each CPU kernel module
CUDA_MODULES = {
    "fnn_numba.kernels": "fnn_numba.gpu_kernels",
    "fnn_numba.conv_kernels": "fnn_numba.gpu_conv",
}

_ELEMENTWISE_P1 = ("identity", "leaky_relu", "elu", "selu", "exp")
_FUSED = tuple(sorted(FUSED_PAIRS, key=lambda p: p[0]))
_COSTS = tuple(COSTS)


def _act(label, names, forward=True):
    if forward:
        return Equation(
            label,
            "A[l]",
            "A",
            kernels.activation_forward,
            "activation_forward_cuda",
            reference.a_reference,
            vectorized.a_vectorized,
            "A[{l}] = {act}(Z[{l}])",
            ACTIVATION,
            names,
            formula="a[j,i] = g_j(z[1,i], ..., z[n,i])",
        )
    return Equation(
        label,
        "dJ/dZ[l]",
        "dZ closed form",
        kernels.dz_backward,
        "dz_backward_cuda",
        reference.dz_closed_form_reference,
        vectorized.dz_vectorized,
        "dJ/dZ[{l}] closed form ({act})",
        DZ_CLOSED,
        names,
        formula="dJ/dz[j,i] = dJ/da[j,i] g'(z[j,i]) (element-wise); P2 (8) for softmax",
    )


#: the registry, in the order the cross-check computes the quantities
EQUATIONS = (
    # forward, P1 (1), (2)
    Equation(
        "P1 (1)",
        "Z[l]",
        "Z",
        kernels.z_forward,
        "z_forward_cuda",
        reference.z_reference,
        vectorized.z_vectorized,
        "Z[{l}] = W[{l}] A[{prev}] + b[{l}]",
        LAYER,
        formula="z[j,i] = sum_k w[j,k] a[k,i] + b[j]",
    ),
    _act("P1 (2)", _ELEMENTWISE_P1),
    _act("P2 (1)", ("relu",)),
    _act("P2 (3)", ("sigmoid",)),
    _act("P2 (5)", ("tanh",)),
    _act("P2 (7)", ("softmax",)),
    # the cost, P1 (9), and the L2 term
    Equation(
        "cost",
        "L_i",
        "L_i",
        kernels.example_losses,
        "example_losses_cuda",
        reference.losses_reference,
        vectorized.losses_vectorized,
        "L_i{detail}",
        LOSSES,
        _COSTS,
        formula="L_i of the cost, per example",
    ),
    Equation(
        "P1 (9)",
        "J",
        "J",
        kernels.mean_of,
        "mean_of_cuda",
        reference.cost_reference,
        vectorized.cost_vectorized,
        "J = (1/m) sum_i L_i{detail}",
        MEAN_COST,
        _COSTS,
        formula="J = (1/m) sum_i L_i",
    ),
    Equation(
        "weighted",
        "J (weighted)",
        "weighted J",
        kernels.weighted_mean_of,
        None,
        reference.weighted_cost_reference,
        vectorized.weighted_cost_vectorized,
        "J = sum s_i L_i / S{detail}",
        WEIGHTED_COST,
        _COSTS,
        formula="J = sum_i s_i L_i / S, S = sum_i s_i (example weights s_i >= 0)",
    ),
    Equation(
        "L2",
        "L2 term",
        "L2 term",
        kernels.l2_penalty,
        "l2_penalty_cuda",
        reference.l2_reference,
        vectorized.l2_vectorized,
        "(l2/2) sum_l ||W[l]||^2",
        L2_TERM,
        formula="(lambda/2) sum_l ||W[l]||_F^2",
    ),
    Equation(
        "fused",
        "L_i from Z[L]",
        "fused L_i",
        kernels.example_losses,
        "example_losses_cuda",
        reference.fused_losses_reference,
        vectorized.losses_vectorized,
        "L_i from Z[{L}] vs general from A[{L}]",
        FUSED_LOSSES,
        _FUSED,
        formula="L_i from the logits where the output activation and the cost cancel",
    ),
    Equation(
        "seed",
        "dJ/dA[L]",
        "seed",
        kernels.cost_seed,
        "cost_seed_cuda",
        reference.seed_reference,
        vectorized.seed_vectorized,
        "dJ/dA[{L}] = (1/m) dL_i/dy_hat",
        SEED,
        _COSTS,
        formula="dJ/da[j,i] = (1/m) dL_i/dy_hat[j,i]",
    ),
    Equation(
        "weighted",
        "dJ/dA[L] (weighted)",
        "weighted seed",
        kernels.cost_seed_weighted,
        None,
        reference.seed_weighted_reference,
        vectorized.seed_weighted_vectorized,
        "dJ/dA[{L}] = (s_i/S) dL_i/dy_hat",
        WEIGHTED_SEED,
        _COSTS,
        formula="dJ/da[j,i] = (s_i / S) dL_i/dy_hat[j,i], S = sum_i s_i",
    ),
    # backward, P1 (17) and the closed forms of part 2
    Equation(
        "P1 (17)",
        "da[l]/dz[l]",
        "Jacobian",
        kernels.dz_backward,
        "dz_backward_cuda",
        reference.jacobian_reference,
        vectorized.jacobian_vectorized,
        "da[{l}]/dz[{l}] Jacobian ({act})",
        JACOBIAN,
        tuple(ACTIVATIONS),
        formula="da[p,i]/dz[j,i], implied by the dJ/dZ kernel",
    ),
    _act("P1 (17)", _ELEMENTWISE_P1, forward=False),
    _act("P2 (2)", ("relu",), forward=False),
    _act("P2 (4)", ("sigmoid",), forward=False),
    _act("P2 (6)", ("tanh",), forward=False),
    _act("P2 (8)", ("softmax",), forward=False),
    Equation(
        "P1 (17)",
        "dJ/dZ[l]",
        "dZ",
        kernels.dz_backward,
        "dz_backward_cuda",
        reference.dz_general_reference,
        vectorized.dz_from_jacobian_vectorized,
        "dJ/dZ[{l}] = sum_p dJ/dA[{l}] da/dz",
        DZ_GENERAL,
        tuple(ACTIVATIONS),
        formula="dJ/dz[j,i] = sum_p dJ/da[p,i] da[p,i]/dz[j,i]",
    ),
    Equation(
        "fused",
        "dJ/dZ[L]",
        "fused dZ",
        kernels.output_delta_fused,
        "output_delta_fused_cuda",
        reference.fused_delta_reference,
        None,
        "dJ/dZ[{L}] fused vs general",
        FUSED_DELTA,
        _FUSED,
        formula="(A - Y)/m; (a_j sum_p y_p - y_j)/m for softmax",
    ),
    Equation(
        "weighted",
        "dJ/dZ[L] (weighted, fused)",
        "weighted fused dZ",
        kernels.output_delta_fused_weighted,
        None,
        reference.fused_delta_weighted_reference,
        vectorized.fused_delta_weighted_vectorized,
        "dJ/dZ[{L}] fused vs general (s_i/S)",
        WEIGHTED_FUSED_DELTA,
        _FUSED,
        formula="(a[j,i] - y[j,i]) s_i / S; (a_j sum_p y_p - y_j) s_i / S for softmax",
    ),
    Equation(
        "P1 (13)",
        "dJ/dW[l]",
        "dW",
        kernels.dw_db_backward,
        "dw_db_backward_cuda",
        reference.dw_reference,
        vectorized.dw_vectorized,
        "dJ/dW[{l}]",
        DW,
        formula="dJ/dw[j,k] = sum_i dJ/dz[j,i] a[k,i]",
    ),
    Equation(
        "P1 (14)",
        "dJ/db[l]",
        "db",
        kernels.dw_db_backward,
        "dw_db_backward_cuda",
        reference.db_reference,
        vectorized.db_vectorized,
        "dJ/db[{l}]",
        DB,
        formula="dJ/db[j] = sum_i dJ/dz[j,i]",
    ),
    Equation(
        "P1 (21)",
        "dJ/dA[l-1]",
        "dA",
        kernels.da_prev_backward,
        "da_prev_backward_cuda",
        reference.da_prev_reference,
        vectorized.da_prev_vectorized,
        "{head}dJ/dA[{prev}]",
        DA_PREV,
        formula="dJ/da[k,i] = sum_j dJ/dz[j,i] w[j,k]",
    ),
    Equation(
        "L2",
        "dL2/dW[l]",
        "L2 gradient",
        kernels.dw_db_backward,
        "dw_db_backward_cuda",
        reference.l2_gradient_reference,
        vectorized.l2_gradient_vectorized,
        "l2 W[l] = d/dW[l] of the L2 term",
        L2_GRADIENT,
        formula="d/dw[j,k] of the L2 term = lambda w[j,k]",
    ),
    # convolution and pooling (notes-neural-networks, "Convolutional Neural Networks (CNN)")
    Equation(
        "CNN (1)",
        "Z[l] (conv)",
        "conv Z",
        ck.conv_forward,
        "conv_forward_cuda",
        reference.conv_z_reference,
        vectorized.conv_z_vectorized,
        "Z[{l}] = W[{l}] (*) A[{prev}] + b[{l}]",
        CONV_Z,
        formula="z[f,x,y,i] = sum_{c,u,v} w[f,c,u,v] a[c, x s + u - p, y s + v - p, i] + b[f]",
    ),
    Equation(
        "CNN (2)",
        "dJ/dW[l] (conv)",
        "conv dW",
        ck.conv_dw_db,
        "conv_dw_db_cuda",
        reference.conv_dw_reference,
        vectorized.conv_dw_vectorized,
        "dJ/dW[{l}] (conv)",
        CONV_DW,
        formula="dJ/dw[f,c,u,v] = sum_{i,x,y} dJ/dz[f,x,y,i] a[c, x s + u - p, y s + v - p, i]",
    ),
    Equation(
        "CNN (3)",
        "dJ/db[l] (conv)",
        "conv db",
        ck.conv_dw_db,
        "conv_dw_db_cuda",
        reference.conv_db_reference,
        vectorized.conv_db_vectorized,
        "dJ/db[{l}] (conv)",
        CONV_DB,
        formula="dJ/db[f] = sum_{i,x,y} dJ/dz[f,x,y,i]",
    ),
    Equation(
        "CNN (4)",
        "dJ/dA[l-1] (conv)",
        "conv dA",
        ck.conv_da_prev,
        "conv_da_prev_cuda",
        reference.conv_da_prev_reference,
        vectorized.conv_da_prev_vectorized,
        "{head}dJ/dA[{prev}] (conv, direct sum)",
        CONV_DA_PREV,
        formula="dJ/da[c,r,q,i] = sum over x s + u - p = r, y s + v - p = q of dJ/dz[f,x,y,i] w[f,c,u,v]",
    ),
    Equation(
        "CNN (4)",
        "dJ/dA[l-1] (conv, flipped)",
        "conv dA flipped",
        ck.conv_da_prev,
        "conv_da_prev_cuda",
        reference.conv_da_prev_flipped_reference,
        vectorized.conv_da_prev_flipped_vectorized,
        "{head}dJ/dA[{prev}] (conv, flipped)",
        CONV_DA_PREV,
        formula="dJ/da[c,r,q,i] = sum_{f,u',v'} w[f,c,KH-1-u',KW-1-v'] D[f, r + u', q + v', i], "
        "D = dJ/dz dilated by s, padded by KH-1-p",
    ),
    Equation(
        "POOL (1)",
        "A[l] (max pool)",
        "max pool",
        ck.maxpool_forward,
        "maxpool_forward_cuda",
        reference.maxpool_reference,
        vectorized.maxpool_vectorized,
        "A[{l}] = maxpool(A[{prev}])",
        POOL_FORWARD,
        ("max",),
        formula="a[c,x,y,i] = max_{u,v} a[c, x P + u, y Q + v, i]",
    ),
    Equation(
        "POOL (2)",
        "dJ/dA[l-1] (max pool)",
        "max pool dA",
        ck.maxpool_backward,
        "maxpool_backward_cuda",
        reference.maxpool_backward_reference,
        vectorized.maxpool_backward_vectorized,
        "{head}dJ/dA[{prev}] (max pool)",
        POOL_BACKWARD,
        ("max",),
        formula="dJ/da at each window's first maximum (row-major), 0 elsewhere",
    ),
    Equation(
        "POOL (3)",
        "A[l] (average pool)",
        "avg pool",
        ck.avgpool_forward,
        "avgpool_forward_cuda",
        reference.avgpool_reference,
        vectorized.avgpool_vectorized,
        "A[{l}] = avgpool(A[{prev}])",
        POOL_FORWARD,
        ("avg",),
        formula="a[c,x,y,i] = (1/(P Q)) sum_{u,v} a[c, x P + u, y Q + v, i]",
    ),
    Equation(
        "POOL (4)",
        "dJ/dA[l-1] (average pool)",
        "avg pool dA",
        ck.avgpool_backward,
        "avgpool_backward_cuda",
        reference.avgpool_backward_reference,
        vectorized.avgpool_backward_vectorized,
        "{head}dJ/dA[{prev}] (avg pool)",
        POOL_BACKWARD,
        ("avg",),
        formula="dJ/da[c, x P + u, y Q + v, i] = dJ/da[c,x,y,i] / (P Q)",
    ),
    Equation(
        "SUB (1)",
        "Z[l] (subsample)",
        "subsample Z",
        ck.subsample_forward,
        "subsample_forward_cuda",
        reference.subsample_z_reference,
        vectorized.subsample_z_vectorized,
        "Z[{l}] = beta[{l}] mean(A[{prev}]) + b[{l}]",
        POOL_FORWARD,
        ("subsample",),
        formula="z[c,x,y,i] = beta[c] mean_{u,v} a[c, x P + u, y Q + v, i] + b[c]",
    ),
    Equation(
        "SUB (2)",
        "dJ/dbeta[l]",
        "subsample dbeta",
        ck.subsample_dbeta_db,
        "subsample_dbeta_db_cuda",
        reference.subsample_dbeta_reference,
        vectorized.subsample_dbeta_vectorized,
        "dJ/dbeta[{l}] (subsample)",
        SUBSAMPLE_DBETA,
        formula="dJ/dbeta[c] = sum_{i,x,y} dJ/dz[c,x,y,i] mean(window)",
    ),
    Equation(
        "SUB (3)",
        "dJ/db[l] (subsample)",
        "subsample db",
        ck.subsample_dbeta_db,
        "subsample_dbeta_db_cuda",
        reference.conv_db_reference,
        vectorized.conv_db_vectorized,
        "dJ/db[{l}] (subsample)",
        SUBSAMPLE_DB,
        formula="dJ/db[c] = sum_{i,x,y} dJ/dz[c,x,y,i]",
    ),
    Equation(
        "SUB (4)",
        "dJ/dA[l-1] (subsample)",
        "subsample dA",
        ck.subsample_da_prev,
        "subsample_da_prev_cuda",
        reference.subsample_da_prev_reference,
        vectorized.subsample_da_prev_vectorized,
        "{head}dJ/dA[{prev}] (subsample)",
        POOL_BACKWARD,
        ("subsample",),
        formula="dJ/da[c, x P + u, y Q + v, i] = dJ/dz[c,x,y,i] beta[c] / (P Q)",
    ),
    Equation(
        "FLATTEN",
        "A[l] (flatten)",
        "flatten",
        ck.copy_columns,
        None,
        reference.flatten_reference,
        vectorized.flatten_vectorized,
        "A[{l}] = flatten(A[{prev}])",
        FLATTEN,
        formula="a[(c H + x) W + y, i] = a[c,x,y,i]",
    ),
    Equation(
        "FLATTEN",
        "dJ/dA[l-1] (flatten)",
        "unflatten dA",
        ck.copy_columns,
        None,
        reference.unflatten_reference,
        vectorized.unflatten_vectorized,
        "{head}dJ/dA[{prev}] (unflatten)",
        UNFLATTEN,
        formula="dJ/da[c,x,y,i] = dJ/da[(c H + x) W + y, i]",
    ),
    Equation(
        "DROP (1)",
        "mask[l]",
        "dropout mask",
        ck.dropout_mask,
        None,
        reference.dropout_mask_reference,
        vectorized.dropout_mask_vectorized,
        "mask[{l}] = I(u >= rate) / (1 - rate)",
        DROPOUT_MASK,
        formula="mask[j,i] = I(u[j,i] >= rate) / (1 - rate), u the counter-based uniform",
    ),
    Equation(
        "DROP (1)",
        "A[l] (dropout)",
        "dropout",
        ck.dropout_apply,
        None,
        reference.dropout_reference,
        vectorized.dropout_vectorized,
        "A[{l}] = mask[{l}] A[{prev}]",
        DROPOUT,
        formula="a[j,i] = a[j,i] mask[j,i]",
    ),
    Equation(
        "DROP (2)",
        "dJ/dA[l-1] (dropout)",
        "dropout dA",
        ck.dropout_apply,
        None,
        reference.dropout_reference,
        vectorized.dropout_vectorized,
        "{head}dJ/dA[{prev}] = mask[{l}] dJ/dA[{l}]",
        DROPOUT,
        formula="dJ/da[j,i] = dJ/da[j,i] mask[j,i]",
    ),
)


def entry(role, variant=None):
    """The entry computing ``role`` (for an activation, cost or fused pair ``variant``)."""
    for e in EQUATIONS:
        if e.role == role and (variant is None or variant in e.variants):
            return e
    raise KeyError(
        f"role: no equation {role!r}" + (f" for {variant!r}" if variant is not None else "")
    )


def find(label):
    """Every entry labelled ``label`` ("P1 (13)"), in registry order."""
    found = [e for e in EQUATIONS if e.label == label]
    if not found:
        raise KeyError(
            f"label: no equation {label!r}; the labels are "
            f"{', '.join(dict.fromkeys(e.label for e in EQUATIONS))}"
        )
    return found


def kernel_names():
    """The CPU kernels the registry names, each once, in registry order."""
    return tuple(dict.fromkeys(e.kernel_name for e in EQUATIONS))


def kernel_modules():
    """{CPU kernel name: the module that defines it}, for every kernel of the registry."""
    return {e.kernel_name: e.kernel_module for e in EQUATIONS}


def table_rows():
    """The equation table of ``docs/derivation.rst``: one row per entry,
    (label, quantity, variants, CPU kernel, CUDA kernel, reference, NumPy form)."""
    rows = []
    for e in EQUATIONS:
        twins = e.twins()
        variants = ", ".join(
            "+".join(v) if isinstance(v, tuple) else v for v in e.variants if v is not None
        )
        rows.append(
            (
                e.label,
                e.quantity,
                variants,
                twins["cpu"],
                twins["cuda"] or "",
                twins["reference"],
                twins["vectorized"] or "",
            )
        )
    return rows
