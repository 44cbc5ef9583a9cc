"""The figures of docs/gan.rst, written to docs/_static/gan_*.png.

    python benchmarks/gan_figures.py [--only optimal_d gaussian ring8 digits]

optimal_d: p_data = N(0, 1), p_g = N(1, 1) from a frozen generator
G(z) = z + 1; a discriminator trained alone against D*(x) =
p_data / (p_data + p_g). gaussian, ring8, digits: seed 0 of the settings in
``fnn_numba.gan.SETTINGS`` (the sample plot of ``fnn-numba gan``) and, for
the Gaussian, the history (J_D, J_G, D(x), D(G(z)) per epoch).
"""

import argparse
import math
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import fnn_numba as fnn  # noqa: E402
from fnn_numba.gan import GAN, make_setup, plot_samples, train_stages  # noqa: E402

OUT = os.path.join(ROOT, "docs", "_static")
DPI = 72


def _phi(x, mu=0.0):
    return np.exp(-0.5 * (x - mu) ** 2) / math.sqrt(2 * math.pi)


def optimal_d(plt):
    x = np.linspace(-3, 4, 141)[None]
    d_star = _phi(x) / (_phi(x) + _phi(x, 1.0))
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(x[0], d_star[0], "k-", lw=3, alpha=0.35, label="D*(x) = p_data / (p_data + p_g)")
    real = np.random.default_rng(0).standard_normal((1, 4000))
    for sizes, acts, style in (
        ([1, 1], ["sigmoid"], "--"),
        ([1, 16, 16, 1], ["tanh", "tanh", "sigmoid"], ":"),
    ):
        G = fnn.Network([1, 1], ["identity"], cost="mse", seed=0)
        G.weights, G.biases = [np.ones((1, 1))], [np.ones(1)]
        D = fnn.Network(sizes, acts, cost="bce", seed=1)
        gan = GAN(G, D, seed=0)
        gan.fit(real, epochs=30, batch_size=500, learning_rate=0.01, train_generator=False)
        gan.fit(real, epochs=20, batch_size=1000, learning_rate=0.002, train_generator=False)
        err = np.max(np.abs(D.forward(x[:, 20:121]) - d_star[:, 20:121]))
        ax.plot(
            x[0],
            D.forward(x)[0],
            style,
            label=f"D {'-'.join(map(str, sizes))} (max |D - D*| on [-2, 3]: {err:.3f})",
        )
    ax.plot(x[0], _phi(x)[0], color="C0", alpha=0.3, label="p_data = N(0, 1)")
    ax.plot(x[0], _phi(x, 1.0)[0], color="C3", alpha=0.3, label="p_g = N(1, 1)")
    ax.set_xlabel("x")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "gan_optimal_d.png"), dpi=DPI)
    plt.close(fig)


def dataset(plt, name):
    gan, X, fits = make_setup(name, seed=0)
    h = train_stages(gan, X, fits)
    plot_samples(gan, name, X, os.path.join(OUT, f"gan_{name}.png"), dpi=DPI)
    if name == "gaussian":
        fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
        e = np.arange(1, len(h) + 1)
        a.plot(e, h.d_cost, label="J_D")
        a.plot(e, h.g_cost, label="J_G (non-saturating)")
        a.axhline(math.log(4), color="k", lw=0.5, label="log 4, log 2")
        a.axhline(math.log(2), color="k", lw=0.5)
        a.set_xlabel("epoch")
        a.legend(fontsize=7)
        b.plot(e, h.d_real, label="mean D(x)")
        b.plot(e, h.d_fake, label="mean D(G(z))")
        b.axhline(0.5, color="k", lw=0.5)
        b.set_xlabel("epoch")
        b.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "gan_history.png"), dpi=DPI)
        plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=["optimal_d", "gaussian", "ring8", "digits"])
    a = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(OUT, exist_ok=True)
    for name in a.only:
        optimal_d(plt) if name == "optimal_d" else dataset(plt, name)
        print(f"wrote the {name} figure", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
