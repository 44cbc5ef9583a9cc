"""Sparse input: the first layer's equations as loops over stored entries.

A sparse X (SciPy CSR or CSC) is never densified. The network takes it as
a CSC matrix of shape (n0, m) (:func:`as_sparse_columns`): column i, example
i, holds its stored entries (k, x_ki) at ``indptr[i]:indptr[i + 1]`` of
``indices`` and ``data``, sorted by k, without duplicates. A scikit-learn
CSR matrix of shape (m, n0) is exactly that CSC matrix transposed (the same
three arrays), so the estimators pass ``X.T`` without a copy.

Only layer 1 sees X, in two equations of Jonas Lalin, "Feedforward Neural
Networks in Depth", part 1:

- P1 (1) for l = 1, z[j, c] = sum_k w[j, k] x[k, i] + b[j], where the sum
  runs over the stored entries of example i = cols[c] only
  (:func:`sparse_z_forward`);
- P1 (13) for l = 1, dw[j, k] = sum_c dz[j, c] x[k, cols[c]] + lambda w[j, k],
  each example's stored entries scattered into row j of dw, with P1 (14)
  db[j] = sum_c dz[j, c] in the same pass (:func:`sparse_dw_db_backward`).

Every other equation (P1 (2) of layer 1, layers 2..L, the cost, the seed,
the optimizer's update) is the dense kernel the Network already runs,
through the drivers of :mod:`fnn_numba.engine`; the batch is the list of
example indices ``cols`` (an epoch's order, sliced), so no batch of X is
gathered either. :class:`SparseCPUBackend` is the backend a
:class:`~fnn_numba.Network` of Dense layers uses for a sparse X.
"""

import sys

import numpy as np
from numba import njit, prange

from . import engine
from ._threading import kernel_section
from .backends import CPUBackend, _CPURunner
from .engine import DA, DZ, Y_BATCH, A, Z, layer_output, view_c, view_f
from .kernels import activation_forward, da_prev_backward
from .layers import ACT, B_OFF, DENSE, KIND, N_IN, N_OUT, W_OFF


def issparse(X):
    """Whether X is a SciPy sparse matrix or array. SciPy is not imported
    here (it would add a sixth of a second to every ``import fnn_numba``): a
    sparse X exists only in a process that has imported ``scipy.sparse``."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


# ------------------------------------------------------------------- kernels
@njit(parallel=True, cache=True)
def sparse_z_forward(w, b, indptr, indices, data, cols, z):
    """P1 (1) for layer 1 with a sparse input:
    z[j, c] = sum_{p in column i} w[j, indices[p]] data[p] + b[j], i = cols[c].

    Layout: X by example (CSC of (n0, m), or the CSR of (m, n0)): example i's
    entries (k = indices[p], x_ki = data[p]) for p in indptr[i]:indptr[i+1];
    w (n, n0) C-ordered; z (n, mb) F-ordered, column c for example cols[c].
    ``prange`` over rows j: each thread writes only row j of z, and reads
    only row j of w, which stays in cache while every example of the batch
    gathers from it (with the examples outermost, each example would gather
    from all of w, a cache miss per stored entry and row). For each (j, c)
    the entries are summed in stored order (k ascending for canonical
    input), then b[j] added, as the dense kernel sums k then adds b."""
    n = w.shape[0]
    zero = z.dtype.type(0)
    for j in prange(n):
        for c in range(cols.shape[0]):
            i = cols[c]
            s = zero
            for p in range(indptr[i], indptr[i + 1]):
                s += w[j, indices[p]] * data[p]
            z[j, c] = s + b[j]


@njit(parallel=True, cache=True)
def sparse_dw_db_backward(dz, indptr, indices, data, cols, w, l2, dw, db):
    """P1 (13) and (14) for layer 1 with a sparse input, with the L2 term:
    dw[j, k] = sum_c dz[j, c] x[k, cols[c]] + l2 w[j, k];  db[j] = sum_c dz[j, c].

    Layout as :func:`sparse_z_forward`; dz (n, mb) F-ordered, w and dw (n, n0)
    C-ordered. ``prange`` over rows j: each thread starts its row of dw at
    l2 w[j, k] (zero without L2), then walks every example c of the batch
    (c ascending) and scatters dz[j, c] x_kc into dw[j, k] for the example's
    stored entries. Each dw[j, k] is thus the same sum in the same order
    whatever the thread count (bit-identical results), and only stored
    entries are visited. As in the dense kernel, dz already carries the
    cost's 1/m (or s_i / S) and the L2 term is l2 w[j, k]."""
    n, K = dw.shape
    zero = dw.dtype.type(0)
    for j in prange(n):
        # the L2 term first: one pass over the row instead of a zeroing pass
        # and an adding pass (the sum then ends with it, not starts: a
        # difference of round-off from the dense kernel)
        if l2 != 0:
            for k in range(K):
                dw[j, k] = l2 * w[j, k]
        else:
            for k in range(K):
                dw[j, k] = zero
        sb = zero
        for c in range(cols.shape[0]):
            d = dz[j, c]
            sb += d
            i = cols[c]
            for p in range(indptr[i], indptr[i + 1]):
                dw[j, indices[p]] += d * data[p]
        db[j] = sb


