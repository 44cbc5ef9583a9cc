"""The longer GAN checks, over seeds (a few minutes per seed on one core).

    python benchmarks/gan_quality.py gaussian [--seeds 0 1 2 3 4]
    python benchmarks/gan_quality.py ring8 --loss minimax
    python benchmarks/gan_quality.py digits

gaussian: generated mean and standard deviation against N(4, 1.25^2) (the
target: mean within 0.1, std within 15%). ring8: modes covered (of 8) and
the fraction of samples within 3 std of a mode, per seed, and how many seeds
collapsed (fewer than 7 modes). digits: a classifier trained separately on
the real digits labels the generated ones; the count per class. Settings:
``fnn_numba.gan.SETTINGS``. With ``--plot DIR`` each seed's sample plot is
written there.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fnn_numba.gan import make_setup, mode_coverage, plot_samples, train_stages  # noqa: E402


def digits_classifier(seed=0):
    """A softmax classifier of the real digits (64-64-10, 30 epochs) and its
    test accuracy."""
    import fnn_numba as fnn
    from fnn_numba.gan import digits_images

    X, y = digits_images()
    rng = np.random.default_rng(seed)
    order = rng.permutation(X.shape[1])
    train, test = order[:1400], order[1400:]
    clf = fnn.Network([64, 64, 10], ["relu", "softmax"], cost="cce", seed=seed)
    clf.fit(
        np.asfortranarray(X[:, train]),
        y[train],
        epochs=30,
        batch_size=32,
        learning_rate=0.1,
        progress=False,
    )
    return clf, clf.accuracy(np.asfortranarray(X[:, test]), y[test])


def run(dataset, seed, loss, plot_dir=None, epochs=None):
    gan, X, fits = make_setup(dataset, seed=seed, loss=loss)
    if epochs is not None:
        fits = [dict(fits[0], epochs=epochs)]
    t0 = time.perf_counter()
    h = train_stages(gan, X, fits)
    seconds = time.perf_counter() - t0
    line = (
        f"{dataset} {loss} seed {seed}: {len(h)} epochs, {seconds:.0f} s, "
        f"D(x) {h.d_real[-1]:.3f} D(G(z)) {h.d_fake[-1]:.3f}"
    )
    result = {}
    if dataset == "gaussian":
        x = gan.sample(20000, seed=1)
        ok = abs(x.mean() - 4) < 0.1 and abs(x.std() - 1.25) < 0.15 * 1.25
        result = dict(mean=x.mean(), std=x.std(), ok=ok)
        line += f"; mean {x.mean():.3f} std {x.std():.3f} {'ok' if ok else 'MISS'}"
    elif dataset == "ring8":
        covered, good, counts = mode_coverage(gan.sample(4000, seed=1))
        result = dict(covered=covered, good=good, ok=covered >= 7 and good > 0.5)
        line += f"; {covered}/8 modes, {100 * good:.1f}% within 3 std, counts {counts.tolist()}"
    else:
        clf, acc = run.classifier
        labels = clf.predict(gan.sample(2000, seed=1))
        counts = np.bincount(labels, minlength=10)
        result = dict(classes=int(np.sum(counts > 0)), ok=bool(np.all(counts > 0)))
        line += f"; classifier (test accuracy {acc:.3f}) labels per class {counts.tolist()}"
    print(line, flush=True)
    if plot_dir:
        os.makedirs(plot_dir, exist_ok=True)
        plot_samples(gan, dataset, X, os.path.join(plot_dir, f"{dataset}_{loss}_{seed}.png"))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", choices=["gaussian", "ring8", "digits"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--loss", choices=["non_saturating", "minimax"], default="non_saturating")
    p.add_argument("--epochs", type=int, help="one stage of this many epochs instead")
    p.add_argument("--plot", metavar="DIR")
    a = p.parse_args(argv)
    if a.dataset == "digits":
        run.classifier = digits_classifier()
    results = [run(a.dataset, s, a.loss, a.plot, a.epochs) for s in a.seeds]
    ok = sum(r["ok"] for r in results)
    print(f"{a.dataset} {a.loss}: {ok} of {len(results)} seeds meet the target")
    if a.dataset == "ring8":
        print(
            f"mode collapse (< 7 of 8 modes): {sum(r['covered'] < 7 for r in results)} "
            f"of {len(results)} seeds"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
