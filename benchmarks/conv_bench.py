"""Convolutional networks: fnn_numba against PyTorch CPU, and the per-kernel
profile against an im2col + sgemm formulation of the same layer.

Two workloads, float32, training steps of plain SGD:

- ``lenet5``: 1x28x28 inputs, conv 6@5x5, max pool 2, conv 16@5x5, max
  pool 2, dense 120, 84, 10 (relu, softmax), batch 64;
- ``digits``: 1x8x8 inputs, conv 8@3x3 padding 1, max pool 2, conv 16@3x3,
  flatten, dense 10, batch 32.

Each library runs in a process of its own, round after round, in an order
that alternates between rounds (another runtime's idle worker threads in
the same process can halve a 2-core figure); each process warms up
(compilation, allocation) and then times training. PyTorch runs on
``--torch-threads`` threads (2 by default), fnn_numba on Numba's threads.
``--same-process`` times both in one process instead, as a user mixing the
two libraries would run them. Figures are examples per second of training
(median over rounds). ``--profile`` adds, per conv kernel of the
LeNet shape, GFLOP/s (2 multiply-adds counted as 2 flops) of the fnn_numba
kernel and of NumPy's im2col + matmul (BLAS sgemm) for the same product.

    python benchmarks/conv_bench.py [--rounds 5] [--seconds 1] [--same-process] [--profile] [--json FILE]

On a loaded or shared machine the figures are indicative only.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

#: name -> (input shape, fnn_numba layers builder, batch)
WORKLOADS = ("lenet5", "digits")


def fnn_layers(name):
    from fnn_numba.layers import Conv2D, Dense, Flatten, Input, MaxPool2D

    if name == "lenet5":
        return [
            Input((1, 28, 28)),
            Conv2D(6, 5),
            MaxPool2D(2),
            Conv2D(16, 5),
            MaxPool2D(2),
            Flatten(),
            Dense(120),
            Dense(84),
            Dense(10, activation="softmax"),
        ], 64
    return [
        Input((1, 8, 8)),
        Conv2D(8, 3, padding=1),
        MaxPool2D(2),
        Conv2D(16, 3),
        Flatten(),
        Dense(10, activation="softmax"),
    ], 32


def torch_model(name):
    import torch.nn as nn

    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(256, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def data(name, batches, batch, seed=0):
    rng = np.random.default_rng(seed)
    shape = (1, 28, 28) if name == "lenet5" else (1, 8, 8)
    m = batches * batch
    X = rng.random((int(np.prod(shape)), m), dtype=np.float32)
    y = rng.integers(0, 10, m)
    return shape, np.asfortranarray(X), y


class FnnRunner:
    def __init__(self, name, batches=8):
        import fnn_numba as fnn

        layers, self.batch = fnn_layers(name)
        self.net = fnn.Network(layers, dtype=np.float32, seed=0)
        _, self.X, self.y = data(name, batches, self.batch)
        self.examples = self.X.shape[1]

    def epoch(self):
        self.net.fit(
            self.X, self.y, epochs=1, batch_size=self.batch, learning_rate=0.01, shuffle=False
        )


class TorchRunner:
    def __init__(self, name, threads, batches=8):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = torch_model(name)
        _, self.batch = fnn_layers(name)
        shape, X, y = data(name, batches, self.batch)
        self.X = torch.tensor(np.ascontiguousarray(X.T).reshape((-1,) + shape))
        self.y = torch.tensor(y)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)
        self.loss = torch.nn.CrossEntropyLoss()
        self.examples = self.X.shape[0]

    def epoch(self):
        for s in range(0, self.examples, self.batch):
            self.opt.zero_grad()
            self.loss(self.model(self.X[s : s + self.batch]), self.y[s : s + self.batch]).backward()
            self.opt.step()


def timed(fn, seconds):
    """Examples/s of ``fn`` (one epoch per call), calls repeated for at least ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn.epoch()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n * fn.examples / dt


def runner(library, name, torch_threads):
    return FnnRunner(name) if library == "fnn_numba" else TorchRunner(name, torch_threads)


def child(library, name, seconds, torch_threads):
    """One library's figure in this process: warm up, then time."""
    r = runner(library, name, torch_threads)
    r.epoch()  # warm-up: compilation (or loading it from the cache), allocation
    print(json.dumps({"examples_per_second": timed(r, seconds)}))


