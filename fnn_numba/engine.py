"""Jitted drivers that compose the per-equation kernels into passes and steps.

Nothing here computes a formula of its own. Forward propagation runs each
layer's forward equations (for a dense layer :func:`~fnn_numba.kernels.z_forward`
then :func:`~fnn_numba.kernels.activation_forward`), layer by layer; backward
propagation is the seed (or the fused output delta), then each layer's
backward equations (for a dense layer :func:`~fnn_numba.kernels.dz_backward`,
:func:`~fnn_numba.kernels.dw_db_backward` and
:func:`~fnn_numba.kernels.da_prev_backward`); a training step adds the
optimizer's update (:func:`apply_update`). The drivers are ``@njit``
functions, so a run of many batches is one call from Python with no
allocation per batch.

The drivers take plain arrays grouped in three named tuples, never layer
objects, so one compiled driver runs any stack of layers:

- :class:`Model`: ``params``, the flat vector [W1, b1, W2, b2, ...];
  ``geom``, the integer geometry table of :mod:`fnn_numba.layers` (one row
  per layer l = 1..L: kind, activation code, sizes, parameter offsets);
  the cost's code, whether the output delta is fused, and lambda of the L2
  term.
- :class:`Buffers`: ``ws``, one flat workspace in which ``ws_off[role, l]``
  is where layer l's matrix of that role starts (roles below), each sized for
  ``capacity`` examples; the mini-batch input buffer, per-example losses,
  the flat gradient and the batch's example weights.
- :class:`Update`: the optimizer's code, its state arrays, its
  hyper-parameters and the clipping thresholds of one run of batches.

Example weights: when ``Buffers.weights`` is not empty, weights[c] is the
weight s of the batch's column c and the cost is the weighted mean
J = sum_i s_i L_i / sum_i s_i (plus the L2 term); the seed (or fused output
delta) is scaled column by column to (s_i / S) dL_i/dZ[L], and since
everything below dJ/dZ[L] is linear in its columns that weights the whole
backward pass. An empty ``weights`` is the unweighted cost. The backward
drivers take the batch's weights as an argument, ``weights`` (None when
unweighted), so that, as with ``spatial`` below, an unweighted driver
compiles no weighted kernel; J and the L2 term test the length of
``Buffers.weights``.

Compile time: the drivers that run layers take a last argument ``spatial``,
None for a network of Dense layers only (:func:`spatial_argument`). Numba
prunes a branch on an argument typed None before typing, so a dense
network's drivers never compile the kernels of the other layer kinds. The
per-layer and per-pass drivers below the entry points are
``inline="always"``: Numba re-optimises the whole of a callee's code in
every caller it is linked into, so each level of separately compiled
drivers cost the full tree once more. Together these cut the compiled
functions of a dense network's first ``fit`` by a third, and its compile
time by about 40%.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from .conv_kernels import (
    avgpool_backward,
    avgpool_forward,
    conv_da_prev,
    conv_dw_db,
    conv_forward,
    copy_columns,
    dropout_apply,
    dropout_mask,
    maxpool_backward,
    maxpool_forward,
    subsample_da_prev,
    subsample_dbeta_db,
    subsample_forward,
)
from .kernels import (
    DW_DOT_MIN_ROWS,
    DW_OUTER_MAX_BATCH,
    SGD,
    activation_forward,
    clip_gradient_norm,
    clip_gradient_value,
    cost_seed,
    cost_seed_weighted,
    da_prev_backward,
    dw_db_backward,
    dz_backward,
    example_losses,
    l2_penalty,
    mean_of,
    optimizer_commit,
    optimizer_step,
    output_delta_fused,
    output_delta_fused_weighted,
    sgd_update,
    sgd_update_is_finite,
    step_is_finite,
    weight_sum,
    weighted_mean_of,
    z_forward,
)
from .layers import (
    ACT,
    AVGPOOL2D,
    B_OFF,
    CONV2D,
    DENSE,
    DROPOUT,
    FLATTEN,
    IN_C,
    IN_H,
    IN_W,
    KH,
    KIND,
    KW,
    MAXPOOL2D,
    N_HYPER_COLUMNS,
    N_IN,
    N_OUT,
    OUT_C,
    PAD,
    RATE,
    STRIDE,
    SUBSAMPLE2D,
    W_OFF,
    W_SIZE,
)

# workspace roles
A, Z, DA, DZ, DZ_ROWS, A_ROWS, Y_BATCH = range(7)
N_ROLES = 7

#: the network's arrays as the drivers read them (see the module docstring);
#: ``hyper`` is the float table of per-layer hyper-parameters
#: (:func:`fnn_numba.layers.hyper_table`), ``training`` switches Dropout on,
#: ``rng`` is [key, step counter] of the dropout masks (int64; the forward
#: pass advances the counter in training)
#: ``l2_per_weight``: with example weights, the L2 term's lambda of a batch
#: of m_b examples and weight sum S_b is l2 m_b / S_b (scikit-learn's
#: penalty, (alpha / 2) ||W||^2 / S_b with l2 = alpha / m_b); otherwise l2.
Model = namedtuple(
    "Model",
    "params geom cost_code fused l2 hyper training rng l2_per_weight",
    defaults=(np.zeros((0, N_HYPER_COLUMNS)), False, np.zeros(2, dtype=np.int64), False),
)
#: kinds whose Z is their A (no activation follows the forward equation)
Z_IS_A_KINDS = (MAXPOOL2D, AVGPOOL2D, FLATTEN)
#: scratch of one purpose (fit, forward, gradients), allocated once;
#: ``weights``: the batch's example weights, column order, or empty (unweighted)
Buffers = namedtuple("Buffers", "ws ws_off x_buf losses grads weights")
#: one optimizer's code, state and settings for a run of batches; ``t`` is a
#: one-element int64 array counting the steps taken (Adam's t)
Update = namedtuple(
    "Update",
    "kind velocity second step t learning_rate momentum beta1 beta2 epsilon clip_norm clip_value",
)
#: where Model's and Buffers' fields end in the ``fields`` of the compiled
#: entry points that take the named tuples field by field
MODEL_END = len(Model._fields)
BUFFERS_END = MODEL_END + len(Buffers._fields)


def workspace_layout(geom, capacity, backward=True, with_dx=True):
    """Offsets ``ws_off[role, l]`` and the total length of a workspace that
    holds, for batches of up to ``capacity`` examples, the (n[l], capacity)
    matrix of each (role, layer) pair the drivers use, and nothing else:
    A and Z for l = 1..L; with ``backward``, also DA for l = 1..L (and
    l = 0, dJ/dX, when ``with_dx``) and Y_BATCH for l = L. DZ[l] shares
    DA[l]'s storage: dz_backward may write dJ/dZ over dJ/dA (each element is
    read before it is written, and dJ/dA[l] is not needed afterwards).
    DZ_ROWS[l] and A_ROWS[l-1], the copies for P1 (13)'s dot-product order,
    exist only for dense layers that can take that order (capacity >=
    kernels.DW_OUTER_MAX_BATCH and n[l] >= kernels.DW_DOT_MIN_ROWS).
    Pairs never used have offset -1 and take no space."""
    L = geom.shape[0]
    sizes = [int(geom[0, N_IN])] + [int(n) for n in geom[:, N_OUT]]
    dot_layers = [
        l
        for l in range(1, L + 1)
        if backward
        and geom[l - 1, KIND] == DENSE
        and capacity >= DW_OUTER_MAX_BATCH
        and sizes[l] >= DW_DOT_MIN_ROWS
    ]
    used = {
        A: range(1, L + 1),
        Z: [l for l in range(1, L + 1) if geom[l - 1, KIND] not in Z_IS_A_KINDS],
        DA: range(0 if with_dx else 1, L + 1) if backward else (),
        DZ: (),
        DZ_ROWS: dot_layers,
        A_ROWS: [l - 1 for l in dot_layers],
        Y_BATCH: range(L, L + 1) if backward else (),
    }
    ws_off = np.full((N_ROLES, L + 1), -1, dtype=np.int64)
    total = 0
    for role in range(N_ROLES):
        for l in used[role]:
            ws_off[role, l] = total
            total += sizes[l] * capacity
    ws_off[DZ, 1:] = ws_off[DA, 1:]
    for l in range(1, L + 1):
        if geom[l - 1, KIND] in Z_IS_A_KINDS:
            ws_off[Z, l] = ws_off[A, l]
    return ws_off, total


def parameter_layout(sizes):
    """Offsets of W[l] and b[l] in the flat parameter vector of the dense
    stack [n0, n1, ..., nL], and its length (the layout
    :func:`fnn_numba.layers.parameter_layout` gives every network)."""
    from .layers import B_OFF, build_stack, dense_stack
    from .layers import parameter_layout as layer_layout

    _, stack = build_stack(dense_stack(list(sizes), ["identity"] * (len(sizes) - 1)))
    geom, total = layer_layout(stack)
    return geom[:, W_OFF].copy(), geom[:, B_OFF].copy(), total


def new_buffers(geom, n_params, capacity, dtype, purpose, weighted=False):
    """The :class:`Buffers` of one purpose: "forward" (A and Z only),
    "fit" (no dJ/dX) or "gradients" (everything, dJ/dX included); with
    ``weighted``, room for ``capacity`` example weights (else none: the
    unweighted cost)."""
    backward = purpose != "forward"
    ws_off, total = workspace_layout(
        geom, capacity, backward=backward, with_dx=purpose == "gradients"
    )
    return Buffers(
        ws=np.zeros(total, dtype=dtype),
        ws_off=ws_off,
        x_buf=np.zeros(int(geom[0, N_IN]) * capacity if purpose == "fit" else 0, dtype=dtype),
        losses=np.zeros(capacity, dtype=dtype),
        grads=np.zeros(n_params if backward else 0, dtype=dtype),
        weights=np.zeros(capacity if weighted else 0, dtype=dtype),
    )


def spatial_argument(geom):
    """The drivers' ``spatial`` argument for a network of geometry ``geom``:
    None when every layer is Dense, else True. With None, Numba's dead-branch
    pruning removes every other kind's branch from the compiled driver, so a
    dense network compiles none of :mod:`fnn_numba.conv_kernels` (about half
    of a cold start); a driver given None for a network with other layers
    raises ValueError rather than skip them."""
    return None if bool(np.all(np.asarray(geom)[:, KIND] == DENSE)) else True


@njit(cache=True)
def view_f(buf, off, n, m):
    """The (n, m) F-ordered matrix stored at buf[off:off + n m]."""
    return buf[off : off + n * m].reshape((m, n)).T


@njit(cache=True)
def view_c(buf, off, n, m):
    """The (n, m) C-ordered matrix stored at buf[off:off + n m]."""
    return buf[off : off + n * m].reshape((n, m))


@njit(cache=True)
def scratch_view(buf, off, n, m):
    """:func:`view_c`, or an empty matrix where the workspace holds no such
    scratch (offset -1): P1 (13)'s copies exist only for the layers and batch
    sizes that take its dot-product order."""
    if off < 0:
        return buf[:0].reshape((0, 0))
    return view_c(buf, off, n, m)


@njit(cache=True)
def layer_output(buf, l, role, geom, mb):
    """Layer l's (n[l], mb) matrix of ``role`` in the workspace."""
    return view_f(buf.ws, buf.ws_off[role, l], geom[l - 1, N_OUT], mb)