# ------------------------------------------------------------------- drivers
# The drivers below the entry points are inline="always", as the engine's
# are: a separately compiled callee is re-optimised in every caller it is
# linked into, so each level of drivers would cost its whole tree again.
@njit(cache=True, inline="always")
def sparse_forward_pass(model, indptr, indices, data, cols, buf):
    """P1 (7), (1), (2), (8) with a sparse X: layer 1 by
    :func:`sparse_z_forward` then P1 (2), layers 2..L by the engine's loop
    :func:`fnn_numba.engine.forward_layers_from` (Dense layers only). Z[l],
    A[l] go to the workspace; returns A[L]."""
    geom = model.geom
    mb = cols.shape[0]
    g = geom[0]
    n, K = g[N_OUT], g[N_IN]
    z = layer_output(buf, 1, Z, geom, mb)
    a = layer_output(buf, 1, A, geom, mb)
    sparse_z_forward(
        view_c(model.params, g[W_OFF], n, K),
        model.params[g[B_OFF] : g[B_OFF] + n],
        indptr,
        indices,
        data,
        cols,
        z,
    )
    activation_forward(g[ACT], z, a)
    return engine.forward_layers_from(model, 2, a, buf, mb, None)


@njit(cache=True, inline="always")
def sparse_backward_layers(model, indptr, indices, data, cols, buf, l2, need_dx):
    """Backpropagation below the output with a sparse X, dJ/dZ[L] already in
    the workspace: for l = L..2 the engine's own loop
    (:func:`fnn_numba.engine.backward_layers_down_to`: P1 (13), (14), (21),
    then P1 (17) for layer l-1); then layer 1's P1 (13),
    (14) by :func:`sparse_dw_db_backward`, and, when ``need_dx``, P1 (21)
    dJ/dX = W1^T dJ/dZ[1] (dense, at role DA of layer 0)."""
    geom = model.geom
    mb = cols.shape[0]
    a1 = layer_output(buf, 1, A, geom, mb)  # the x argument, never read from layer 2 up
    engine.backward_layers_down_to(model, 2, a1, buf, mb, l2, True, None)
    g = geom[0]
    n, K = g[N_OUT], g[N_IN]
    w = view_c(model.params, g[W_OFF], n, K)
    dz = layer_output(buf, 1, DZ, geom, mb)
    sparse_dw_db_backward(
        dz,
        indptr,
        indices,
        data,
        cols,
        w,
        w.dtype.type(l2),
        view_c(buf.grads, g[W_OFF], n, K),
        buf.grads[g[B_OFF] : g[B_OFF] + n],
    )
    if need_dx:
        da_prev_backward(w, dz, view_f(buf.ws, buf.ws_off[DA, 0], K, mb))


@njit(cache=True, inline="always")
def sparse_batch_gradient(model, indptr, indices, data, cols, y, buf, need_dx, weights):
    """J (L2 term included) of the batch of examples ``cols`` with targets y
    ((nL, mb), F-ordered) and, when J is finite, its gradient into
    ``buf.grads``: the sparse forward pass, the cost, the output delta
    (weighted by ``weights`` unless None), :func:`sparse_backward_layers`."""
    sparse_forward_pass(model, indptr, indices, data, cols, buf)
    J = engine.batch_cost(model, y, buf, True)
    if np.isfinite(J):
        mb = cols.shape[0]
        engine.output_delta(model, y, buf, mb, weights)
        sparse_backward_layers(
            model, indptr, indices, data, cols, buf, engine.batch_l2(model, buf, mb), need_dx
        )
    return J


