"""Full-batch L-BFGS over a network's flat parameter vector.

The objective is the network's own cost on the whole training set,
J(theta) = (1/m) sum_i L_i + (lambda/2) sum_l ||W[l]||_F^2 with lambda the
network's ``l2`` (with example weights s, the weighted mean
sum_i s_i L_i / sum_i s_i in place of the mean), and its gradient is the one backpropagation computes
(P1 (9)-(22): the seed, dJ/dZ, dJ/dW = dJ/dZ A[l-1]^T + lambda W,
dJ/db = sum_i dJ/dZ[:, i]), both from the jitted kernels through
:meth:`fnn_numba.Network.gradients`. SciPy's L-BFGS-B (without bounds) does
the quasi-Newton steps and the line search on theta = [W1, b1, W2, b2, ...],
the layout of :meth:`fnn_numba.Network.get_parameters`.

SciPy works in float64: for a float32 network theta is rounded to float32
before each evaluation and J and the gradient come back as float64 copies
of float32 values, so the line search sees float32 noise (about 1e-7 J);
``tol`` below that stops it early, as it would any float32 L-BFGS.
"""

from dataclasses import dataclass, field

import numpy as np

from . import _validation as V
from . import sparse as sparse_mod
from ._encoding import one_hot

__all__ = ["LbfgsResult", "fit_lbfgs", "flat_cost_and_gradient", "set_flat_parameters"]


@dataclass
class LbfgsResult:
    """What :func:`fit_lbfgs` did: ``n_iter`` quasi-Newton iterations (at most
    ``max_iter``), ``n_fun`` evaluations of J and its gradient, the final
    ``loss`` J, whether SciPy reported convergence (``converged``, status 0)
    and its ``status`` code and ``message``; ``loss_curve`` holds J after each
    iteration."""

    n_iter: int
    n_fun: int
    loss: float
    converged: bool
    status: int
    message: str
    loss_curve: list = field(default_factory=list)


def set_flat_parameters(net, theta):
    """Write the flat vector theta (the layout of :meth:`Network.get_parameters`,
    for any stack of layers) into ``net``, converted to the network's dtype."""
    theta = np.asarray(theta)
    if theta.shape != (net.n_parameters,):
        raise ValueError(f"theta: expected shape ({net.n_parameters},), got {theta.shape}")
    net.set_parameters(theta.astype(net.dtype, copy=False))


def flat_cost_and_gradient(net, X, Y, theta, sample_weight=None):
    """(J(theta), dJ/dtheta) as float64, the gradient flattened in the layout
    of theta (weighted by ``sample_weight`` when given); leaves ``net`` at
    theta."""
    set_flat_parameters(net, theta)
    if sparse_mod.issparse(X):
        # without dJ/dX, which for a sparse X is a dense (n0, m) matrix
        X = net._check_x(X, sparse=True)
        Y = _network_targets(net, Y, X.shape[1])
        S = net._check_sample_weight(sample_weight, X.shape[1])
        with net._lock:
            grads, J = net._backend_for(X).parameter_gradients(X, Y, S)
        return J, grads.astype(np.float64)
    g = net.gradients(X, Y, sample_weight)
    return float(g.cost), net.flatten_gradients(g).astype(np.float64)


def fit_lbfgs(
    net,
    X,
    Y,
    *,
    max_iter=200,
    max_fun=15000,
    tol=1e-4,
    verbose=False,
    callback=None,
    sample_weight=None,
):
    """Minimise the network's cost on all of (X, Y) with L-BFGS-B.

    Parameters
    ----------
    net : fnn_numba.Network
        Trained in place, from its current parameters.
    X : array of shape (n0, m), or SciPy sparse (CSR, CSC) of that shape
        Inputs, columns are examples (as every Network method takes them).
    Y : array of shape (nL, m), or (m,) labels for categorical cross-entropy
    max_iter : int
        Most quasi-Newton iterations (SciPy's ``maxiter``).
    max_fun : int
        Most evaluations of J and its gradient (SciPy's ``maxfun``); the
        line search may evaluate a few times per iteration.
    tol : float
        SciPy's ``gtol``: stop when the largest absolute entry of the projected gradient
        is at most tol.
    verbose : bool
        Print "Iteration %d, loss = %.8f" after each iteration.
    callback : callable or None
        ``callback(iteration, loss)`` after each iteration.
    sample_weight : array of shape (m,) or None
        Example weights s (finite, >= 0, not all zero): J is then
        sum_i s_i L_i / sum_i s_i plus the L2 term.

    Returns
    -------
    LbfgsResult

    Notes
    -----
    The network ends at SciPy's final iterate. A J or gradient that is not
    finite is handed to SciPy as it is; the line search then backs off or
    SciPy stops with a non-zero status (``converged`` False).
    """
    try:
        import scipy.optimize
    except ImportError as exc:  # pragma: no cover - scipy comes with scikit-learn
        raise ImportError(f"fit_lbfgs needs SciPy's L-BFGS-B: pip install scipy ({exc})") from exc

    max_iter = V.check_positive("max_iter", max_iter, integer=True)
    max_fun = V.check_positive("max_fun", max_fun, integer=True)
    tol = V.check_positive("tol", tol, allow_zero=True)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable or None, got {callback!r}")
    # validate once (and make the F-ordered copies once), so that every
    # evaluation below passes its arrays through unchanged
    # (a SciPy sparse X becomes the canonical CSC matrix that the sparse
    # first-layer kernels read; it is never densified)
    X = (
        net._check_x(X, sparse=True)
        if sparse_mod.issparse(X)
        else V.as_float_matrix("X", X, net.dtype, rows=net.sizes[0])
    )
    net.cost(X, Y)  # checks Y against X and the cost, before anything changes
    S = net._check_sample_weight(sample_weight, X.shape[1])
    Y = _network_targets(net, Y, X.shape[1])

    last = {"J": float("nan")}
    curve = []

    def fun(theta):
        J, grad = flat_cost_and_gradient(net, X, Y, theta, S)
        last["J"] = J
        return J, grad

    def after_iteration(intermediate_result):
        J = float(intermediate_result.fun)
        curve.append(J)
        if verbose:
            print(f"Iteration {len(curve)}, loss = {J:.8f}", flush=True)
        if callback is not None:
            callback(len(curve), J)

    theta0 = net.get_parameters().astype(np.float64)
    res = scipy.optimize.minimize(
        fun,
        theta0,
        method="L-BFGS-B",
        jac=True,
        callback=after_iteration,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    set_flat_parameters(net, res.x)
    return LbfgsResult(
        n_iter=int(min(res.nit, max_iter)),
        n_fun=int(res.nfev),
        loss=float(res.fun),
        converged=bool(res.status == 0),
        status=int(res.status),
        message=str(res.message),
        loss_curve=curve,
    )


def _network_targets(net, Y, m):
    """Y as the dense (nL, m) matrix of the network's dtype that ``gradients``
    passes through without a copy (integer labels become one-hot columns)."""
    Y = np.asarray(Y)
    if Y.ndim == 1 and net.cost_name == "categorical_cross_entropy":
        return one_hot(Y, net.sizes[-1], net.dtype, name="Y", m=m)
    if Y.ndim == 1:
        Y = Y.reshape(1, -1)
    return np.asarray(Y, dtype=net.dtype, order="F")
