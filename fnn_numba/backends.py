"""Backends: where a network's computations run.

:class:`~fnn_numba.Network` validates, holds the parameters, the layers and
the history, and delegates every computation to one backend with the
interface below. :class:`CPUBackend` runs the jitted drivers of
:mod:`fnn_numba.engine`; :class:`CUDABackend` runs their CUDA twins
(:mod:`fnn_numba.gpu_engine`).

Interface (X, Y, G are validated, F-ordered host arrays of the network's dtype):

- ``forward(X, Y=None, S=None)`` -> (A[L], mean loss over the examples or 0.0;
  with example weights S the weighted mean sum_i s_i L_i / sum_i s_i)
- ``forward_all(X)`` -> ([Z[1..L]], [A[1..L]]) for one batch
- ``gradients(X, Y, S=None)`` -> (flat gradient, dJ/dX, J) of the network's
  cost (weighted by S when given)
- ``output_gradients(X, G)`` -> (flat gradient, dJ/dX) for a given dJ/dA[L]
- ``runner(plan)`` -> a :class:`~fnn_numba.training.BatchRunner` for ``fit``
"""

import numpy as np

from . import engine
from ._threading import kernel_section
from .kernels import l2_penalty
from .layers import DENSE, DROPOUT, KIND, N_OUT, W_OFF, W_SIZE
from .training import BatchRunner, LocalBatches, chunk_for

#: examples per call of the jitted forward pass in forward/predict/cost;
#: bounds the workspace for large inputs.
FORWARD_CHUNK = 4096