@njit(cache=True)
def sparse_output_gradient(model, indptr, indices, data, cols, g_out, buf):
    """:func:`fnn_numba.engine.backward_from_output_gradient` with a sparse
    X: P1 (17) at the output from the given dJ/dA[L], then
    :func:`sparse_backward_layers` down to dJ/dX, no L2 term."""
    sparse_forward_pass(model, indptr, indices, data, cols, buf)
    engine.output_gradient_delta(model, g_out, buf, cols.shape[0])
    sparse_backward_layers(model, indptr, indices, data, cols, buf, 0.0, True)


@njit(cache=True)
def sparse_train_batches(
    model,
    indptr,
    indices,
    data,
    Y,
    order,
    batch_size,
    first_batch,
    stop_batch,
    buf,
    upd,
    batch_costs,
    S,
):
    """:func:`fnn_numba.engine.train_batches` with a sparse X: for each batch
    of the epoch's ``order``, its targets (and weights, unless S is None)
    gathered, :func:`sparse_batch_gradient`, then
    :func:`fnn_numba.engine.apply_update`. Returns the index of the first
    batch whose J or update was non-finite (nothing written), or -1."""
    m = order.shape[0]
    L = model.geom.shape[0]
    for bi in range(first_batch, stop_batch):
        start = bi * batch_size
        stop = min(start + batch_size, m)
        cols = order[start:stop]
        y = layer_output(buf, L, Y_BATCH, model.geom, stop - start)
        engine.gather_columns(Y, order, start, stop, y)
        if S is None:
            J = sparse_batch_gradient(model, indptr, indices, data, cols, y, buf, False, None)
        else:
            engine.gather_weights(S, order, start, stop, buf.weights)
            J = sparse_batch_gradient(
                model, indptr, indices, data, cols, y, buf, False, buf.weights
            )
        if not np.isfinite(J):
            return bi
        if not engine.apply_update(model.params, buf.grads, upd):
            return bi
        batch_costs[bi] = J
    return -1


# ------------------------------------------------------------ Python side
def as_sparse_columns(name, X, dtype, rows):
    """A sparse X of shape (rows, m) as the canonical CSC matrix the drivers
    read: ``dtype`` data, sorted indices, duplicates summed, finite, m >= 1.
    CSC input of the right dtype in canonical form is used as it is (no
    copy); CSR and the other formats are converted once."""
    if X.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D sparse matrix of shape (n, m), got shape {X.shape}"
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.issubdtype(
        X.dtype, np.complexfloating
    ):
        raise TypeError(f"{name}: expected a real sparse matrix, got dtype {X.dtype}")
    if X.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows (one per input node), got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one example (column), got shape {X.shape}")
    X = sys.modules["scipy.sparse"].csc_matrix(X, dtype=dtype)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"{name}: contains NaN or inf (in {np.dtype(dtype).name})")
    return X


def check_network(net, name="X"):
    """Refuse a sparse X where it has no driver: on another device than the
    CPU, or for a network with layers other than Dense."""
    if net.device != "cpu":
        raise ValueError(
            f"{name}: sparse input is not supported on device={net.device!r}; use "
            f"device='cpu', or pass X.toarray()"
        )
    if np.any(net._geom[:, KIND] != DENSE):
        others = sorted({type(layer).__name__ for layer in net.layers[1:]} - {"Dense"})
        raise ValueError(
            f"{name}: sparse input needs a network of Dense layers only; this one "
            f"has {', '.join(others)}; pass X.toarray()"
        )


def _arrays(X):
    return X.indptr, X.indices, X.data


