"""Generative adversarial networks: two networks, a generator and a discriminator.

A generator G maps noise z ~ p_z to samples G(z); a discriminator D gives the
probability D(x) that x came from the data rather than from G. They play the
two-player minimax game of the value function (Goodfellow et al., "Generative
Adversarial Nets", 2014, eq. (1); the GAN section of the "neural networks"
notes)::

    min_G max_D V(D, G) = E_{x ~ p_data}[log D(x)] + E_{z ~ p_z}[log(1 - D(G(z)))]

trained by the notes' minibatch algorithm: k steps of D ascending its
stochastic gradient, then one step of G. Everything runs through the
networks' public building blocks: ``D.gradients(X, Y)`` (the fused
sigmoid + binary cross-entropy delta a - y at D's output),
``D.gradients(...).inputs`` (dJ/dX, P1 (21) down to layer 0), the
output-gradient API ``G.gradients(z, output_gradient=dJ/dG(z))`` (back-
propagation seeded with a given dJ/dA[L]) and ``net.step`` (the update kernel
of ``fit``, with the optimizer's state kept between steps).

Scale of the gradients (m examples per minibatch):

- D descends  J_D = -(1/m) sum_i [log D(x_i) + log(1 - D(G(z_i)))]  (that
  is, it ascends the notes' minibatch estimate of V); with one batch of 2m
  columns [x_1..x_m, G(z_1)..G(z_m)] and targets [1..1, 0..0], the network's
  binary cross-entropy is J_D / 2, so D's gradient is twice
  ``D.gradients``' (L2, when D has it, is counted once).
- G descends J_G, with
  "minimax":         J_G = (1/m) sum_i log(1 - D(G(z_i)))   (the notes' step)
  "non_saturating":  J_G = -(1/m) sum_i log D(G(z_i))
  dJ_G/dG(z) is ``D.gradients(G(z), t).inputs`` with t = 1 (non-saturating:
  J_G is D's cross-entropy against "real") or minus it with t = 0 (minimax:
  J_G is minus D's cross-entropy against "fake"), 1/m included; it seeds G's
  back-propagation as is.

Command line: ``fnn-numba gan --dataset ring8|gaussian|digits`` trains on a
toy or bundled data set and writes the sample plot.
"""

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _validation as V
from .network import Network, TrainingDivergedError
from .optimizers import Optimizer, make_optimizer

__all__ = [
    "GAN",
    "GANHistory",
    "GANCheckRow",
    "gan_crosscheck",
    "ring8",
    "gaussian_1d",
    "ring8_modes",
    "mode_coverage",
    "LOSSES",
    "NOISES",
]

LOSSES = ("non_saturating", "minimax")
NOISES = ("normal", "uniform")
#: examples of real data and of noise used for the end-of-epoch D(x) and
#: D(G(z)) figures of the history
EVAL_EXAMPLES = 1024
GAN_FORMAT = "fnn_numba-gan"


@dataclass
class GANHistory:
    """Per-epoch figures of :meth:`GAN.fit`.

    ``d_cost[e]``: mean over epoch e's discriminator steps of J_D (before each
    update); ``g_cost[e]``: mean over its generator steps of J_G (the cost of
    the chosen loss; NaN when the generator took no step in the epoch); ``d_real[e]``
    and ``d_fake[e]``: mean D(x) over up to 1024 real examples and mean
    D(G(z)) over as many fresh noise draws, after the epoch;
    ``epoch_seconds[e]``: wall time of the epoch's steps."""

    d_cost: list = field(default_factory=list)
    g_cost: list = field(default_factory=list)
    d_real: list = field(default_factory=list)
    d_fake: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)

    def __getitem__(self, key):
        return getattr(self, key)

    def __len__(self):
        return len(self.d_cost)


def _check_discriminator(D):
    if not isinstance(D, Network):
        raise TypeError(f"discriminator: expected a fnn_numba.Network, got {type(D).__name__}")
    if D.sizes[-1] != 1 or D.activations[-1] != "sigmoid" or D.cost_name != "binary_cross_entropy":
        raise ValueError(
            "discriminator: expected one sigmoid output unit with cost "
            "binary_cross_entropy (D(x) is a probability), got "
            f"{D.sizes[-1]} output unit(s), activation {D.activations[-1]!r}, "
            f"cost {D.cost_name!r}"
        )


def _clone_optimizer(opt):
    """A fresh optimizer of the same kind and hyper-parameters (each network
    needs its own state)."""
    return type(opt)(**opt.hyperparameters())


