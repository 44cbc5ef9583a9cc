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

from .activations import ACTIVATIONS  # noqa: E402
from .costs import COSTS  # noqa: E402
from .network import Gradients, History, Network, TrainingDivergedError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["ACTIVATIONS", "COSTS", "Gradients", "History", "Network", "TrainingDivergedError",
           "__version__"]