class CPUBackend:
    """The network's computations on the CPU, through :mod:`fnn_numba.engine`."""

    name = "cpu"

    def __init__(self, net):
        self.net = net
        self._buffers = {}
        #: the drivers' ``spatial`` argument (:func:`fnn_numba.engine.spatial_argument`);
        #: a network's layers, and so its geometry table, are fixed when it is built
        self.spatial = engine.spatial_argument(net._geom)
        self._has_dropout = bool(np.any(net._geom[:, KIND] == DROPOUT))
        # outside training the dropout key is never read or advanced
        self._no_rng = np.zeros(2, dtype=np.int64)

    def model(self, l2=None, training=False):
        """The drivers' :class:`~fnn_numba.engine.Model`; with ``training``
        Dropout layers draw masks, keyed by a number drawn from the network's
        generator (only when the network has Dropout layers, so that other
        networks' shuffles are unchanged)."""
        net = self.net
        rng = self._no_rng
        if training:
            rng = np.zeros(2, dtype=np.int64)
            if self._has_dropout:
                rng[0] = net._rng.integers(0, 2**62)
        return engine.Model(
            params=net._params,
            geom=net._geom,
            cost_code=net._cost_code,
            fused=net._fused,
            l2=float(net.l2 if l2 is None else l2),
            hyper=net._hyper,
            training=bool(training),
            rng=rng,
        )

    def buffers(self, capacity, purpose):
        """Scratch for batches of up to ``capacity`` examples, allocated once
        and reused while the capacity stays the same; one set per purpose
        ("fit", "forward", "gradients") so that validating during fit, or a
        custom loop calling :meth:`gradients` on equal batches (a GAN's),
        allocates nothing. What :meth:`gradients` returns is copied out."""
        buf = self._buffers.get(purpose)
        if buf is None or buf.losses.shape[0] != capacity:
            buf = engine.new_buffers(
                self.net._geom, self.net._params.size, capacity, self.net.dtype, purpose
            )
            self._buffers[purpose] = buf
        return buf

    def penalty(self):
        """(lambda/2) sum ||W||^2, in the kernels' summation order."""
        geom = self.net._geom
        return float(
            l2_penalty(
                self.net._params,
                np.ascontiguousarray(geom[:, W_OFF]),
                np.ascontiguousarray(geom[:, W_SIZE]),
                self.net.l2,
            )
        )

    def forward(self, X, Y=None, S=None):
        m = X.shape[1]
        cap = min(m, FORWARD_CHUNK)
        model = self.model(0.0)
        buf = self.buffers(cap, "forward")
        out = np.empty((self.net._geom[-1, N_OUT], m), dtype=self.net.dtype, order="F")
        loss_sum = 0.0
        with kernel_section():
            for s in range(0, m, cap):
                e = min(s + cap, m)
                out[:, s:e] = self._forward_columns(model, X, s, e, buf)
                if Y is not None and S is None:
                    loss_sum += engine.batch_cost(model, Y[:, s:e], buf, False) * (e - s)
                elif Y is not None:
                    # each chunk's weighted mean, weighted by its share of the weight
                    J = engine.batch_cost(model, Y[:, s:e], buf._replace(weights=S[s:e]), False)
                    loss_sum += J * float(np.sum(S[s:e], dtype=np.float64))
        if S is not None:
            total = float(np.sum(S, dtype=np.float64))
            return out, loss_sum / total if total > 0 else 0.0
        return out, loss_sum / m

    def _forward_columns(self, model, X, s, e, buf):
        """A[L] of the examples s..e-1 of X (:func:`fnn_numba.engine.forward_pass`);
        the backend of a sparse X (:mod:`fnn_numba.sparse`) reads them in place."""
        return engine.forward_pass(model, X[:, s:e], buf, self.spatial)

    def forward_all(self, X):
        m = X.shape[1]
        geom = self.net._geom
        buf = engine.new_buffers(geom, 0, m, self.net.dtype, "forward")
        with kernel_section():
            engine.forward_pass(self.model(), X, buf, self.spatial)
        L = geom.shape[0]
        Zs = [
            engine.view_f(buf.ws, buf.ws_off[engine.Z, l], geom[l - 1, N_OUT], m).copy(order="F")
            for l in range(1, L + 1)
        ]
        As = [
            engine.view_f(buf.ws, buf.ws_off[engine.A, l], geom[l - 1, N_OUT], m).copy(order="F")
            for l in range(1, L + 1)
        ]
        return Zs, As

    def gradients(self, X, Y, S=None, model=None):
        """(gradient, dJ/dX, J) of the batch (X, Y), weighted by S unless
        None; ``model`` replaces :meth:`model`'s (the cross-check passes one
        in training mode with fixed dropout masks). The forward pass stays in
        the "gradients" buffers until the next call."""
        m = X.shape[1]
        buf = self.buffers(m, "gradients")
        if S is not None:
            buf = buf._replace(weights=S)
        model, spatial = model if model is not None else self.model(), self.spatial
        with kernel_section():
            engine.forward_pass(model, X, buf, spatial)
            J = engine.batch_cost(model, Y, buf, True)
            engine.backward_pass(model, X, Y, buf, True, spatial, S)
        return buf.grads.copy(), self._input_gradient(buf, m), float(J)

    def output_gradients(self, X, G):
        m = X.shape[1]
        buf = self.buffers(m, "gradients")
        model, spatial = self.model(0.0), self.spatial
        with kernel_section():
            engine.forward_pass(model, X, buf, spatial)
            engine.backward_from_output_gradient(model, X, G, buf, spatial)
        return buf.grads.copy(), self._input_gradient(buf, m)

    def _input_gradient(self, buf, m):
        n0 = int(self.net._geom[0, engine.N_IN])
        return engine.view_f(buf.ws, buf.ws_off[engine.DA, 0], n0, m).copy(order="F")

    def apply(self, grads, optimizer, learning_rate, clip_norm=0.0, clip_value=0.0):
        """One optimizer step from a flat gradient (copied: clipping writes
        into it). Returns False, with nothing written, if a parameter would
        become non-finite."""
        upd = optimizer.update_args(self.net._params, learning_rate, clip_norm, clip_value)
        with kernel_section():
            return bool(engine.apply_update(self.net._params, np.array(grads, copy=True), upd))

    def runner(self, plan):
        return _CPURunner(self, plan)


class _CPURunner(LocalBatches, BatchRunner):
    def __init__(self, backend, plan):
        LocalBatches.__init__(self, plan, backend.net._rng)
        self.backend, self.plan = backend, plan
        net = backend.net
        self.model = backend.model(training=True)._replace(l2_per_weight=plan.l2_per_weight)
        self.params = self.model.params
        self.buf = backend.buffers(plan.batch_size, "fit")
        # the weights of X, or None (the unweighted driver, which compiles no weighted kernel)
        self.S = plan.sample_weight
        if plan.sample_weight is not None:
            self.buf = self.buf._replace(weights=np.zeros(plan.batch_size, dtype=net.dtype))
        self.chunk = chunk_for(6.0 * net._params.size * plan.batch_size, plan.n_batches)
        self.upd = None
        self.spatial = backend.spatial

    def run(self, order, first, stop, learning_rate, batch_costs):
        p = self.plan
        if self.upd is None or self.upd.learning_rate != learning_rate:
            self.upd = p.optimizer.update_args(
                self.model.params,
                learning_rate,
                p.clip_norm,
                p.clip_value,
                step=None if self.upd is None else self.upd.step,
            )
        with kernel_section():
            return self._train_batches(order, first, stop, batch_costs)

    def _train_batches(self, order, first, stop, batch_costs):
        """Batches [first, stop) of the epoch's order through the jitted driver;
        the sparse runner (:mod:`fnn_numba.sparse`) reads X in place instead."""
        p = self.plan
        return engine.train_batches(
            self.model,
            p.X,
            p.Y,
            order,
            p.batch_size,
            first,
            stop,
            self.buf,
            self.upd,
            batch_costs,
            self.S,
            self.spatial,
        )

    def validate(self):
        return self.backend.net._validation_figures(self.plan.Xv, self.plan.Yv, self.plan.Sv)