@njit(cache=True)
def conv_weights(buf, g):
    """A Conv2D layer's (F, C, KH, KW) block of the flat vector ``buf``
    (parameters or gradient), at the layer's W offset."""
    return buf[g[W_OFF] : g[W_OFF] + g[W_SIZE]].reshape((g[OUT_C], g[IN_C], g[KH], g[KW]))


@njit(cache=True, inline="always")
def dense_forward(model, g, a_prev, z, a):
    """A Dense layer's forward equations, P1 (1) z = W a_prev + b then
    P1 (2) a = g(z); ``g`` is the layer's row of the geometry table."""
    n, K = g[N_OUT], g[N_IN]
    w = view_c(model.params, g[W_OFF], n, K)
    b = model.params[g[B_OFF] : g[B_OFF] + n]
    z_forward(w, b, a_prev, z)
    activation_forward(g[ACT], z, a)


@njit(cache=True, inline="always")
def layer_forward(model, l, a_prev, z, a, spatial):
    """Layer l's forward equations. Dense: P1 (1) z = W a_prev + b, then
    P1 (2) a = g(z). Conv2D: CNN (1) then P1 (2); MaxPool2D POOL (1),
    AvgPool2D POOL (3) (z is a); Subsample2D SUB (1) then P1 (2); Flatten
    a copy; Dropout DROP (1), its mask stored as z (all ones outside
    training, where a = a_prev). The equations are in
    :mod:`fnn_numba.conv_kernels`. ``spatial`` None: the network has Dense
    layers only (see :func:`spatial_argument`)."""
    g = model.geom[l - 1]
    if spatial is None:
        # pruned by Numba at compile time: a dense network never types, and
        # so never compiles, the other kinds' kernels
        if g[KIND] != DENSE:
            raise ValueError("spatial: None is only for networks of Dense layers")
        dense_forward(model, g, a_prev, z, a)
    elif g[KIND] == DENSE:
        dense_forward(model, g, a_prev, z, a)
    elif g[KIND] == CONV2D:
        conv_forward(
            conv_weights(model.params, g),
            model.params[g[B_OFF] : g[B_OFF] + g[OUT_C]],
            a_prev,
            z,
            g[IN_H],
            g[IN_W],
            g[STRIDE],
            g[PAD],
        )
        activation_forward(g[ACT], z, a)
    elif g[KIND] == MAXPOOL2D:
        maxpool_forward(a_prev, a, g[IN_C], g[IN_H], g[IN_W], g[KH], g[KW])
    elif g[KIND] == AVGPOOL2D:
        avgpool_forward(a_prev, a, g[IN_C], g[IN_H], g[IN_W], g[KH], g[KW])
    elif g[KIND] == SUBSAMPLE2D:
        C = g[IN_C]
        subsample_forward(
            model.params[g[W_OFF] : g[W_OFF] + C],
            model.params[g[B_OFF] : g[B_OFF] + C],
            a_prev,
            z,
            C,
            g[IN_H],
            g[IN_W],
            g[KH],
            g[KW],
        )
        activation_forward(g[ACT], z, a)
    elif g[KIND] == FLATTEN:
        copy_columns(a_prev, a)
    elif g[KIND] == DROPOUT:
        rate = model.hyper[l - 1, RATE] if model.training else 0.0
        dropout_mask(rate, model.rng[0], model.rng[1], l, z)
        dropout_apply(z, a_prev, a)


