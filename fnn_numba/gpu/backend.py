"""The device backend of ``Network(device="cuda")``: parameters, data and
workspaces on the GPU, driven by the launchers of :mod:`fnn_numba.gpu.kernels`
and :mod:`fnn_numba.gpu.fused`.

It mirrors :mod:`fnn_numba.engine` pass for pass: forward propagation is
P1 (1) then P1 (2) layer by layer; the cost is the losses L_i, their mean and
the L2 term; backward propagation is the seed (or the fused output delta),
P1 (17), P1 (13) + (14) and P1 (21), layer by layer, down to dJ/dX; a
training step adds the optimizer's step, its finiteness check and its commit.
No formula is written here.

Where the data live:

- The parameters live on the device as one flat vector [W1, b1, W2, b2, ...]
  with the CPU's offsets; W[l] is a C-ordered view, b[l] a slice. The host
  copy (``Network._params``) stays the one the user reads and writes: every
  device call uploads it first, and ``fit`` copies the device parameters back
  after every epoch (and at a divergence), so the host copy is current
  whenever Python code can look at it.
- ``fit`` uploads X and Y once (and a validation set, when given to
  :meth:`DeviceNetwork.begin_fit`, once: :meth:`DeviceNetwork.evaluate` runs
  on the device's current parameters, with no upload); each epoch uploads
  its example order (drawn on the host by the network's seeded generator, so
  that the GPU sees exactly the batches the CPU would) and launches every
  batch's kernels without waiting; only the epoch's batch costs, a status
  word and the parameters come back. The optimizer's state comes back at
  :meth:`DeviceNetwork.end_fit` (or every epoch, for a caller that asks for
  it with ``sync_state=True``).
- Divergence: a non-finite batch cost or update sets the status word to the
  batch's index, after which :func:`~fnn_numba.gpu.kernels.optimizer_commit_cuda`
  writes nothing; the host reads the word once per epoch and raises
  :class:`~fnn_numba.network.TrainingDivergedError` with the weights of the
  last finite step, as the CPU does.

Small networks are launch-bound (about 20 launches per batch); the fused
path :func:`fnn_numba.gpu.fused.train_epoch_fused_cuda`, one kernel per
epoch, is used for them (see :meth:`DeviceNetwork.fused_fits`).
"""

import numpy as np

from .. import engine
from ..kernels import SGD
from . import fused as gf
from . import kernels as gk
from .target import IMPORT_ERROR, cuda, simulated

INSTALL_HINT = (
    'install the CUDA extra with  pip install "fnn-numba[cuda]"  (numba-cuda 0.30.4 '
    "with the CUDA 12 libraries, and NumPy < 2.5, under which numba-cuda 0.30.4 "
    "cannot compile any kernel) and an NVIDIA driver for your GPU"
)


class CudaUnavailableError(RuntimeError):
    """``device="cuda"`` was asked for where no usable CUDA GPU is."""


def unavailable_reason():
    """Why ``device="cuda"`` cannot be used here, or None when it can."""
    if cuda is None:
        return f"numba.cuda could not be imported ({IMPORT_ERROR!r})"
    if not simulated():
        major, minor = (int(p) for p in np.__version__.split(".")[:2])
        if (major, minor) >= (2, 5):
            return (
                f"NumPy {np.__version__} is installed, and numba-cuda 0.30.4 cannot compile "
                f"kernels under NumPy >= 2.5 (numpy.row_stack was removed)"
            )
    try:
        available = cuda.is_available()
    except Exception as exc:  # a broken driver installation raises here
        return f"the CUDA driver could not be initialised ({exc!r})"
    if not available:
        return "no CUDA GPU or NVIDIA driver was found (numba.cuda.is_available() is False)"
    return None