def compare_processes(name, rounds, seconds, torch_threads):
    """Median examples/s of each library, each round's figure measured in a
    fresh process of its own (order alternating between rounds)."""
    import subprocess

    libraries = ["fnn_numba"]
    try:
        import torch  # noqa: F401

        libraries.append("torch")
    except ImportError:
        pass
    samples = {k: [] for k in libraries}
    for i in range(rounds):
        for k in libraries[i % len(libraries) :] + libraries[: i % len(libraries)]:
            argv = [sys.executable, os.path.abspath(__file__), "--child", k, name]
            argv += ["--seconds", str(seconds), "--torch-threads", str(torch_threads)]
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            samples[k].append(json.loads(out.strip().splitlines()[-1])["examples_per_second"])
    return {k: statistics.median(v) for k, v in samples.items()}


def compare(name, rounds, seconds, torch_threads):
    """As :func:`compare_processes`, with both libraries in this process."""
    runners = {"fnn_numba": FnnRunner(name)}
    try:
        runners["torch"] = TorchRunner(name, torch_threads)
    except ImportError:
        pass
    for r in runners.values():
        r.epoch()  # warm-up: compilation, allocation
    samples = {k: [] for k in runners}
    for i in range(rounds):
        for k in list(runners)[i % len(runners) :] + list(runners)[: i % len(runners)]:
            time.sleep(0.2)  # let the other library's worker threads go idle
            samples[k].append(timed(runners[k], seconds))
    return {k: statistics.median(v) for k, v in samples.items()}


def profile(seconds=0.5):
    """GFLOP/s per conv kernel of the LeNet shapes, fnn_numba against
    im2col + matmul (NumPy's BLAS) for the same product, float32, batch 64."""
    from fnn_numba import conv_kernels as ck
    from fnn_numba import vectorized as vec

    rng = np.random.default_rng(0)
    m = 64
    out = {}
    for label, (C, H, F, K) in {
        "conv1 1x28x28 -> 6@5x5": (1, 28, 6, 5),
        "conv2 6x12x12 -> 16@5x5": (6, 12, 16, 5),
    }.items():
        OH = H - K + 1
        flops = 2.0 * F * C * K * K * OH * OH * m
        w = rng.standard_normal((F, C, K, K)).astype(np.float32)
        b = np.zeros(F, np.float32)
        a = np.asfortranarray(rng.standard_normal((C * H * H, m)).astype(np.float32))
        z = np.asfortranarray(np.zeros((F * OH * OH, m), np.float32))
        dz = np.asfortranarray(rng.standard_normal((F * OH * OH, m)).astype(np.float32))
        dw, db = np.zeros_like(w), np.zeros(F, np.float32)
        da = np.asfortranarray(np.zeros_like(a))
        a4 = np.ascontiguousarray(a).reshape(C, H, H, m)
        wmat = w.reshape(F, -1)

        def im2col():
            win = vec._windows(a4, K, K, 1, 0)  # (C, OH, OW, m, K, K)
            cols = np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3)).reshape(C * K * K, -1)
            return wmat @ cols

        kernels = {
            "forward (CNN 1)": lambda: ck.conv_forward(w, b, a, z, H, H, 1, 0),
            "dW, db (CNN 2, 3)": lambda: ck.conv_dw_db(dz, a, w, np.float32(0), dw, db, H, H, 1, 0),
            "dA (CNN 4)": lambda: ck.conv_da_prev(w, dz, da, H, H, 1, 0),
            "im2col + sgemm forward": im2col,
        }
        for k, fn in kernels.items():
            fn()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                fn()
                n += 1
            out[f"{label}: {k}"] = flops * n / (time.perf_counter() - t0) / 1e9
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    p.add_argument("--same-process", action="store_true", help="both libraries in one process")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--child", nargs=2, metavar=("LIBRARY", "WORKLOAD"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.seconds, args.torch_threads)
        return 0
    result = {"examples_per_second": {}, "gflops": {}, "same_process": args.same_process}
    measure = compare if args.same_process else compare_processes
    for name in args.workloads:
        figures = measure(name, args.rounds, args.seconds, args.torch_threads)
        result["examples_per_second"][name] = figures
        ratio = figures["fnn_numba"] / figures["torch"] if "torch" in figures else float("nan")
        print(
            f"{name}: "
            + ", ".join(f"{k} {v:,.0f} examples/s" for k, v in figures.items())
            + f"; fnn_numba / torch = {ratio:.2f}"
        )
    if args.profile:
        result["gflops"] = profile()
        for k, v in result["gflops"].items():
            print(f"{k}: {v:.2f} GFLOP/s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
