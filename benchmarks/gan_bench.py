"""A GAN training step of fnn_numba against PyTorch CPU eager, side by side.

ring8 (8 Gaussians on a circle), generator 2-64-64-2 and discriminator
2-64-64-1 (ReLU hidden layers; sigmoid output with binary cross-entropy),
batch 128, Adam (beta1 = 0.5), k = 1, the non-saturating loss. One step is
the notes' algorithm in both: m fresh noise draws, D descends
J_D = -(1/m) sum [log D(x) + log(1 - D(G(z)))], then m fresh draws and G
descends -(1/m) sum log D(G(z)) by back-propagating through D.

Each measurement runs in its own process (no shared JIT or thread pools) and
the two libraries alternate round by round, so that a loaded machine slows
both alike; the figure is the median over rounds of the mean step time::

    python benchmarks/gan_bench.py [--rounds 5] [--steps 200] [--threads 1] [--dtype float32]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 128


def _data(steps, dtype):
    sys.path.insert(0, os.path.join(HERE, ".."))
    from fnn_numba.gan import ring8

    return ring8(BATCH * steps, seed=0, dtype=dtype)


def fnn_steps(steps, dtype):
    """Seconds per step of GAN.fit over ``steps`` batches (one epoch; the
    end-of-epoch D(x), D(G(z)) figures are timed apart and left out)."""
    import fnn_numba as fnn
    from fnn_numba.gan import GAN

    def make():
        G = fnn.Network(
            [2, 64, 64, 2], ["relu", "relu", "identity"], cost="mse", seed=0, dtype=dtype
        )
        D = fnn.Network(
            [2, 64, 64, 1], ["relu", "relu", "sigmoid"], cost="bce", seed=1, dtype=dtype
        )
        return GAN(G, D, seed=0)

    X = _data(steps, dtype)
    make().fit(X[:, : 2 * BATCH], epochs=1, batch_size=BATCH, learning_rate=1e-4)  # compile
    gan = make()
    t0 = time.perf_counter()
    h = gan.fit(X, epochs=1, batch_size=BATCH, learning_rate=1e-4)
    total = time.perf_counter() - t0
    return h.epoch_seconds[0] / steps, total


def torch_steps(steps, dtype):
    import torch

    tdtype = torch.float32 if dtype == "float32" else torch.float64
    torch.manual_seed(0)

    def mlp(n_out):
        return torch.nn.Sequential(
            torch.nn.Linear(2, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, n_out),
        ).to(tdtype)

    G, D = mlp(2), mlp(1)
    opt_g = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))
    bce = torch.nn.BCEWithLogitsLoss()
    X = torch.from_numpy(np.ascontiguousarray(_data(steps, np.float64).T)).to(tdtype)
    targets = torch.cat([torch.ones(BATCH, 1), torch.zeros(BATCH, 1)]).to(tdtype)
    ones = torch.ones(BATCH, 1, dtype=tdtype)

    def step(b):
        real = X[b * BATCH : (b + 1) * BATCH]
        fake = G(torch.randn(BATCH, 2, dtype=tdtype)).detach()
        opt_d.zero_grad()
        loss_d = 2 * bce(D(torch.cat([real, fake])), targets)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(D(G(torch.randn(BATCH, 2, dtype=tdtype))), ones)
        loss_g.backward()
        opt_g.step()

    for b in range(10):
        step(b)
    t0 = time.perf_counter()
    for b in range(steps):
        step(b)
    total = time.perf_counter() - t0
    return total / steps, total


def worker(lib, steps, dtype, threads):
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
        per_step, total = torch_steps(steps, dtype)
    else:
        per_step, total = fnn_steps(steps, np.float32 if dtype == "float32" else np.float64)
    print(json.dumps(dict(lib=lib, per_step=per_step, total=total)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--worker", choices=["fnn", "torch"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(a.worker, a.steps, a.dtype, a.threads)
        return 0
    env = dict(
        os.environ,
        NUMBA_NUM_THREADS=str(a.threads),
        OMP_NUM_THREADS=str(a.threads),
        PYTHONPATH=os.path.join(HERE, "..") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    times = {"fnn": [], "torch": []}
    for r in range(a.rounds):
        for lib in ("fnn", "torch"):
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                lib,
                "--steps",
                str(a.steps),
                "--dtype",
                a.dtype,
                "--threads",
                str(a.threads),
            ]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            times[lib].append(res["per_step"])
            print(f"round {r + 1}: {lib:<5} {1e3 * res['per_step']:.3f} ms/step", flush=True)
    f, t = statistics.median(times["fnn"]), statistics.median(times["torch"])
    print(
        f"median ms per GAN step ({a.dtype}, {a.threads} thread(s), batch {BATCH}): "
        f"fnn_numba {1e3 * f:.3f}, PyTorch {1e3 * t:.3f}; speed-up {t / f:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
