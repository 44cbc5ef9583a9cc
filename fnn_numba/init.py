"""Initialisation of the weights (slides-backpropagation, "Initialization").

zeros: every weight 0 (the slides' counter-example: all units stay symmetric).
normal: N(0, sigma^2) with sigma = 0.01, the slides' "small values, normally
distributed, N(0, 0.01)" (0.01 read as the standard deviation).
xavier: N(0, sigma^2) with sigma = sqrt(2 / (n[l] + n[l-1])), the slides' formula.
he: N(0, sigma^2) with sigma = sqrt(2 / n[l-1]), for the relu family.
Biases start at 0 in every scheme. Draws come from a seeded NumPy Generator,
layer by layer in a fixed order, in float64 then cast, so a seed gives the same
network in float32 and float64 (up to the cast).
"""
import math

import numpy as np


def _std_normal(rng, shape, std):
    return rng.standard_normal(shape) * std


INITIALISERS = {
    "zeros": lambda n, K: 0.0,
    "normal": lambda n, K: 0.01,
    "xavier": lambda n, K: math.sqrt(2.0 / (n + K)),
    "he": lambda n, K: math.sqrt(2.0 / K),
}


def initial_parameters(init, sizes, rng, params, w_off, b_off):
    """Fill the flat parameter vector: W[l] from the scheme ``init``, b[l] = 0."""
    std_of = INITIALISERS[init]
    params[...] = 0
    for l in range(len(sizes) - 1):
        n, K = sizes[l + 1], sizes[l]
        std = std_of(n, K)
        if std > 0:
            w = _std_normal(rng, (n, K), std)
            params[w_off[l]:w_off[l] + n * K] = w.ravel()
