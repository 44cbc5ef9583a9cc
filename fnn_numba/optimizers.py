"""Optimizers: hyper-parameters and state as objects; the update is a kernel.

Each optimizer holds its hyper-parameters and, once it has taken a step, its
state (velocity or first moment, second moment, step count) as flat arrays
beside the network's flat parameter vector. The update itself runs in
:func:`fnn_numba.engine.apply_update` (kernels
:func:`~fnn_numba.kernels.optimizer_step` and
:func:`~fnn_numba.kernels.optimizer_commit`), the same code for ``fit``,
``partial_fit``, :meth:`fnn_numba.Network.step` and distributed training::

    sgd:       W <- W - alpha dJ/dW
    momentum:  v <- mu v - alpha g;  W <- W + v
    nesterov:  v <- mu v - alpha g;  W <- W + mu v - alpha g
    adam:      m <- beta1 m + (1 - beta1) g;  s <- beta2 s + (1 - beta2) g^2;
               W <- W - alpha (m / (1 - beta1^t)) / (sqrt(s / (1 - beta2^t)) + eps)
"""

import numpy as np

from . import _validation as V
from .engine import Update
from .kernels import ADAM, MOMENTUM, NESTEROV, OPTIMIZERS
from .kernels import SGD as SGD_CODE


class Optimizer:
    """Base class: ``kind`` is the update kernels' code."""

    kind = SGD_CODE
    name = "sgd"
    uses_velocity = False
    uses_second = False

    def __init__(self):
        self.velocity = self.second = None
        self.t = np.zeros(1, dtype=np.int64)

    @property
    def steps(self):
        """Steps taken so far (Adam's t)."""
        return int(self.t[0])

    def hyperparameters(self):
        return {}

    def ensure_state(self, params, full=False):
        """Allocate the zeroed state for ``params`` if it has none (or the
        wrong size or dtype): the arrays this optimizer uses, empty ones for
        those it does not, both sized when ``full`` (the GPU backend takes
        both whatever the optimizer)."""
        for attr, used in (("velocity", self.uses_velocity), ("second", self.uses_second)):
            size = params.size if (used or full) else 0
            cur = getattr(self, attr)
            if (
                cur is None
                or cur.dtype != params.dtype
                or cur.size not in (size, params.size)
                or cur.size < size
            ):
                setattr(self, attr, np.zeros(size, dtype=params.dtype))

    def reset(self):
        self.velocity = self.second = None
        self.t = np.zeros(1, dtype=np.int64)

    def update_args(self, params, learning_rate, clip_norm=0.0, clip_value=0.0, step=None):
        """The :class:`~fnn_numba.engine.Update` tuple for a run of batches."""
        self.ensure_state(params)
        hp = dict(momentum=0.0, beta1=0.9, beta2=0.999, epsilon=1e-8)
        hp.update(self.hyperparameters())
        if step is None:
            # plain SGD updates in place with no step buffer
            step = np.zeros(0 if self.kind == SGD_CODE else params.size, dtype=params.dtype)
        return Update(
            kind=self.kind,
            velocity=self.velocity,
            second=self.second,
            step=step,
            t=self.t,
            learning_rate=float(learning_rate),
            momentum=float(hp["momentum"]),
            beta1=float(hp["beta1"]),
            beta2=float(hp["beta2"]),
            epsilon=float(hp["epsilon"]),
            clip_norm=float(clip_norm),
            clip_value=float(clip_value),
        )

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent, W <- W - alpha dJ/dW."""


class Momentum(Optimizer):
    """Classical momentum: v <- mu v - alpha g; W <- W + v."""

    kind = MOMENTUM
    name = "momentum"
    uses_velocity = True

    def __init__(self, momentum=0.9):
        super().__init__()
        self.momentum = _unit_interval("momentum", momentum)

    def hyperparameters(self):
        return {"momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov momentum: v <- mu v - alpha g; W <- W + mu v - alpha g."""

    kind = NESTEROV
    name = "nesterov"


class Adam(Optimizer):
    """Adam with bias correction (Kingma and Ba 2015)."""

    kind = ADAM
    name = "adam"
    uses_velocity = True
    uses_second = True

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.beta1 = _unit_interval("beta1", beta1)
        self.beta2 = _unit_interval("beta2", beta2)
        self.epsilon = V.check_positive("epsilon", epsilon)

    def hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}


#: optimizer name -> class
OPTIMIZER_CLASSES = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}
assert set(OPTIMIZER_CLASSES) == set(OPTIMIZERS)


def _unit_interval(name, value):
    value = V.check_positive(name, value, allow_zero=True)
    if value >= 1:
        raise ValueError(f"{name}: expected a value in [0, 1), got {value!r}")
    return value


def make_optimizer(optimizer, momentum=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """An :class:`Optimizer` from a name (with the hyper-parameters that
    optimizer takes) or an Optimizer object (returned as is)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    name = V.check_choice("optimizer", optimizer, OPTIMIZER_CLASSES)
    if name in ("momentum", "nesterov"):
        return OPTIMIZER_CLASSES[name](momentum)
    if name == "adam":
        return Adam(beta1, beta2, epsilon)
    # the unused hyper-parameters are still checked, so a typo is never silent
    _unit_interval("momentum", momentum)
    _unit_interval("beta1", beta1)
    _unit_interval("beta2", beta2)
    V.check_positive("epsilon", epsilon)
    return SGD()