class CUDABackend:
    """The network's computations on an NVIDIA GPU, through the CUDA twins
    of the kernels (:mod:`fnn_numba.gpu_engine`). The host parameters stay
    the ones the user reads and writes: each call uploads them first, and
    ``fit`` copies the device's back after every epoch."""

    name = "cuda"

    def __init__(self, net):
        from .gpu_engine import DeviceNetwork

        geom = net._geom
        if np.any(geom[:, KIND] != DENSE):
            others = sorted({type(layer).__name__ for layer in net.layers[1:]} - {"Dense"})
            raise NotImplementedError(
                f"device='cuda': the CUDA backend runs Dense layers only; this network has "
                f"{', '.join(others)}, for which fnn_numba.gpu_engine has no driver yet; "
                f"use device='cpu'"
            )
        sizes = [int(geom[0, engine.N_IN])] + [int(n) for n in geom[:, N_OUT]]
        self.net = net
        self.cpu = CPUBackend(net)
        self.device = DeviceNetwork(
            sizes, geom[:, engine.ACT].copy(), net._cost_code, net._fused, net.dtype
        )
        self.device.upload_params(net._params)

    def forward(self, X, Y=None):
        self.device.upload_params(self.net._params)
        return self.device.forward_chunks(X, Y, FORWARD_CHUNK)

    def gradients(self, X, Y):
        self.device.upload_params(self.net._params)
        return self.device.gradients(X, Y, self.net.l2)

    # The GPU twins have no driver for these two yet; they run on the host
    # with the CPU kernels, which give the same results to round-off.
    def forward_all(self, X):
        return self.cpu.forward_all(X)

    def output_gradients(self, X, G):
        return self.cpu.output_gradients(X, G)

    def apply(self, grads, optimizer, learning_rate, clip_norm=0.0, clip_value=0.0):
        return self.cpu.apply(grads, optimizer, learning_rate, clip_norm, clip_value)

    def penalty(self):
        return self.cpu.penalty()

    def runner(self, plan):
        if plan.clip_value > 0:
            raise ValueError(
                "clip_value: clipping by value is not available on device='cuda' yet; "
                "use clip_norm, or train on the CPU"
            )
        return _CUDARunner(self, plan)


class _CUDARunner(LocalBatches, BatchRunner):
    """Training on the device: the data, the validation set and the
    optimizer's state are uploaded once; each epoch uploads its order and
    brings back its batch costs and the parameters (so the host copy is
    current whenever Python code runs); the optimizer's state comes back at
    the end of the fit."""

    def __init__(self, backend, plan):
        LocalBatches.__init__(self, plan, backend.net._rng)
        self.backend, self.plan = backend, plan
        net = backend.net
        self.params = net._params  # the host copy, current after every epoch
        opt = plan.optimizer
        opt.ensure_state(net._params, full=True)
        backend.device.upload_params(net._params)
        self.fit = backend.device.begin_fit(
            plan.X, plan.Y, plan.batch_size, opt.velocity, opt.second, plan.Xv, plan.Yv
        )
        # one call per epoch: the GPU syncs with the host only per epoch
        self.chunk = plan.n_batches

    def run(self, order, first, stop, learning_rate, batch_costs):
        p, opt, net = self.plan, self.plan.optimizer, self.backend.net
        # the optimizer's own hyperparameters and defaults, as the CPU driver gets them
        # (step: the device keeps its own step buffer)
        u = opt.update_args(
            net._params, learning_rate, p.clip_norm, step=np.zeros(0, dtype=net._params.dtype)
        )
        bad = self.backend.device.train_batches(
            self.fit, order, first, stop, batch_costs, u, net.l2, net._params, sync_state=False
        )
        # the CPU driver advances the step count itself, step by step
        opt.t[0] += (stop - first) if bad < 0 else (bad - first)
        return bad

    def validate(self):
        net = self.backend.net
        Y_hat, J = self.backend.device.evaluate(self.fit)
        if net.l2 > 0:
            J += self.backend.penalty()
        return float(J), net._accuracy_of(Y_hat, self.plan.Yv)

    def finish(self):
        opt = self.plan.optimizer
        self.backend.device.end_fit(self.fit, opt.kind, opt.velocity, opt.second)