def forward_pass(model, x, buf, spatial=None):
    """P1 (7), (1), (2), (8): A[0] = x, then each layer's forward equations
    for l = 1..L. x is (n0, mb), F-ordered; Z[l], A[l] go to the workspace.
    Returns A[L]. ``spatial``: :func:`spatial_argument` of the network.

    A Python function that passes the fields of ``model`` and ``buf`` one
    by one to the compiled :func:`forward_pass_fields` (see
    :func:`train_batches` for why); compiled drivers inline
    :func:`forward_layers`, the same loop."""
    return forward_pass_fields(x, spatial, *model, *buf)


@njit(cache=True)
def forward_pass_fields(x, spatial, *fields):
    """:func:`forward_pass` with its named tuples passed as their fields, in
    the order Model, Buffers."""
    return forward_layers(Model(*fields[:MODEL_END]), x, Buffers(*fields[MODEL_END:]), spatial)


@njit(cache=True, inline="always")
def forward_layers(model, x, buf, spatial):
    """The loop of :func:`forward_pass` (inlined into the compiled drivers)."""
    return forward_layers_from(model, 1, x, buf, x.shape[1], spatial)


@njit(cache=True, inline="always")
def forward_layers_from(model, first, a_prev, buf, mb, spatial):
    """Layers first..L's forward equations, ``a_prev`` being A[first-1] of
    the batch of ``mb`` examples (the sparse drivers run layer 1 themselves
    and start here at 2); advances the dropout counter in training."""
    L = model.geom.shape[0]
    for l in range(first, L + 1):
        z = layer_output(buf, l, Z, model.geom, mb)
        a = layer_output(buf, l, A, model.geom, mb)
        layer_forward(model, l, a_prev, z, a, spatial)
        a_prev = a
    if model.training:
        # the next training step draws new dropout masks
        model.rng[1] += 1
    return a_prev


