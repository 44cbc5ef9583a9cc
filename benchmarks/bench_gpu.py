"""Training throughput on a GPU: fnn_numba device="cuda" against PyTorch CUDA
(eager and CUDA graph), float32, TF32 off, in one run:

    python benchmarks/bench_gpu.py                 # all four shapes
    python benchmarks/bench_gpu.py --shapes 0 1    # a subset
    python benchmarks/bench_gpu.py --seconds 3     # longer measurements

Prints a markdown table of training samples/s (softmax MLP, ReLU hidden
layers, categorical cross-entropy, plain mini-batch SGD), with the ratio of
each to PyTorch's CUDA graph, and the machine and versions as footnotes.
Exits 0 with "skipped: no GPU" where there is none.

fnn_numba is measured with ``Network.fit`` itself (one epoch per
measurement, the shuffled order drawn on the host and uploaded, the batch
costs and the weights copied back per epoch), after a warm-up epoch that
compiles the kernels; its fused one-kernel-per-epoch path and its
per-equation path are both measured where the fused one applies
(``gpu_kernels.FUSED_MAX_FLOPS``). PyTorch runs the same step (gather a
shuffled batch from data already on the GPU, forward, loss, backward,
``SGD.step``), eagerly and as a captured CUDA graph replayed per batch.
"""
import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = [
    ([64, 32, 10], 32),
    ([784, 128, 10], 64),
    ([784, 512, 512, 10], 256),
    ([2048, 2048, 2048, 10], 1024),
]
LEARNING_RATE = 0.01


def _data(sizes, batch, seconds_hint):
    # enough examples for ~200 batches (at least 8 for the largest shape)
    batches = 200 if batch <= 256 else 40
    m = batch * batches
    rng = np.random.default_rng(0)
    X = rng.standard_normal((sizes[0], m)).astype(np.float32)
    y = rng.integers(0, sizes[-1], m)
    return X, y


def bench_fnn(sizes, batch, X, y, seconds, fused):
    import fnn_numba as fnn
    from fnn_numba import gpu_kernels as gk

    gk.FUSED_EPOCH = fused
    net = fnn.Network(sizes, dtype=np.float32, seed=0, init="he", device="cuda")
    t = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=batch, learning_rate=LEARNING_RATE)
    first = time.perf_counter() - t
    m = X.shape[1]
    done, t0 = 0, time.perf_counter()
    while True:
        net.fit(X, y, epochs=1, batch_size=batch, learning_rate=LEARNING_RATE)
        done += m
        if time.perf_counter() - t0 >= seconds:
            break
    gk.FUSED_EPOCH = True
    return done / (time.perf_counter() - t0), first


def bench_torch(sizes, batch, X, y, seconds, graph, device="cuda"):
    """PyTorch samples/s; ``device="cpu"`` (eager only) exists to smoke-test
    this function where there is no GPU."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(device)
    on_gpu = dev.type == "cuda"
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    torch.manual_seed(0)
    layers = []
    for l in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    Xd = torch.from_numpy(np.ascontiguousarray(X.T)).to(dev)
    yd = torch.from_numpy(y).to(dev)
    m = Xd.shape[0]
    n_batches = m // batch
    # the warm-up and the capture run on these before any batch is copied in:
    # valid values (labels in range), not uninitialised memory
    static_x = torch.zeros((batch, sizes[0]), device=dev)
    static_y = torch.zeros((batch,), dtype=torch.int64, device=dev)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(static_x), static_y)
        loss.backward()
        opt.step()
        return loss

    if on_gpu:  # warm up on a side stream, as CUDA graph capture asks
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(5):
                step()
        torch.cuda.current_stream().wait_stream(side)
    run = step
    if graph:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step()
        run = g.replay

    def epoch():
        order = torch.randperm(m, device=dev)
        for b in range(n_batches):
            idx = order[b * batch:(b + 1) * batch]
            torch.index_select(Xd, 0, idx, out=static_x)
            torch.index_select(yd, 0, idx, out=static_y)
            run()

    epoch()
    sync()
    done, t0 = 0, time.perf_counter()
    while True:
        epoch()
        sync()
        done += n_batches * batch
        if time.perf_counter() - t0 >= seconds:
            break
    return done / (time.perf_counter() - t0)


def _fmt(x):
    if x is None:
        return "-"
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, nargs="*", default=list(range(len(SHAPES))))
    parser.add_argument("--seconds", type=float, default=2.0, help="measurement time per row")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)

    from fnn_numba import gpu_engine, gpu_kernels as gk

    reason = gpu_engine.unavailable_reason()
    if reason is not None:
        print(f"skipped: no GPU ({reason})")
        return 0
    have_torch = False
    if not args.no_torch:
        try:
            import torch

            have_torch = torch.cuda.is_available()
        except ImportError:
            have_torch = False

    rows = []
    for s in args.shapes:
        sizes, batch = SHAPES[s]
        X, y = _data(sizes, batch, args.seconds)
        label = f"{'-'.join(map(str, sizes))} b{batch}"
        fused_applies = gk.fused_epoch_fits(sizes, batch)
        per_eq, first = bench_fnn(sizes, batch, X, y, args.seconds, fused=False)
        fused = bench_fnn(sizes, batch, X, y, args.seconds, fused=True)[0] if fused_applies else None
        eager = bench_torch(sizes, batch, X, y, args.seconds, graph=False) if have_torch else None
        graph = bench_torch(sizes, batch, X, y, args.seconds, graph=True) if have_torch else None
        rows.append((label, per_eq, fused, eager, graph, first))
        print(f"measured {label}", file=sys.stderr, flush=True)

    print("| network, batch | fnn_numba cuda, per-equation kernels | fnn_numba cuda, fused epoch "
          "| PyTorch eager | PyTorch CUDA graph | fnn_numba best / graph | fnn_numba first epoch (s) |")
    print("|---|---|---|---|---|---|---|")
    for label, per_eq, fused, eager, graph, first in rows:
        best = max(per_eq, fused or 0.0)
        ratio = f"{best / graph:.2f}" if graph else "-"
        print(f"| {label} | {_fmt(per_eq)} | {_fmt(fused)} | {_fmt(eager)} | {_fmt(graph)} | "
              f"{ratio} | {first:.2f} |")

    from numba import cuda
    import numba
    import numba_cuda

    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
    versions = f"numba {numba.__version__}, numba-cuda {numba_cuda.__version__}, numpy {np.__version__}"
    if have_torch:
        import torch

        versions += f", torch {torch.__version__} (CUDA {torch.version.cuda})"
    print(f"\nTraining samples/s, float32, softmax + categorical cross-entropy, plain SGD "
          f"(lr {LEARNING_RATE}), TF32 off. Device: {name}; {versions}; python "
          f"{platform.python_version()}. Command: `python benchmarks/bench_gpu.py "
          f"--seconds {args.seconds:g}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