class GAN:
    """A generator and a discriminator trained by the notes' minibatch algorithm.

    Parameters
    ----------
    generator : Network
        G: noise of width n0 = ``generator.sizes[0]`` to samples of width
        ``generator.sizes[-1]``. Its cost is not used (G is trained through D).
    discriminator : Network
        D: samples to one sigmoid unit, cost binary_cross_entropy; its input
        width must be the generator's output width.
    k : int
        Discriminator steps per generator step (the notes' k; 1 is the least
        expensive option).
    loss : {"non_saturating", "minimax"}
        The generator's cost (see the module docstring). "minimax" descends
        log(1 - D(G(z))), the notes' step, whose gradient vanishes when D
        rejects the fakes confidently; "non_saturating" ascends log D(G(z)),
        which has the same fixed point and strong gradients early on.
    noise : {"normal", "uniform"} or callable, optional
        p_z: N(0, 1) (default) or U(-1, 1) in every one of the n0
        coordinates, or ``noise(rng, m)`` returning an (n0, m) array (rng is
        the GAN's seeded numpy Generator).
    seed : int, optional
        Seeds the noise and the shuffling of the real data.

    Both networks must have the same dtype. ``history`` is a
    :class:`GANHistory`.
    """

    def __init__(self, generator, discriminator, k=1, loss="non_saturating", noise=None, seed=None):
        if not isinstance(generator, Network):
            raise TypeError(
                f"generator: expected a fnn_numba.Network, got {type(generator).__name__}"
            )
        _check_discriminator(discriminator)
        if generator.sizes[-1] != discriminator.sizes[0]:
            raise ValueError(
                f"discriminator: its input width {discriminator.sizes[0]} must equal "
                f"the generator's output width {generator.sizes[-1]}"
            )
        if generator.dtype != discriminator.dtype:
            raise TypeError(
                f"discriminator: dtype {np.dtype(discriminator.dtype).name} differs "
                f"from the generator's {np.dtype(generator.dtype).name}"
            )
        self.generator, self.discriminator = generator, discriminator
        self.k = V.check_positive("k", k, integer=True)
        self.loss = V.check_choice("loss", loss, LOSSES)
        if noise is None:
            noise = "normal"
        if not callable(noise):
            noise = V.check_choice("noise", noise, NOISES)
        self.noise = noise
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed: expected None or a non-negative integer, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed)
        self.history = GANHistory()
        self.optimizers = (None, None)  # (generator's, discriminator's) of the last fit

    @property
    def noise_width(self):
        """n0 of the generator: the dimension of z."""
        return self.generator.sizes[0]

    @property
    def dtype(self):
        return self.generator.dtype

    # ------------------------------------------------------------------ noise
    def draw_noise(self, m, rng=None):
        """m noise vectors z ~ p_z as an (n0, m) array (columns are examples),
        from the GAN's seeded generator unless ``rng`` is given."""
        m = V.check_positive("m", m, integer=True)
        rng = self._rng if rng is None else rng
        n0 = self.noise_width
        if callable(self.noise):
            Z = V.as_float_matrix("noise(rng, m)", self.noise(rng, m), self.dtype, rows=n0)
            if Z.shape[1] != m:
                raise ValueError(
                    f"noise: noise(rng, {m}) returned {Z.shape[1]} columns, expected {m}"
                )
            return Z
        if self.noise == "uniform":
            Z = rng.uniform(-1.0, 1.0, size=(m, n0))
        else:
            Z = rng.standard_normal(size=(m, n0))
        # (m, n0) C-ordered draws transposed: an F-ordered (n0, m) array, no copy
        return np.asarray(Z.T, dtype=self.dtype, order="F")

    def sample(self, n, seed=None):
        """n generated samples G(z), an (n_out, n) array; ``seed`` draws the
        noise from a fresh generator instead of the GAN's."""
        rng = None if seed is None else np.random.default_rng(seed)
        return self.generator.forward(self.draw_noise(n, rng))

    # ------------------------------------------------------------- gradients
    def discriminator_gradients(self, X_real, Z=None, fake=None):
        """(Gradients of J_D with respect to D's parameters, J_D) for a
        minibatch of m real columns and m fakes G(z) (``fake`` when given,
        else G(Z), Z drawn when None).

        J_D = -(1/m) sum_i [log D(x_i) + log(1 - D(G(z_i)))] (+ D's L2 term):
        one pass of D over the 2m columns [X_real, fakes] with targets
        [1, 0], whose mean cross-entropy is J_D / 2."""
        D = self.discriminator
        X_real = D._check_x(X_real, "X_real")
        m = X_real.shape[1]
        if fake is None:
            fake = self.generator.forward(self.draw_noise(m) if Z is None else Z)
        fake = D._check_x(fake, "fake")
        if fake.shape[1] != m:
            raise ValueError(f"fake: expected {m} columns (as many as X_real), got {fake.shape[1]}")
        Xb = np.empty((X_real.shape[0], 2 * m), dtype=D.dtype, order="F")
        Xb[:, :m] = X_real
        Xb[:, m:] = fake
        g = D.gradients(Xb, self._targets(m, 1.0, 0.0))
        lam = D.l2
        penalty = 0.0
        for l, W in enumerate(D.weights):
            # 2 (g_bce + lam W) - lam W: the cross-entropy doubled, L2 once
            g.weights[l] = 2.0 * g.weights[l] - lam * W
            penalty += 0.5 * lam * float(np.sum(W * W)) if lam > 0 else 0.0
        g.biases = [2.0 * b for b in g.biases]
        J = 2.0 * (g.cost - penalty) + penalty
        g.cost = J
        return g, J

    def _targets(self, m, first, second=None):
        """The (1, m) row of ``first`` (or (1, 2m): m of ``first``, m of
        ``second``), cached: the training loop asks for the same ones at
        every step."""
        key = (m, first, second)
        cache = self.__dict__.setdefault("_target_rows", {})
        row = cache.get(key)
        if row is None:
            row = np.full((1, m if second is None else 2 * m), first, dtype=self.dtype)
            if second is not None:
                row[0, m:] = second
            if len(cache) > 8:
                cache.clear()
            cache[key] = row
        return row

    def _generator_output_gradient(self, fake):
        """(dJ_G/dG(z), J_G) for a batch of fakes: D's dJ/dX of its
        cross-entropy against target 1 (non-saturating) or minus the one
        against target 0 (minimax); P1 (21) down to D's layer 0."""
        D = self.discriminator
        m = fake.shape[1]
        if self.loss == "non_saturating":
            g = D.gradients(fake, self._targets(m, 1.0))
            dX, J = g.inputs, g.cost
        else:
            g = D.gradients(fake, self._targets(m, 0.0))
            dX, J = -g.inputs, -g.cost
        if D.l2 > 0:  # the cost of D's L2 term is not the generator's
            J -= (
                (1.0 if self.loss == "non_saturating" else -1.0)
                * 0.5
                * D.l2
                * sum(float(np.sum(W * W)) for W in D.weights)
            )
        return dX, J

    def generator_gradients(self, Z=None, m=None):
        """(Gradients of J_G with respect to G's parameters, J_G) for noise Z
        (m fresh draws when None): dJ_G/dG(z) from D, then
        ``G.gradients(Z, output_gradient=...)`` (P1 (17), (13), (14), (21)
        through G). ``.inputs`` is dJ_G/dZ. G's L2 term, if any, is added."""
        G = self.generator
        if Z is None:
            Z = self.draw_noise(V.check_positive("m", m if m is not None else 1, integer=True))
        Z = G._check_x(Z, "Z")
        fake = G.forward(Z)
        dX, J = self._generator_output_gradient(fake)
        g = G.gradients(Z, output_gradient=dX)
        if G.l2 > 0:
            g.weights = [gw + G.l2 * W for gw, W in zip(g.weights, G.weights)]
            J += 0.5 * G.l2 * sum(float(np.sum(W * W)) for W in G.weights)
        g.cost = J
        return g, J

    def generator_cost(self, Z):
        """J_G for noise Z, by forward passes only (the composed model's cost
        that :func:`gan_crosscheck` differentiates numerically)."""
        G, D = self.generator, self.discriminator
        p = D.forward(G.forward(Z))
        with np.errstate(divide="ignore"):
            if self.loss == "non_saturating":
                J = -float(np.mean(np.log(p)))
            else:
                J = float(np.mean(np.log1p(-p)))
        if G.l2 > 0:
            J += 0.5 * G.l2 * sum(float(np.sum(W * W)) for W in G.weights)
        return J

    def discriminator_cost(self, X_real, fake):
        """J_D for real columns and fakes, by forward passes only."""
        D = self.discriminator
        with np.errstate(divide="ignore"):
            J = -float(np.mean(np.log(D.forward(X_real))) + np.mean(np.log1p(-D.forward(fake))))
        if D.l2 > 0:
            J += 0.5 * D.l2 * sum(float(np.sum(W * W)) for W in D.weights)
        return J

    # -------------------------------------------------------------------- fit
    def _optimizer_pair(
        self,
        optimizer,
        generator_optimizer,
        discriminator_optimizer,
        momentum,
        beta1,
        beta2,
        epsilon,
    ):
        out = []
        for name, own in (
            ("generator_optimizer", generator_optimizer),
            ("discriminator_optimizer", discriminator_optimizer),
        ):
            if own is None:
                opt = make_optimizer(optimizer, momentum, beta1, beta2, epsilon)
                # one Optimizer object given for both: each network gets its own copy
                out.append(_clone_optimizer(opt) if isinstance(optimizer, Optimizer) else opt)
            elif isinstance(own, Optimizer):
                out.append(own)
            else:
                try:
                    out.append(make_optimizer(own, momentum, beta1, beta2, epsilon))
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from exc
        return tuple(out)

    def fit(
        self,
        X_real,
        epochs=10,
        batch_size=64,
        learning_rate=2e-4,
        *,
        optimizer="adam",
        generator_learning_rate=None,
        discriminator_learning_rate=None,
        generator_optimizer=None,
        discriminator_optimizer=None,
        momentum=0.9,
        beta1=0.5,
        beta2=0.999,
        epsilon=1e-8,
        clip_value=None,
        clip_norm=None,
        shuffle=True,
        train_generator=True,
        callback=None,
        verbose=False,
    ):
        """Train by the notes' minibatch algorithm; returns this call's :class:`GANHistory`.

        One epoch walks through the real examples in (shuffled) minibatches
        of ``batch_size`` columns. Each minibatch is one discriminator step:
        m = its number of columns, m fresh noise draws, D descends J_D.
        After every k-th discriminator step, the generator takes one step on
        ``batch_size`` fresh noise draws, descending J_G of ``loss``.

        Parameters
        ----------
        X_real : array of shape (n, m_total)
            Real samples, columns are examples (n = D's input width).
        epochs, batch_size : int
        learning_rate : float
            alpha of both networks; ``generator_learning_rate`` and
            ``discriminator_learning_rate`` override it per network.
        optimizer : {"sgd", "momentum", "nesterov", "adam"} or Optimizer
            For both networks (each gets its own state);
            ``generator_optimizer`` / ``discriminator_optimizer`` override it.
            The default Adam with beta1 = 0.5 is the usual choice for GANs
            (Radford et al. 2016).
        momentum, beta1, beta2, epsilon : float
            Hyper-parameters of optimizers given by name.
        clip_value, clip_norm : float or None
            Clipping of each network's gradient, as in ``Network.fit``.
        shuffle : bool
            Shuffle the real examples each epoch (the GAN's seeded generator).
        train_generator : bool
            False trains D alone against the frozen generator (its fakes are
            still drawn every step): D then approaches
            D*(x) = p_data(x) / (p_data(x) + p_g(x)).
        callback : callable or None
            callback(epoch, history) after each epoch (epoch counts from 1).

        Each ``fit`` starts both optimizers afresh (as ``Network.fit`` does);
        within it, their state (momentum, Adam moments) persists from step to
        step through ``Network.step``.

        Raises
        ------
        TrainingDivergedError
            When a step would make a parameter non-finite (the networks keep
            their last finite parameters).
        """
        G, D = self.generator, self.discriminator
        X_real = D._check_x(X_real, "X_real")
        n_real = X_real.shape[1]
        epochs = V.check_positive("epochs", epochs, integer=True)
        batch_size = V.check_positive("batch_size", batch_size, integer=True)
        batch_size = min(batch_size, n_real)
        lr = V.check_positive("learning_rate", learning_rate)
        lr_g = (
            lr
            if generator_learning_rate is None
            else V.check_positive("generator_learning_rate", generator_learning_rate)
        )
        lr_d = (
            lr
            if discriminator_learning_rate is None
            else V.check_positive("discriminator_learning_rate", discriminator_learning_rate)
        )
        opt_g, opt_d = self._optimizer_pair(
            optimizer, generator_optimizer, discriminator_optimizer, momentum, beta1, beta2, epsilon
        )
        clip = dict(
            clip_value=None if clip_value is None else V.check_positive("clip_value", clip_value),
            clip_norm=None if clip_norm is None else V.check_positive("clip_norm", clip_norm),
        )
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable or None, got {type(callback).__name__}")
        self.optimizers = (opt_g, opt_d)
        n_batches = math.ceil(n_real / batch_size)
        eval_real = X_real[:, : min(n_real, EVAL_EXAMPLES)]
        # a fresh history per fit, as Network.fit keeps one (kept on the GAN
        # too, so that it survives an interrupted fit)
        history = self.history = GANHistory()
        d_steps = 0  # counted across epochs, so that k may exceed the batches of one
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = self._rng.permutation(n_real) if shuffle else np.arange(n_real)
            d_costs, g_costs = [], []
            for b in range(n_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                Xb = X_real[:, idx]
                gd, Jd = self.discriminator_gradients(Xb)
                self._step(D, gd, lr_d, opt_d, clip, epoch, b, "discriminator")
                d_costs.append(Jd)
                d_steps += 1
                if train_generator and d_steps % self.k == 0:
                    gg, Jg = self.generator_gradients(self.draw_noise(batch_size))
                    self._step(G, gg, lr_g, opt_g, clip, epoch, b, "generator")
                    g_costs.append(Jg)
            seconds = time.perf_counter() - t0
            d_real = float(np.mean(D.forward(eval_real)))
            d_fake = float(np.mean(D.forward(G.forward(self.draw_noise(eval_real.shape[1])))))
            history.d_cost.append(float(np.mean(d_costs)))
            history.g_cost.append(float(np.mean(g_costs)) if g_costs else float("nan"))
            history.d_real.append(d_real)
            history.d_fake.append(d_fake)
            history.epoch_seconds.append(seconds)
            if verbose:
                print(
                    f"epoch {epoch}/{epochs}: J_D {history.d_cost[-1]:.4f} J_G "
                    f"{history.g_cost[-1]:.4f} D(x) {d_real:.3f} D(G(z)) {d_fake:.3f}",
                    file=sys.stderr,
                )
            if callback is not None:
                callback(epoch, history)
        return history

    def _step(self, net, grads, lr, opt, clip, epoch, batch, who):
        if not np.isfinite(grads.cost):
            raise TrainingDivergedError(
                f"{who} cost became {grads.cost} at epoch {epoch}, batch {batch + 1}",
                epoch,
                batch + 1,
                self.history,
            )
        try:
            net.step(grads, lr, optimizer=opt, **clip)
        except TrainingDivergedError as exc:
            raise TrainingDivergedError(
                f"{who} step at epoch {epoch}, batch {batch + 1}: {exc}",
                epoch,
                batch + 1,
                self.history,
            ) from exc

    # ---------------------------------------------------------------- save/load
    def save(self, directory):
        """Write the GAN to ``directory`` (created if needed): generator.npz and
        discriminator.npz (``Network.save``, optimizer state included) and
        gan.json (k, loss, noise, seed, the noise generator's state and the
        history). A callable noise is not stored: pass it again to
        :meth:`load`."""
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        opt_g, opt_d = self.optimizers
        for net, name, opt in (
            (self.generator, "generator", opt_g),
            (self.discriminator, "discriminator", opt_d),
        ):
            if opt is not None:
                net._optimizer = opt
            net.save(os.path.join(directory, f"{name}.npz"))
        meta = dict(
            format=GAN_FORMAT,
            version=1,
            k=self.k,
            loss=self.loss,
            noise="callable" if callable(self.noise) else self.noise,
            seed=self.seed,
            rng_state=self._rng.bit_generator.state,
            history=asdict(self.history),
        )
        tmp = os.path.join(directory, ".gan.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(meta, fh)
        os.replace(tmp, os.path.join(directory, "gan.json"))

    @classmethod
    def load(cls, directory, noise=None):
        """Read a GAN written by :meth:`save`. ``noise`` is required when the
        saved GAN used a callable noise."""
        directory = os.fspath(directory)
        meta_path = os.path.join(directory, "gan.json")
        try:
            with open(meta_path) as fh:
                meta = json.load(fh)
        except FileNotFoundError as exc:
            raise ValueError(f"directory: {directory} holds no gan.json (not a saved GAN)") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"directory: {meta_path} is not valid JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != GAN_FORMAT:
            raise ValueError(f"directory: {meta_path} is not a {GAN_FORMAT} file")
        if meta.get("noise") == "callable":
            if noise is None:
                raise ValueError(
                    "noise: the saved GAN drew its noise from a callable; pass it again"
                )
        elif noise is None:
            noise = meta.get("noise")
        G = Network.load(os.path.join(directory, "generator.npz"))
        D = Network.load(os.path.join(directory, "discriminator.npz"))
        gan = cls(G, D, k=meta["k"], loss=meta["loss"], noise=noise, seed=meta.get("seed"))
        if meta.get("rng_state") is not None:
            gan._rng.bit_generator.state = meta["rng_state"]
        gan.history = GANHistory(**meta.get("history", {}))
        gan.optimizers = (G.optimizer, D.optimizer)
        return gan

    def __repr__(self):
        return (
            f"GAN(generator={self.generator!r}, discriminator={self.discriminator!r}, "
            f"k={self.k}, loss={self.loss!r})"
        )


# ------------------------------------------------------------------ cross-check
@dataclass
class GANCheckRow:
    """One quantity of :func:`gan_crosscheck`: the library's value against
    central finite differences of the composed model's cost."""

    quantity: str
    shape: tuple
    max_abs: float
    max_rel: float
    passed: bool

    def format(self):
        shape = "x".join(str(s) for s in self.shape)
        return (
            f"{self.quantity:<44} {shape:<8} {self.max_abs:9.2e} {self.max_rel:9.2e}  "
            f"{'ok' if self.passed else 'FAIL'}"
        )


def _float64_copy(net):
    from . import layers as layers_mod

    arch = [layers_mod.from_config(layer.config()) for layer in net.layers]
    twin = Network(arch, None, net.cost_name, net.init, np.float64, net.seed, net.l2)
    twin.set_parameters(net.get_parameters().astype(np.float64))
    return twin


def _central_differences(f, params, set_params, eps):
    grad = np.empty_like(params)
    for i in range(params.size):
        p = params.copy()
        p[i] += eps
        set_params(p)
        up = f()
        p[i] -= 2 * eps
        set_params(p)
        down = f()
        grad[i] = (up - down) / (2 * eps)
    set_params(params)
    return grad


def gan_crosscheck(gan, X_real=None, Z=None, m=4, eps=1e-6, rtol=1e-5, atol=1e-8, seed=0):
    """Check the composition G -> D against finite differences; a list of
    :class:`GANCheckRow`.

    Rows: for every parametrised layer l of G, dJ_G/dW[l] and dJ_G/db[l] as
    :meth:`GAN.generator_gradients` computes them (D's dJ/dX at G(z) seeding
    G's back-propagation) against central differences (step ``eps``) of the
    composed cost J_G(theta_G) = :meth:`GAN.generator_cost`; dJ_G/dZ (the
    composition's input gradient) against differences in Z; and, for every
    layer of D, dJ_D/dW[l] and dJ_D/db[l] against differences of
    :meth:`GAN.discriminator_cost`. Run in float64 on copies of the networks
    (the GAN is not changed). ``X_real`` and ``Z`` default to m draws from
    N(0, 1) (seeded by ``seed``). A row passes when
    ``|library - differences| <= atol + rtol * |differences|`` everywhere.
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"gan: expected a fnn_numba.GAN, got {type(gan).__name__}")
    m = V.check_positive("m", m, integer=True)
    eps = V.check_positive("eps", eps)
    rng = np.random.default_rng(seed)
    G, D = _float64_copy(gan.generator), _float64_copy(gan.discriminator)
    twin = GAN(G, D, k=gan.k, loss=gan.loss, noise=gan.noise)
    if Z is None:
        Z = rng.standard_normal((G.sizes[0], m))
    Z = np.asfortranarray(G._check_x(Z, "Z"))
    if X_real is None:
        X_real = rng.standard_normal((D.sizes[0], Z.shape[1]))
    X_real = np.asfortranarray(D._check_x(X_real, "X_real"))
    rows = []

    def compare(quantity, library, numeric):
        diff = np.abs(library - numeric)
        rel = diff / np.maximum(np.abs(numeric), 1e-300)
        rows.append(
            GANCheckRow(
                quantity,
                tuple(np.shape(library)),
                float(diff.max()),
                float(np.where(diff > 0, rel, 0.0).max()),
                bool(np.all(diff <= atol + rtol * np.abs(numeric))),
            )
        )

    gG, _ = twin.generator_gradients(Z)
    p0 = G.get_parameters()
    num = _central_differences(lambda: twin.generator_cost(Z), p0, G.set_parameters, eps)
    nw, nb = G._unflatten(num)
    for l in range(len(nw)):
        compare(f"G dJ_G/dW[{l + 1}] through D (P1 (13))", gG.weights[l], nw[l])
        compare(f"G dJ_G/db[{l + 1}] through D (P1 (14))", gG.biases[l], nb[l])
    Zflat = Z.ravel(order="F").copy()
    holder = {"Z": Z}

    def set_z(v):
        holder["Z"] = np.asfortranarray(v.reshape(Z.shape, order="F"))

    numZ = _central_differences(lambda: twin.generator_cost(holder["Z"]), Zflat, set_z, eps)
    compare("dJ_G/dZ of the composition (P1 (21))", gG.inputs, numZ.reshape(Z.shape, order="F"))

    fake = G.forward(Z)
    gD, _ = twin.discriminator_gradients(X_real, fake=fake)
    q0 = D.get_parameters()
    numD = _central_differences(
        lambda: twin.discriminator_cost(X_real, fake), q0, D.set_parameters, eps
    )
    dw, db = D._unflatten(numD)
    for l in range(len(dw)):
        compare(f"D dJ_D/dW[{l + 1}] (P1 (13))", gD.weights[l], dw[l])
        compare(f"D dJ_D/db[{l + 1}] (P1 (14))", gD.biases[l], db[l])
    return rows


def format_rows(rows):
    head = f"{'quantity':<44} {'shape':<8} {'max|d|':>9} {'rel':>9}  ok"
    lines = [head, "-" * len(head)] + [r.format() for r in rows]
    n_fail = sum(not r.passed for r in rows)
    lines.append(f"{len(rows)} rows, " + ("all passed" if n_fail == 0 else f"{n_fail} FAILED"))
    return "\n".join(lines)


# ------------------------------------------------------------------ toy data
def ring8_modes(radius=2.0):
    """The 8 centres (2, 8) of :func:`ring8`, at angles 2 pi j / 8."""
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)])


#: standard deviation of each of ring8's Gaussians (the centres are 1.53
#: apart, so 3 std around each leaves them well separated)
RING8_STD = 0.1


def ring8(m, std=RING8_STD, radius=2.0, seed=0, dtype=np.float64):
    """m draws (2, m) from the mixture of 8 equally weighted Gaussians
    N(centre_j, std^2 I) with centres on a circle of ``radius``."""
    rng = np.random.default_rng(seed)
    centres = ring8_modes(radius)
    which = rng.integers(0, 8, size=m)
    X = centres[:, which] + std * rng.standard_normal((2, m))
    return np.asarray(X, dtype=dtype, order="F")


def gaussian_1d(m, mean=4.0, std=1.25, seed=0, dtype=np.float64):
    """m draws (1, m) from N(mean, std^2)."""
    rng = np.random.default_rng(seed)
    return np.asarray(mean + std * rng.standard_normal((1, m)), dtype=dtype, order="F")


def mode_coverage(samples, std=RING8_STD, radius=2.0, min_fraction=0.01):
    """(modes covered, fraction of good samples, counts per mode) for ring8
    samples (2, n): a sample is good when within 3 std of its nearest centre;
    a mode is covered when at least ``min_fraction`` of all samples are good
    samples of it."""
    centres = ring8_modes(radius)
    d = np.linalg.norm(samples[:, None, :] - centres[:, :, None], axis=0)  # (8, n)
    nearest = np.argmin(d, axis=0)
    good = d[nearest, np.arange(samples.shape[1])] <= 3 * std
    counts = np.bincount(nearest[good], minlength=8)
    covered = int(np.sum(counts >= min_fraction * samples.shape[1]))
    return covered, float(np.mean(good)), counts


# ------------------------------------------------- data sets of the command line
def digits_images(dtype=np.float64):
    """The bundled 8 x 8 digits as (64, 1797) pixel intensities in [0, 1]
    (the raw 0..16 values over 16) and their labels."""
    from .datasets import load_digits

    X, y = load_digits(np.float64)
    return np.asarray(X / 16.0, dtype=dtype, order="F"), y


#: the settings of each data set of ``fnn-numba gan`` (and of the benchmark
#: scripts): real examples, noise width, hidden sizes and activations of G and
#: D, G's output activation, batch size, k, and the training stages as
#: (epochs, learning rate) pairs: one ``fit`` each (Adam, beta1 = 0.5). The
#: Gaussian's later stages at lower rates damp the oscillation of the
#: generated spread (at 1e-3 alone it swings between 0.4 and 1.4 from one
#: ten-epoch window to the next; at 2e-4 alone it under-disperses, std 0.37;
#: the first two stages alone end within target on 3 of seeds 0-4, all three
#: on 5 of 5).
SETTINGS = {
    "gaussian": dict(
        examples=4096,
        noise_width=8,
        hidden=[32, 32],
        activation="tanh",
        g_output="identity",
        batch_size=128,
        k=1,
        stages=[(40, 1e-3), (20, 2e-4), (20, 5e-5)],
    ),
    "ring8": dict(
        examples=4096,
        noise_width=4,
        hidden=[64, 64],
        activation="relu",
        g_output="identity",
        batch_size=128,
        k=1,
        stages=[(80, 1e-3), (20, 2e-4)],
    ),
    "digits": dict(
        examples=None,
        noise_width=16,
        hidden=[128, 128],
        activation="leaky_relu",
        g_output="sigmoid",
        batch_size=64,
        k=1,
        stages=[(200, 5e-4)],
    ),
}


def make_setup(dataset, seed=0, loss="non_saturating", **overrides):
    """(gan, X_real, fits) for one of :data:`SETTINGS` (``overrides``
    replaces any of its entries); ``fits`` is the list of ``fit`` keyword
    dicts of the stages (run them with :func:`train_stages`). The networks
    are seeded from ``seed``; the real data of the toy sets from
    ``seed + 100``."""
    dataset = V.check_choice("dataset", dataset, SETTINGS)
    s = dict(SETTINGS[dataset])
    unknown = set(overrides) - set(s)
    if unknown:
        raise ValueError(
            f"overrides: unknown settings {sorted(unknown)}; expected some of {sorted(s)}"
        )
    s.update({k: v for k, v in overrides.items() if v is not None})
    if dataset == "gaussian":
        X = gaussian_1d(s["examples"], seed=seed + 100)
    elif dataset == "ring8":
        X = ring8(s["examples"], seed=seed + 100)
    else:
        X = digits_images()[0]
        if s["examples"] is not None:
            X = np.asfortranarray(X[:, : s["examples"]])
    n = X.shape[0]
    hid, act = list(s["hidden"]), s["activation"]
    G = Network(
        [s["noise_width"]] + hid + [n],
        [act] * len(hid) + [s["g_output"]],
        cost="squared_error",
        seed=seed,
    )
    D = Network(
        [n] + hid + [1],
        [act] * len(hid) + ["sigmoid"],
        cost="binary_cross_entropy",
        seed=seed + 1000,
    )
    gan = GAN(G, D, k=s["k"], loss=loss, seed=seed)
    fits = [dict(epochs=e, batch_size=s["batch_size"], learning_rate=lr) for e, lr in s["stages"]]
    return gan, X, fits


def train_stages(gan, X, fits, **options):
    """Run the ``fit`` of each stage in turn; the histories concatenated."""
    total = GANHistory()
    for fit in fits:
        h = gan.fit(X, **fit, **options)
        for name in ("d_cost", "g_cost", "d_real", "d_fake", "epoch_seconds"):
            getattr(total, name).extend(getattr(h, name))
    gan.history = total
    return total


def image_grid(images, rows, cols, side=8, gap=1):
    """Columns of ``side * side`` pixels (row-major, as the digits data)
    tiled into one image of rows x cols tiles, ``gap`` pixels of 0 between
    them."""
    out = np.zeros((rows * (side + gap) - gap, cols * (side + gap) - gap))
    for t in range(min(rows * cols, images.shape[1])):
        r, c = divmod(t, cols)
        out[
            r * (side + gap) : r * (side + gap) + side, c * (side + gap) : c * (side + gap) + side
        ] = images[:, t].reshape(side, side)
    return out


def plot_samples(gan, dataset, X_real, path, n=2000, seed=1, dpi=100):
    """Save a figure of generated samples against the real data: a scatter
    (ring8), histograms with the target density (gaussian) or a 10 x 10 image
    grid (digits)."""
    from .plotting import _matplotlib

    _matplotlib().use("Agg")
    import matplotlib.pyplot as plt

    fake = gan.sample(n, seed=seed)
    if dataset == "digits":
        fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
        for ax, imgs, title in ((axes[0], X_real, "real"), (axes[1], fake, "generated")):
            ax.imshow(image_grid(imgs, 10, 10), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(title)
            ax.axis("off")
    elif dataset == "ring8":
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.scatter(X_real[0, :n], X_real[1, :n], s=3, alpha=0.4, label="real")
        ax.scatter(fake[0], fake[1], s=3, alpha=0.4, label="generated")
        covered, good, _ = mode_coverage(fake)
        ax.set_title(f"{covered}/8 modes, {100 * good:.0f}% within 3 std")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", markerscale=3)
    else:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.hist(X_real.ravel(), bins=60, density=True, alpha=0.5, label="real")
        ax.hist(fake.ravel(), bins=60, density=True, alpha=0.5, label="generated")
        ax.set_title(f"generated: mean {fake.mean():.3f}, std {fake.std():.3f}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=dpi)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ command line
def add_cli_arguments(parser):
    """The options of ``fnn-numba gan``."""
    parser.add_argument(
        "--dataset",
        required=True,
        choices=sorted(SETTINGS),
        help="ring8: 8 Gaussians on a circle; gaussian: N(4, 1.25^2); "
        "digits: the bundled 8x8 digits",
    )
    parser.add_argument("--loss", choices=LOSSES, default="non_saturating")
    parser.add_argument("--epochs", type=int, help="default: the data set's setting")
    parser.add_argument("--batch-size", type=int, help="default: the data set's setting")
    parser.add_argument("--learning-rate", type=float, help="default: the data set's setting")
    parser.add_argument("-k", type=int, help="discriminator steps per generator step (default 1)")
    parser.add_argument("--examples", type=int, help="real examples (default: the data set's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="the sample plot (default gan_DATASET.png)")
    parser.add_argument("--save", metavar="DIR", help="save both networks to this directory")
    return parser


def cli_main(args):
    """Run ``fnn-numba gan``: train, print the last epoch's figures, write the plot."""
    for name in ("epochs", "batch_size", "examples", "k"):
        v = getattr(args, name)
        if v is not None and v < 1:
            print(
                f"fnn-numba gan: error: --{name.replace('_', '-')}: expected a positive integer, "
                f"got {v}",
                file=sys.stderr,
            )
            return 2
    gan, X, fits = make_setup(
        args.dataset, seed=args.seed, loss=args.loss, examples=args.examples, k=args.k
    )
    if args.epochs is not None or args.learning_rate is not None:
        # given on the command line: one stage
        fits = [
            dict(
                fits[0],
                epochs=args.epochs or sum(f["epochs"] for f in fits),
                learning_rate=args.learning_rate or fits[0]["learning_rate"],
            )
        ]
    if args.batch_size is not None:
        fits = [dict(f, batch_size=args.batch_size) for f in fits]
    t0 = time.perf_counter()
    h = train_stages(gan, X, fits)
    print(
        f"{args.dataset}: {len(h)} epochs in {time.perf_counter() - t0:.1f} s; last epoch: "
        f"J_D {h.d_cost[-1]:.4f}, J_G {h.g_cost[-1]:.4f}, D(x) {h.d_real[-1]:.3f}, "
        f"D(G(z)) {h.d_fake[-1]:.3f}"
    )
    if args.dataset == "ring8":
        covered, good, _ = mode_coverage(gan.sample(2000, seed=1))
        print(f"modes covered: {covered}/8; samples within 3 std of a mode: {100 * good:.1f}%")
    elif args.dataset == "gaussian":
        x = gan.sample(20000, seed=1)
        print(f"generated mean {x.mean():.3f} (target 4), std {x.std():.3f} (target 1.25)")
    out = args.output or f"gan_{args.dataset}.png"
    plot_samples(gan, args.dataset, X, out)
    print(f"wrote {out}")
    if args.save:
        gan.save(args.save)
        print(f"saved to {args.save}")
    return 0