@njit(cache=True)
def weight_penalty(model):
    """The L2 term (lambda/2) sum_l ||W[l]||_F^2 over the layers with weights."""
    return l2_penalty(model.params, model.geom[:, W_OFF], model.geom[:, W_SIZE], model.l2)


@njit(cache=True)
def batch_l2(model, buf, mb):
    """lambda of the L2 term for the batch of ``mb`` examples in the
    workspace: ``model.l2``, or, with ``model.l2_per_weight`` and example
    weights of sum S_b > 0, l2 mb / S_b (see :class:`Model`)."""
    if model.l2_per_weight and buf.weights.shape[0] > 0:
        total = weight_sum(buf.weights[:mb])
        if total > 0:
            # mb / total first: exactly 1 for unit weights, so lambda is l2 bit for bit
            return model.l2 * (mb / total)
    return model.l2


@njit(cache=True)
def batch_cost(model, y, buf, with_penalty):
    """J = (1/m) sum_i L_i of the batch whose forward pass is in the
    workspace, or sum_i s_i L_i / sum_i s_i with the example weights of
    ``buf.weights``; plus the L2 term when ``with_penalty``."""
    L = model.geom.shape[0]
    mb = y.shape[1]
    z = layer_output(buf, L, Z, model.geom, mb)
    a = layer_output(buf, L, A, model.geom, mb)
    example_losses(model.cost_code, model.geom[L - 1, ACT], model.fused, z, a, y, buf.losses[:mb])
    if buf.weights.shape[0] > 0:
        J = weighted_mean_of(buf.losses[:mb], buf.weights[:mb])
    else:
        J = mean_of(buf.losses[:mb])
    if with_penalty and model.l2 > 0:
        J += l2_penalty(
            model.params, model.geom[:, W_OFF], model.geom[:, W_SIZE], batch_l2(model, buf, mb)
        )
    return J


