"""Initialisation of the weights.

zeros: every weight 0 (the counter-example of the derivation: all units stay
symmetric). normal: N(0, sigma^2) with sigma = 0.01 ("small values, normally
distributed"). xavier: N(0, sigma^2) with sigma = sqrt(2 / (n[l] + n[l-1])).
he: N(0, sigma^2) with sigma = sqrt(2 / n[l-1]), for the relu family.
A convolutional layer's fan-in is in_channels kh kw and its fan-out
filters kh kw (:meth:`fnn_numba.layers.Conv2D.fans`), as PyTorch counts them.
A layer with a fixed starting weight (Subsample2D's beta = 1) draws nothing.
Biases start at 0 in every scheme. Draws come from a seeded NumPy Generator,
layer by layer in a fixed order, in float64 then cast, so a seed gives the same
network in float32 and float64 (up to the cast).
"""

import math

import numpy as np


def _std_normal(rng, shape, std):
    return rng.standard_normal(shape) * std


#: scheme -> sigma as a function of (fan-out n[l], fan-in n[l-1])
INITIALISERS = {
    "zeros": lambda n, K: 0.0,
    "normal": lambda n, K: 0.01,
    "xavier": lambda n, K: math.sqrt(2.0 / (n + K)),
    "he": lambda n, K: math.sqrt(2.0 / K),
}


def initial_parameters(init, stack, rng, params, geom):
    """Fill the flat parameter vector: each layer's W from the scheme
    ``init`` (sigma from the layer's fan-in and fan-out), its b = 0."""
    from .layers import W_OFF

    params[...] = 0
    for i, layer in enumerate(stack):
        shapes = dict(layer.parameter_shapes())
        if "W" not in shapes:
            continue
        fixed = getattr(layer, "initial_weight", None)
        if fixed is not None:
            size = int(np.prod(shapes["W"]))
            params[geom[i, W_OFF] : geom[i, W_OFF] + size] = fixed
            continue
        std = layer.init_std(init)
        if std > 0:
            shape = shapes["W"]
            w = _std_normal(rng, shape, std)
            params[geom[i, W_OFF] : geom[i, W_OFF] + w.size] = w.ravel()
