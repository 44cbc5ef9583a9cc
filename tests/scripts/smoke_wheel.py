"""Smoke test of an installed fnn_numba, run by CI in a fresh virtual
environment that has only the wheel (and its dependencies) installed:

    python tests/scripts/smoke_wheel.py dist/fnn_numba-*.whl

1. the wheel holds the package alone (``fnn_numba/`` and its metadata, with
   the licence): no tests, benchmarks or documentation;
2. ``import fnn_numba`` finds the installed copy, not a checkout;
3. a tiny network trains for one epoch, predicts, and survives a save/load
   round trip; ``python -m fnn_numba --version`` answers.

Exits non-zero with a message on the first failure. Run it from outside the
repository, so that the checkout cannot shadow the installed package.
"""

import os
import subprocess
import sys
import tempfile
import zipfile


def fail(message):
    print(f"smoke_wheel: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check_wheel(path):
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
    tops = {name.split("/")[0] for name in names}
    dist_info = [t for t in tops if t.endswith(".dist-info")]
    if tops - set(dist_info) != {"fnn_numba"} or len(dist_info) != 1:
        fail(f"expected only fnn_numba/ and one .dist-info in the wheel, got {sorted(tops)}")
    if not any(n.startswith(f"{dist_info[0]}/licenses/LICENSE") for n in names):
        fail(f"expected the LICENSE file in {dist_info[0]}/licenses/")
    print(f"wheel: {len(names)} files, top level {sorted(tops)}")


def check_installed():
    import numpy as np

    import fnn_numba as fnn

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    location = os.path.dirname(os.path.abspath(fnn.__file__))
    if "site-packages" not in location or location.startswith(here + os.sep):
        fail(f"expected fnn_numba from the environment's site-packages, got {location}")
    print(f"fnn_numba {fnn.__version__} from {location}")

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 40))
    y = (X[0] + X[1] > 0).astype(np.int64)  # a separable two-class problem
    net = fnn.Network(
        [4, 8, 2], activations=["tanh", "softmax"], cost="categorical_cross_entropy", seed=0
    )
    history = net.fit(X, y, epochs=1, batch_size=8, learning_rate=0.1)
    if len(history.cost) != 1 or not np.isfinite(history.cost[0]):
        fail(f"expected one finite epoch cost, got {history.cost}")
    labels = net.predict(X)
    if labels.shape != (40,) or not set(np.unique(labels)) <= {0, 1}:
        fail(
            f"expected 40 labels in {{0, 1}}, got shape {labels.shape}, values {np.unique(labels)}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        net.save(path)
        same = fnn.Network.load(path)
    if not np.array_equal(same.forward(X), net.forward(X)):
        fail("the loaded network's outputs differ from the saved one's")
    print(f"fit 1 epoch (cost {history.cost[0]:.4f}), predict, save/load: ok")

    done = subprocess.run(
        [sys.executable, "-m", "fnn_numba", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 or done.stdout.strip() != f"fnn-numba {fnn.__version__}":
        fail(
            f"python -m fnn_numba --version: exit {done.returncode}, {done.stdout!r} {done.stderr!r}"
        )
    print(done.stdout.strip())


if __name__ == "__main__":
    if len(sys.argv) > 2:
        fail(f"expected at most one argument (the wheel), got {sys.argv[1:]}")
    if len(sys.argv) == 2:
        check_wheel(sys.argv[1])
    check_installed()
    print("smoke_wheel: passed")