@njit(cache=True, inline="always")
def output_delta(model, y, buf, mb, weights):
    """dJ/dZ[L] from the cost: the seed dJ/dA[L] then P1 (17) (the cross-sum
    P2 (8) for softmax), or the fused output delta; each weighted by
    s_i / S with the example weights weights[:mb] (the batch's, column
    order), or unweighted when ``weights`` is None (pruned at compile time,
    as ``spatial`` is: an unweighted fit compiles no weighted kernel)."""
    L = model.geom.shape[0]
    act = model.geom[L - 1, ACT]
    a = layer_output(buf, L, A, model.geom, mb)
    dz = layer_output(buf, L, DZ, model.geom, mb)
    if model.fused:
        if weights is None:
            output_delta_fused(act, a, y, dz)
        else:
            output_delta_fused_weighted(act, a, y, weights[:mb], dz)
    else:
        da = layer_output(buf, L, DA, model.geom, mb)
        if weights is None:
            cost_seed(model.cost_code, a, y, da)
        else:
            cost_seed_weighted(model.cost_code, a, y, weights[:mb], da)
        dz_backward(act, layer_output(buf, L, Z, model.geom, mb), a, da, dz)


@njit(cache=True, inline="always")
def layer_backward(model, l, x, buf, mb, l2, need_da_prev, spatial):
    """Layer l's backward equations, its dJ/dZ[l] already in the workspace.
    Dense: P1 (13), (14) into the gradient, then P1 (21) for dJ/dA[l-1];
    the other kinds in :func:`spatial_backward`. ``spatial`` as in
    :func:`layer_forward`."""
    g = model.geom[l - 1]
    if spatial is None and g[KIND] != DENSE:
        raise ValueError("spatial: None is only for networks of Dense layers")
    if spatial is None or g[KIND] == DENSE:
        n, K = g[N_OUT], g[N_IN]
        dz = layer_output(buf, l, DZ, model.geom, mb)
        a_prev = x if l == 1 else layer_output(buf, l - 1, A, model.geom, mb)
        w = view_c(model.params, g[W_OFF], n, K)
        dw_db_backward(
            dz,
            a_prev,
            w,
            w.dtype.type(l2),
            view_c(buf.grads, g[W_OFF], n, K),
            buf.grads[g[B_OFF] : g[B_OFF] + n],
            scratch_view(buf.ws, buf.ws_off[DZ_ROWS, l], n, mb),
            scratch_view(buf.ws, buf.ws_off[A_ROWS, l - 1], K, mb),
        )
        if need_da_prev:
            da_prev_backward(w, dz, view_f(buf.ws, buf.ws_off[DA, l - 1], K, mb))
    else:
        spatial_backward(model, l, x, buf, mb, l2, need_da_prev)