class SparseCPUBackend(CPUBackend):
    """The CPU backend (:mod:`fnn_numba.backends`) for a sparse X of a
    network of Dense layers: the same Model, cost, L2 term, chunked forward
    and update as :class:`~fnn_numba.backends.CPUBackend`, with layer 1 run
    by the sparse kernels. Its workspaces have no dense room for X (no
    x_buf, no (n0, m) scratch), except dJ/dX when asked for. ``cpu`` is the
    network's own CPU backend."""

    def __init__(self, cpu):
        super().__init__(cpu.net)
        self.cpu = cpu

    def buffers(self, capacity, purpose):
        """Scratch for batches of up to ``capacity`` examples: "forward" (A
        and Z), "fit" (and the backward roles) or "gradients" (and dJ/dX);
        kept while the capacity stays the same. "fit" (without dJ/dX) also
        serves :meth:`parameter_gradients`."""
        buf = self._buffers.get(purpose)
        if buf is not None and buf.losses.shape[0] == capacity:
            return buf
        # no role of size n0 (x_buf, P1 (13)'s copy of A[0]): the sparse
        # drivers never store X densely; only dJ/dX, for "gradients"
        geom = self.net._geom.copy()
        n0 = int(geom[0, N_IN])
        geom[0, N_IN] = 0
        ws_off, total = engine.workspace_layout(
            geom, capacity, backward=purpose != "forward", with_dx=False
        )
        if purpose == "gradients":
            ws_off[DA, 0] = total
            total += n0 * capacity
        dtype = self.net.dtype
        buf = engine.Buffers(
            ws=np.zeros(total, dtype=dtype),
            ws_off=ws_off,
            x_buf=np.zeros(0, dtype=dtype),
            losses=np.zeros(capacity, dtype=dtype),
            grads=np.zeros(self.net._params.size if purpose != "forward" else 0, dtype=dtype),
            weights=np.zeros(0, dtype=dtype),
        )
        self._buffers[purpose] = buf
        return buf

    def _forward_columns(self, model, X, s, e, buf):
        return sparse_forward_pass(model, *_arrays(X), np.arange(s, e), buf)

    def forward_all(self, X):
        m = X.shape[1]
        geom = self.net._geom
        buf = self.buffers(m, "forward")
        with kernel_section():
            sparse_forward_pass(self.model(), *_arrays(X), np.arange(m), buf)
        L = geom.shape[0]
        return (
            [layer_output(buf, l, Z, geom, m).copy(order="F") for l in range(1, L + 1)],
            [layer_output(buf, l, A, geom, m).copy(order="F") for l in range(1, L + 1)],
        )

    def gradients(self, X, Y, S=None):
        m = X.shape[1]
        buf = self.buffers(m, "gradients")
        if S is not None:
            buf = buf._replace(weights=S)
        model = self.model()
        with kernel_section():
            J = sparse_batch_gradient(
                model, *_arrays(X), np.arange(m), Y, buf, True, None if S is None else buf.weights
            )
        return buf.grads.copy(), self._input_gradient(buf, m), float(J)

    def parameter_gradients(self, X, Y, S=None):
        """(flat gradient, J) of the network's cost on all of X, weighted by
        S when given: :meth:`gradients` without dJ/dX, which for a sparse X
        would be a dense (n0, m) matrix (full-batch L-BFGS needs only this)."""
        m = X.shape[1]
        buf = self.buffers(m, "fit")
        if S is not None:
            buf = buf._replace(weights=S)
        with kernel_section():
            J = sparse_batch_gradient(
                self.model(),
                *_arrays(X),
                np.arange(m),
                Y,
                buf,
                False,
                None if S is None else buf.weights,
            )
        return buf.grads.copy(), float(J)

    def output_gradients(self, X, G):
        m = X.shape[1]
        buf = self.buffers(m, "gradients")
        with kernel_section():
            sparse_output_gradient(self.model(0.0), *_arrays(X), np.arange(m), G, buf)
        return buf.grads.copy(), self._input_gradient(buf, m)

    def runner(self, plan):
        return _SparseRunner(self, plan)


class _SparseRunner(_CPURunner):
    """The CPU runner of ``fit`` for a sparse X: the epoch's order goes to
    :func:`sparse_train_batches`, which reads each batch's examples in place
    (the workspace is :meth:`SparseCPUBackend.buffers`')."""

    def _train_batches(self, order, first, stop, batch_costs):
        p = self.plan
        return sparse_train_batches(
            self.model,
            *_arrays(p.X),
            p.Y,
            order,
            p.batch_size,
            first,
            stop,
            self.buf,
            self.upd,
            batch_costs,
            self.S,
        )
