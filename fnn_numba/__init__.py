"""fnn_numba: feedforward networks whose every equation is a Numba loop.

Quick start::

    import numpy as np, fnn_numba as fnn
    net = fnn.Network([64, 32, 10], activations=["relu", "softmax"],
                      cost="categorical_cross_entropy", init="he", seed=0)
    history = net.fit(X, labels, epochs=20, batch_size=32, learning_rate=0.1)

X has shape (n0, m): columns are examples, as in the derivation.
"""

from ._cache import invalidate_stale_cache

invalidate_stale_cache()

from . import layers, optimizers  # noqa: E402
from .activations import ACTIVATIONS  # noqa: E402
from .costs import COSTS  # noqa: E402
from .network import ForwardPass, Gradients, History, Network, TrainingDivergedError  # noqa: E402
from .verify import crosscheck  # noqa: E402

__version__ = "0.2.0"

#: names served on first use, so that ``import fnn_numba`` needs neither
#: scikit-learn nor matplotlib (optional extras)
_LAZY = {
    "FNNClassifier": "estimators",
    "FNNRegressor": "estimators",
    "plot_loss_curve": "plotting",
    "plot_decision_boundary": "plotting",
    "GAN": "gan",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "ForwardPass",
    "Gradients",
    "layers",
    "optimizers",
    "History",
    "Network",
    "TrainingDivergedError",
    "crosscheck",
    "__version__",
]