@njit(cache=True)
def spatial_backward(model, l, x, buf, mb, l2, need_da_prev):
    """:func:`layer_backward` of the layers of :mod:`fnn_numba.conv_kernels`.
    Conv2D: CNN (2), (3) into the gradient, then CNN (4); MaxPool2D POOL (2);
    AvgPool2D POOL (4); Subsample2D SUB (2), (3), then SUB (4); Flatten a
    copy; Dropout DROP (2) with the mask its forward pass stored as z."""
    g = model.geom[l - 1]
    kind = g[KIND]
    dz = layer_output(buf, l, DZ, model.geom, mb)
    a_prev = x if l == 1 else layer_output(buf, l - 1, A, model.geom, mb)
    C, H, W = g[IN_C], g[IN_H], g[IN_W]
    if kind == CONV2D:
        conv_dw_db(
            dz,
            a_prev,
            conv_weights(model.params, g),
            model.params.dtype.type(l2),
            conv_weights(buf.grads, g),
            buf.grads[g[B_OFF] : g[B_OFF] + g[OUT_C]],
            H,
            W,
            g[STRIDE],
            g[PAD],
        )
    elif kind == SUBSAMPLE2D:
        subsample_dbeta_db(
            dz,
            a_prev,
            model.params[g[W_OFF] : g[W_OFF] + C],
            model.params.dtype.type(l2),
            buf.grads[g[W_OFF] : g[W_OFF] + C],
            buf.grads[g[B_OFF] : g[B_OFF] + C],
            C,
            H,
            W,
            g[KH],
            g[KW],
        )
    if not need_da_prev:
        # layer 1 in training: dJ/dX has no storage and no use
        return
    da_prev = view_f(buf.ws, buf.ws_off[DA, l - 1], g[N_IN], mb)
    if kind == CONV2D:
        conv_da_prev(conv_weights(model.params, g), dz, da_prev, H, W, g[STRIDE], g[PAD])
    elif kind == SUBSAMPLE2D:
        subsample_da_prev(model.params[g[W_OFF] : g[W_OFF] + C], dz, da_prev, C, H, W, g[KH], g[KW])
    elif kind == MAXPOOL2D:
        maxpool_backward(a_prev, dz, da_prev, C, H, W, g[KH], g[KW])
    elif kind == AVGPOOL2D:
        avgpool_backward(dz, da_prev, C, H, W, g[KH], g[KW])
    elif kind == FLATTEN:
        copy_columns(dz, da_prev)
    elif kind == DROPOUT:
        dropout_apply(layer_output(buf, l, Z, model.geom, mb), dz, da_prev)


@njit(cache=True, inline="always")
def has_activation(kind):
    """Whether P1 (2) follows the forward equation of a layer of this kind."""
    return kind == DENSE or kind == CONV2D or kind == SUBSAMPLE2D


@njit(cache=True, inline="always")
def backward_layers(model, x, buf, l2, need_dx, spatial):
    """Backpropagation below the output, dJ/dZ[L] already in the workspace:
    for l = L..1 the layer's backward equations, then P1 (17) for layer l-1's
    dJ/dZ from the dJ/dA[l-1] just written; down to dJ/dX (stored at role
    DA, layer 0) when ``need_dx``. ``spatial`` as in :func:`layer_forward`."""
    backward_layers_down_to(model, 1, x, buf, x.shape[1], l2, need_dx, spatial)