def require_cuda():
    """Raise :class:`CudaUnavailableError`, saying why and what to install,
    unless a CUDA GPU (or Numba's CUDA simulator) can be used."""
    reason = unavailable_reason()
    if reason is not None:
        raise CudaUnavailableError(
            f"device: 'cuda' is unavailable: {reason}. To use a GPU, "
            f"{INSTALL_HINT}; or use device='cpu'."
        )


class _Views:
    """The (n[l], mb) F-ordered views of a workspace for batches of mb examples."""

    def __init__(self, bufs, sizes, mb):
        def view(buf, n):
            return buf[: n * mb].reshape((n, mb), order="F")

        self.z = [None if b is None else view(b, n) for b, n in zip(bufs["z"], sizes)]
        self.a = [view(b, n) for b, n in zip(bufs["a"], sizes)]
        self.da = [view(b, n) for b, n in zip(bufs["da"], sizes)]
        self.dz = [None if b is None else view(b, n) for b, n in zip(bufs["dz"], sizes)]
        self.y = view(bufs["y"], sizes[-1])
        self.losses = bufs["losses"][:mb]


class DeviceNetwork:
    """One network's parameters and workspaces on the device.

    Holds no maths: every method launches kernels of
    :mod:`fnn_numba.gpu.kernels` in the order of the derivation.
    """

    #: examples per forward pass of :meth:`evaluate`
    FORWARD_CHUNK = 4096

    def __init__(self, sizes, act_codes, cost_code, fused, dtype):
        require_cuda()
        self.sizes = [int(s) for s in sizes]
        self.L = len(self.sizes) - 1
        self.act_codes = [int(c) for c in act_codes]
        self.cost_code = int(cost_code)
        self.fused = bool(fused)
        self.dtype = np.dtype(dtype).type
        self.w_off, self.b_off, n_params = engine.parameter_layout(self.sizes)
        self.n_params = n_params
        self.params = cuda.device_array(n_params, dtype=self.dtype)
        self.grads = cuda.device_array(n_params, dtype=self.dtype)
        self.W, self.b = self._layer_views(self.params)
        self.dW, self.db = self._layer_views(self.grads)
        w_len = np.array([self.sizes[l + 1] * self.sizes[l] for l in range(self.L)], dtype=np.int64)
        self.w_seg = (cuda.to_device(self.w_off.astype(np.int64)), cuda.to_device(w_len))
        self.all_seg = (
            cuda.to_device(np.zeros(1, np.int64)),
            cuda.to_device(np.array([n_params], np.int64)),
        )
        self.partial = cuda.device_array(gk.REDUCE_BLOCKS, dtype=np.float64)
        self.norm = cuda.device_array(1, dtype=np.float64)
        self.costs = cuda.device_array(1, dtype=np.float64)
        self._workspaces = {}

    def _layer_views(self, flat):
        ws, bs = [], []
        for l in range(self.L):
            n, K = self.sizes[l + 1], self.sizes[l]
            o = int(self.w_off[l])
            ws.append(flat[o : o + n * K].reshape((n, K)))
            o = int(self.b_off[l])
            bs.append(flat[o : o + n])
        return ws, bs

    # ----------------------------------------------------------- parameters
    def upload_params(self, host_params):
        self.params.copy_to_device(np.ascontiguousarray(host_params, dtype=self.dtype))

    def download_params(self, host_params):
        self.params.copy_to_host(host_params)

    # ------------------------------------------------------------ workspace
    def workspace(self, capacity, purpose):
        """Device buffers for batches of up to ``capacity`` examples, kept per
        purpose ("fit", "forward", "gradients") while the capacity stays."""
        ws = self._workspaces.get(purpose)
        if ws is None or ws["capacity"] != capacity:
            dt = self.dtype

            def alloc(n):
                return cuda.device_array(n * capacity, dtype=dt)

            bufs = dict(
                z=[None] + [alloc(n) for n in self.sizes[1:]],
                a=[alloc(n) for n in self.sizes],  # a[0] holds the batch's X
                da=[alloc(n) for n in self.sizes],  # da[0] holds dJ/dX
                dz=[None] + [alloc(n) for n in self.sizes[1:]],
                y=alloc(self.sizes[-1]),
                losses=cuda.device_array(capacity, dtype=dt),
            )
            ws = dict(capacity=capacity, bufs=bufs, views={})
            self._workspaces[purpose] = ws
        return ws

    def views(self, ws, mb):
        v = ws["views"].get(mb)
        if v is None:
            v = ws["views"][mb] = _Views(ws["bufs"], self.sizes, mb)
        return v

    # --------------------------------------------------------------- passes
    def forward(self, v, x):
        """P1 (7), (1), (2), (8): A[0] = x, then Z[l], A[l] for l = 1..L."""
        a_prev = x
        for l in range(1, self.L + 1):
            gk.launch_z_forward(self.W[l - 1], self.b[l - 1], a_prev, v.z[l])
            gk.launch_activation_forward(self.act_codes[l - 1], v.z[l], v.a[l])
            a_prev = v.a[l]

    def cost(self, v, y, l2, costs, idx):
        """costs[idx] = J = (1/m) sum_i L_i (+ the L2 term) of the forward pass in v."""
        L = self.L
        gk.launch_example_losses(
            self.cost_code, self.act_codes[L - 1], self.fused, v.z[L], v.a[L], y, v.losses
        )
        gk.launch_mean_of(v.losses, costs, idx)
        if l2 > 0:
            gk.launch_l2_penalty(
                self.params, self.w_seg[0], self.w_seg[1], float(l2), self.partial, costs, idx
            )

    def backward(self, v, x, y, l2, need_dx):
        """The seed and P1 (17) at the output (or the fused dJ/dZ[L]); then for
        l = L..1 P1 (17), P1 (13) + (14) into the gradient and P1 (21), down
        to dJ/dX in ``v.da[0]`` when ``need_dx``."""
        L = self.L
        if self.fused:
            gk.launch_output_delta_fused(self.act_codes[L - 1], v.a[L], y, v.dz[L])
        else:
            gk.launch_cost_seed(self.cost_code, v.a[L], y, v.da[L])
            gk.launch_dz_backward(self.act_codes[L - 1], v.z[L], v.a[L], v.da[L], v.dz[L])
        l2v = self.dtype(l2)
        for l in range(L, 0, -1):
            if l < L:
                gk.launch_dz_backward(self.act_codes[l - 1], v.z[l], v.a[l], v.da[l], v.dz[l])
            a_prev = x if l == 1 else v.a[l - 1]
            gk.launch_dw_db_backward(
                v.dz[l], a_prev, self.W[l - 1], l2v, self.dW[l - 1], self.db[l - 1]
            )
            if l > 1 or need_dx:
                gk.launch_da_prev_backward(self.W[l - 1], v.dz[l], v.da[l - 1])

    # ------------------------------------------------------- public entries
    def forward_chunks(self, X, Y=None, chunk=4096):
        """A[L] for the host inputs X (n0, m), by chunks of ``chunk`` examples;
        with targets Y also J = (1/m) sum_i L_i (no L2 term, as on the CPU)."""

        def load(v, s, e):
            v.a[0].copy_to_device(np.asfortranarray(X[:, s:e]))
            if Y is not None:
                v.y.copy_to_device(np.asfortranarray(Y[:, s:e]))
            return v.a[0], (None if Y is None else v.y)

        return self._forward_by_chunks(X.shape[1], chunk, "forward", load)

    def _forward_by_chunks(self, m, chunk, purpose, load):
        """(A[L] on the host, mean L_i or 0) over m examples, ``chunk`` at a
        time; ``load(v, s, e)`` gives the device inputs (and targets, or
        None) of examples [s, e)."""
        cap = min(m, chunk)
        ws = self.workspace(cap, purpose)
        out = np.empty((self.sizes[-1], m), dtype=self.dtype, order="F")
        loss_sum = 0.0
        for s in range(0, m, cap):
            e = min(s + cap, m)
            v = self.views(ws, e - s)
            x, y = load(v, s, e)
            self.forward(v, x)
            if y is not None:
                self.cost(v, y, 0.0, self.costs, 0)
                loss_sum += float(self.costs.copy_to_host()[0]) * (e - s)
            out[:, s:e] = v.a[self.L].copy_to_host()
        return out, loss_sum / m

    def batch_gradient(self, v, X, Y, l2, need_dx, finite_only=False):
        """J of the batch (X, Y) (host arrays, uploaded into the views ``v``)
        after the forward pass, the cost and the backward pass: the gradient
        is left in ``self.grads`` and, when ``need_dx``, dJ/dX in ``v.da[0]``.
        With ``finite_only`` the backward pass is skipped when J is not finite
        (``self.grads`` then holds nothing of this batch)."""
        v.a[0].copy_to_device(np.asfortranarray(X))
        v.y.copy_to_device(np.asfortranarray(Y))
        self.forward(v, v.a[0])
        self.cost(v, v.y, l2, self.costs, 0)
        J = float(self.costs.copy_to_host()[0])
        if not finite_only or np.isfinite(J):
            self.backward(v, v.a[0], v.y, l2, need_dx)
        return J

    def gradients(self, X, Y, l2):
        """(flat gradient, dJ/dX, J) for the whole batch X (host arrays)."""
        m = X.shape[1]
        v = self.views(self.workspace(m, "gradients"), m)
        J = self.batch_gradient(v, X, Y, l2, True)
        return self.grads.copy_to_host(), v.da[0].copy_to_host(), J

    # ------------------------------------------------------------- training
    def begin_fit(self, X, Y, batch_size, velocity, second_moment, Xv=None, Yv=None):
        """Upload the training data, the optimizer's state and (when given)
        the validation set, once; returns the fit's device state for
        :meth:`train_batches`, :meth:`evaluate` and :meth:`end_fit`."""
        m = X.shape[1]
        n_batches = (m + batch_size - 1) // batch_size
        ws = self.workspace(batch_size, "fit")
        fit = dict(
            X=cuda.to_device(np.asfortranarray(X)),
            Y=cuda.to_device(np.asfortranarray(Y)),
            order=cuda.device_array(m, dtype=np.int64),
            batch_size=batch_size,
            m=m,
            batch_costs=cuda.device_array(n_batches, dtype=np.float64),
            status=cuda.device_array(1, dtype=np.int64),
            ws=ws,
            velocity=cuda.to_device(velocity),
            second=cuda.to_device(second_moment),
            step=cuda.device_array(self.n_params, dtype=self.dtype),
            Xv=None,
            Yv=None,
        )
        if Xv is not None:
            fit["Xv"] = cuda.to_device(np.asfortranarray(Xv))
            fit["Yv"] = cuda.to_device(np.asfortranarray(Yv))
        return fit

    def queue_batches(self, fit, first, stop, upd, t0, l2):
        """Queue batches [first, stop) of the order in ``fit["order"]``,
        without waiting and without any copy: the fused epoch when
        :meth:`fused_fits`, else every batch's per-equation kernels.
        ``upd`` is the :class:`~fnn_numba.engine.Update` of the CPU driver
        (its hyperparameters are read; the state arrays are the fit's device
        copies), ``t0`` the optimizer's step count before batch ``first``."""
        m, bs = fit["m"], fit["batch_size"]
        status, costs = fit["status"], fit["batch_costs"]
        kind, clip_norm, learning_rate = upd.kind, upd.clip_norm, upd.learning_rate
        if self.fused_fits(fit, kind, clip_norm):
            gf.launch_train_epoch_fused(self, fit, first, stop, upd, t0, l2)
            return
        for bi in range(first, stop):
            start = bi * bs
            end = min(start + bs, m)
            v = self.views(fit["ws"], end - start)
            x, y = v.a[0], v.y
            gk.launch_gather_columns(fit["X"], fit["order"], start, end, x)
            gk.launch_gather_columns(fit["Y"], fit["order"], start, end, y)
            self.forward(v, x)
            self.cost(v, y, l2, costs, bi)
            gk.launch_cost_is_finite(costs, bi, status, bi)
            self.backward(v, x, y, l2, False)
            if clip_norm > 0:
                gk.launch_clip_gradient_norm(
                    self.grads,
                    self.all_seg[0],
                    self.all_seg[1],
                    float(clip_norm),
                    self.partial,
                    self.norm,
                )
            t = t0 + (bi - first) + 1
            gk.launch_optimizer_step(
                kind,
                self.grads,
                fit["velocity"],
                fit["second"],
                t,
                learning_rate,
                upd.momentum,
                upd.beta1,
                upd.beta2,
                upd.epsilon,
                fit["step"],
            )
            gk.launch_step_is_finite(self.params, fit["step"], status, bi)
            gk.launch_optimizer_commit(
                kind,
                self.params,
                self.grads,
                fit["velocity"],
                fit["second"],
                learning_rate,
                upd.momentum,
                upd.beta1,
                upd.beta2,
                fit["step"],
                status,
            )

    def train_batches(
        self, fit, order, first, stop, batch_costs, upd, l2, host_params, *, sync_state=True
    ):
        """Batches [first, stop) of one epoch whose example order is ``order``:
        the GPU twin of :func:`fnn_numba.engine.train_batches`, same
        arguments' meaning (``upd`` its :class:`~fnn_numba.engine.Update`;
        the step count is read from ``upd.t`` and not advanced here) and
        same return value (the index of the batch whose cost or update was
        non-finite, else -1).

        Every batch's kernels are queued without waiting; at the end the batch
        costs [first, stop) go to ``batch_costs`` and the parameters to
        ``host_params``; the optimizer's state goes to ``upd.velocity`` and
        ``upd.second`` when ``sync_state`` (else at :meth:`end_fit`).
        """
        fit["order"].copy_to_device(np.ascontiguousarray(order, dtype=np.int64))
        fit["status"].copy_to_device(np.full(1, -1, dtype=np.int64))
        self.queue_batches(fit, first, stop, upd, int(upd.t[0]), l2)
        bad = int(fit["status"].copy_to_host()[0])
        batch_costs[first:stop] = fit["batch_costs"][first:stop].copy_to_host()
        self.params.copy_to_host(host_params)
        if sync_state:
            self.end_fit(fit, upd.kind, upd.velocity, upd.second)
        return bad

    def end_fit(self, fit, kind, velocity, second_moment):
        """Copy the optimizer's state (momentum's velocity, Adam's moments)
        back to the host arrays; plain SGD has none."""
        if kind != SGD:
            fit["velocity"].copy_to_host(velocity)
            fit["second"].copy_to_host(second_moment)

    def evaluate(self, fit):
        """(A[L] on the host, (1/m) sum_i L_i) for the validation set given to
        :meth:`begin_fit`, with the device's current parameters: nothing is
        uploaded (the L2 term, which needs no data, is the caller's)."""
        Xv, Yv = fit["Xv"], fit["Yv"]
        if Xv is None:
            raise ValueError(
                "evaluate: expected a fit begun with a validation set (Xv, Yv), got one without"
            )
        return self._forward_by_chunks(
            Xv.shape[1], self.FORWARD_CHUNK, "evaluate", lambda v, s, e: (Xv[:, s:e], Yv[:, s:e])
        )

    def fused_fits(self, fit, kind, clip_norm):
        """Whether the one-kernel-per-epoch path takes this fit (see
        :func:`fnn_numba.gpu.fused.train_epoch_fused_cuda`)."""
        if not gf.FUSED_EPOCH or clip_norm > 0:
            return False
        return gf.fused_epoch_fits(self.sizes, fit["batch_size"])