@njit(cache=True, inline="always")
def backward_layers_down_to(model, lowest, x, buf, mb, l2, need_dx, spatial):
    """:func:`backward_layers` for l = L..lowest, ending with layer
    lowest-1's dJ/dZ when lowest > 1 (the sparse drivers run layer 1's
    equations themselves and stop here at 2; x is read for l = 1 only)."""
    L = model.geom.shape[0]
    for l in range(L, lowest - 1, -1):
        layer_backward(model, l, x, buf, mb, l2, l > 1 or need_dx, spatial)
        # a layer without an activation has dJ/dZ = dJ/dA, stored in the same place
        if l > 1 and has_activation(model.geom[l - 2, KIND]):
            dz_backward(
                model.geom[l - 2, ACT],
                layer_output(buf, l - 1, Z, model.geom, mb),
                layer_output(buf, l - 1, A, model.geom, mb),
                layer_output(buf, l - 1, DA, model.geom, mb),
                layer_output(buf, l - 1, DZ, model.geom, mb),
            )


@njit(cache=True, inline="always")
def backward_pass(model, x, y, buf, need_dx, spatial=None, weights=None):
    """Backpropagation of one batch whose forward pass is in the workspace:
    the output delta from the cost (weighted by the batch's example weights
    ``weights``, the array ``buf.weights`` holds, or unweighted for None),
    then :func:`backward_layers` with the L2 term (lambda of
    :func:`batch_l2`) in the weight gradients."""
    mb = x.shape[1]
    output_delta(model, y, buf, mb, weights)
    backward_layers(model, x, buf, batch_l2(model, buf, mb), need_dx, spatial)


@njit(cache=True)
def backward_from_output_gradient(model, x, g_out, buf, spatial=None):
    """Backpropagation from a given dJ/dA[L] (``g_out``, (n[L], mb), taken as
    is): P1 (17) at the output (the cross-sum P2 (8) for softmax, never the
    fused shortcut, which holds only for the library's own costs), then
    :func:`backward_layers` down to dJ/dX, without an L2 term (it belongs to
    a cost, and here the cost is the caller's)."""
    output_gradient_delta(model, g_out, buf, x.shape[1])
    backward_layers(model, x, buf, 0.0, True, spatial)


@njit(cache=True, inline="always")
def output_gradient_delta(model, g_out, buf, mb):
    """dJ/dZ[L] from a given dJ/dA[L] ``g_out`` by P1 (17) (the cross-sum
    P2 (8) for softmax)."""
    L = model.geom.shape[0]
    dz_backward(
        model.geom[L - 1, ACT],
        layer_output(buf, L, Z, model.geom, mb),
        layer_output(buf, L, A, model.geom, mb),
        g_out,
        layer_output(buf, L, DZ, model.geom, mb),
    )


@njit(cache=True)
def gather_columns(src, order, start, stop, dst):
    """dst[:, c] = src[:, order[start + c]]: one mini-batch, F-ordered."""
    n = src.shape[0]
    for c in range(stop - start):
        col = order[start + c]
        for r in range(n):
            dst[r, c] = src[r, col]


@njit(cache=True)
def gather_weights(S, order, start, stop, dst):
    """dst[c] = S[order[start + c]]: one mini-batch's example weights, in
    the order of its columns."""
    for c in range(stop - start):
        dst[c] = S[order[start + c]]


@njit(cache=True, inline="always")
def batch_gradient(model, X, Y, order, start, stop, buf, spatial=None, weights=None):
    """J and its gradient for the mini-batch of columns order[start:stop]:
    gather the columns, forward pass, J (L2 term included), and, when J is
    finite, the backward pass into ``buf.grads``; weighted by ``weights``
    (``buf.weights``, which the caller fills) unless it is None. Returns J."""
    L = model.geom.shape[0]
    mb = stop - start
    x = view_f(buf.x_buf, 0, model.geom[0, N_IN], mb)
    y = layer_output(buf, L, Y_BATCH, model.geom, mb)
    gather_columns(X, order, start, stop, x)
    gather_columns(Y, order, start, stop, y)
    forward_layers(model, x, buf, spatial)
    J = batch_cost(model, y, buf, True)
    if np.isfinite(J):
        backward_pass(model, x, y, buf, False, spatial, weights)
    return J


@njit(cache=True)
def apply_update(params, grads, upd):
    """The update from a gradient: optional clipping of each element to
    [-clip_value, clip_value] and of the global norm to clip_norm, then the
    optimizer's step (``upd.t[0] + 1`` is its 1-based count, Adam's t),
    refused (False, nothing written) when a parameter would become
    non-finite; on success ``upd.t[0]`` is advanced. Plain SGD needs no
    state and no step buffer (``velocity``, ``second`` and ``step`` may be
    empty): two passes over the parameters instead of three."""
    if upd.clip_value > 0:
        clip_gradient_value(grads, upd.clip_value)
    if upd.clip_norm > 0:
        clip_gradient_norm(grads, upd.clip_norm)
    t = upd.t[0] + 1
    if upd.kind == SGD:
        if not sgd_update_is_finite(params, grads, upd.learning_rate):
            return False
        sgd_update(params, grads, upd.learning_rate)
    else:
        optimizer_step(
            upd.kind,
            grads,
            upd.velocity,
            upd.second,
            t,
            upd.learning_rate,
            upd.momentum,
            upd.beta1,
            upd.beta2,
            upd.epsilon,
            upd.step,
        )
        if not step_is_finite(params, upd.step):
            return False
        optimizer_commit(
            upd.kind,
            params,
            grads,
            upd.velocity,
            upd.second,
            upd.learning_rate,
            upd.momentum,
            upd.beta1,
            upd.beta2,
            upd.step,
        )
    # advanced with the commit, so that the count always agrees with the
    # parameters, even when Python interrupts right after a call
    upd.t[0] = t
    return True


def train_batches(
    model, X, Y, order, batch_size, first_batch, stop_batch, buf, upd, batch_costs, S, spatial=None
):
    """Mini-batch training over batches [first_batch, stop_batch) of one
    epoch whose example order is ``order``.

    For each batch: its example weights S[order[start:stop]] into
    ``buf.weights`` unless S is None or empty (S[i] is the weight of column
    i of X; ``buf`` then has room for a batch of weights), then
    :func:`batch_gradient` (gather, forward pass, J, backward pass), then
    :func:`apply_update`. If J or any updated parameter would be
    non-finite, nothing is written and the batch's index is returned; -1 when
    all batches ran. batch_costs[b] receives batch b's J (before its update).

    A Python function: it passes the fields of ``model``, ``buf`` and
    ``upd`` one by one to the compiled :func:`train_batches_fields`, because
    Numba's dispatcher types 27 separate arrays and numbers faster than the
    same values inside three named tuples (about 5 us against 12 us a call,
    measured on a 2-core Zen 1; a 64-32-10 step is about 50 us).
    """
    if S is not None and S.shape[0] == 0:
        S = None  # unweighted: the compiled driver then holds no weighted kernel
    return train_batches_fields(
        X,
        Y,
        order,
        batch_size,
        first_batch,
        stop_batch,
        batch_costs,
        S,
        spatial,
        *model,
        *buf,
        *upd,
    )


@njit(cache=True)
def train_batches_fields(
    X, Y, order, batch_size, first_batch, stop_batch, batch_costs, S, spatial, *fields
):
    """:func:`train_batches` with its named tuples passed as their fields,
    in the order Model, Buffers, Update (see :func:`train_batches`)."""
    model = Model(*fields[:MODEL_END])
    buf = Buffers(*fields[MODEL_END:BUFFERS_END])
    upd = Update(*fields[BUFFERS_END:])
    return run_batches(
        model, X, Y, order, batch_size, first_batch, stop_batch, buf, upd, batch_costs, S, spatial
    )


@njit(cache=True, inline="always")
def run_batches(
    model, X, Y, order, batch_size, first_batch, stop_batch, buf, upd, batch_costs, S, spatial
):
    """The loop of :func:`train_batches` (inlined into its compiled driver)."""
    m = X.shape[1]
    for bi in range(first_batch, stop_batch):
        start = bi * batch_size
        stop = min(start + batch_size, m)
        if S is None:
            J = batch_gradient(model, X, Y, order, start, stop, buf, spatial, None)
        else:
            gather_weights(S, order, start, stop, buf.weights)
            J = batch_gradient(model, X, Y, order, start, stop, buf, spatial, buf.weights)
        if not np.isfinite(J):
            return bi
        if not apply_update(model.params, buf.grads, upd):
            return bi
        batch_costs[bi] = J
    return -1
