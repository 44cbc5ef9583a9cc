"""Training throughput on a GPU: fnn_numba's CUDA backend against PyTorch CUDA
(eager and CUDA graph), float32, TF32 off, in one run:

    python benchmarks/bench_gpu.py                 # all four shapes, GEMM table, fused sweep
    python benchmarks/bench_gpu.py --shapes 0 1    # a subset
    python benchmarks/bench_gpu.py --seconds 3     # longer measurements
    python benchmarks/bench_gpu.py --no-gemm --no-sweep

Prints three markdown tables, with the machine and versions as footnotes:

1. training samples/s (softmax MLP, ReLU hidden layers, categorical
   cross-entropy, plain mini-batch SGD) of fnn_numba's per-equation kernels,
   its fused epoch where it applies, PyTorch eager and PyTorch replaying a
   captured CUDA graph per batch. Both sides are timed the same way: on
   data already on the device, whole epochs of shuffled batches (a gather
   of each batch from the resident data, forward, loss, backward, update),
   from the first launch to a device synchronisation, after a warm-up epoch
   (compilation, allocation, graph capture) that is not timed. fnn_numba is
   driven through its backend (``DeviceNetwork.queue_batches``) so that no
   host copy is timed: ``Network.fit`` adds per epoch only the upload of the
   order and the download of the parameters and batch costs.
2. GFLOP/s of each GEMM kernel (P1 (1), P1 (13) + (14), P1 (21)) on every
   layer of every shape, against cuBLAS (``torch.matmul`` of the same
   product, TF32 off), timed with CUDA events over repeated launches.
3. a sweep of the fused epoch against the per-equation path over networks
   and batch sizes, with the flops of a step (6 x parameters x batch), to
   place ``fnn_numba.gpu.fused.FUSED_MAX_FLOPS``.

Exit status as benchmarks/gpu_check.py: 0 after measuring, or with
"skipped: no GPU" where there is none; 2 where a GPU is present but unusable.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHAPES = [
    ([64, 32, 10], 32),
    ([784, 128, 10], 64),
    ([784, 512, 512, 10], 256),
    ([2048, 2048, 2048, 10], 1024),
]
SWEEP = [
    ([64, 32, 10], (32, 128, 512)),
    ([784, 32, 10], (16, 64)),
    ([784, 128, 10], (8, 32)),
    ([256, 256, 10], (16, 64)),
]
LEARNING_RATE = 0.01


def _data(sizes, batch):
    # enough examples for ~200 batches (40 for the largest batches)
    batches = 200 if batch <= 256 else 40
    m = batch * batches
    rng = np.random.default_rng(0)
    X = rng.standard_normal((sizes[0], m)).astype(np.float32)
    y = rng.integers(0, sizes[-1], m)
    return X, y


def _device_network(sizes):
    """A float32 DeviceNetwork with the parameters of the same Network on the
    CPU (He init, seed 0), ReLU hidden layers, softmax + cross-entropy."""
    import fnn_numba as fnn
    from fnn_numba.activations import ACTIVATIONS
    from fnn_numba.costs import COSTS, FUSED_PAIRS
    from fnn_numba.gpu.backend import DeviceNetwork

    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]
    cost = "categorical_cross_entropy"
    net = fnn.Network(sizes, activations=acts, cost=cost, dtype=np.float32, seed=0, init="he")
    dev = DeviceNetwork(
        sizes,
        [ACTIVATIONS[a] for a in acts],
        COSTS[cost],
        (acts[-1], cost) in FUSED_PAIRS,
        np.float32,
    )
    params = net.get_parameters()
    dev.upload_params(params)
    return dev, params.size


def bench_fnn(sizes, batch, X, y, seconds, fused):
    """Samples/s of whole epochs on resident data, fused epoch or per-equation kernels."""
    from numba import cuda

    from fnn_numba.gpu import fused as gf
    from fnn_numba.optimizers import SGD

    gf.FUSED_EPOCH = fused
    try:
        dev, P = _device_network(sizes)
        Y = np.zeros((sizes[-1], X.shape[1]), dtype=np.float32)
        Y[y, np.arange(X.shape[1])] = 1
        zeros = np.zeros(P, dtype=np.float32)
        fit = dev.begin_fit(X, Y, batch, zeros, zeros.copy())
        m = X.shape[1]
        n_batches = m // batch
        fit["order"].copy_to_device(np.random.default_rng(1).permutation(m).astype(np.int64))
        fit["status"].copy_to_device(np.full(1, -1, dtype=np.int64))

        upd = SGD().update_args(zeros, LEARNING_RATE)

        def epoch():
            dev.queue_batches(fit, 0, n_batches, upd, 0, 0.0)

        epoch()  # warm-up: compilation, the fused workspace
        cuda.synchronize()
        done, t0 = 0, time.perf_counter()
        while True:
            epoch()
            cuda.synchronize()
            done += n_batches * batch
            if time.perf_counter() - t0 >= seconds:
                break
        rate = done / (time.perf_counter() - t0)
        if int(fit["status"].copy_to_host()[0]) >= 0:
            raise RuntimeError(f"{sizes} b{batch}: training diverged during the benchmark")
        return rate
    finally:
        gf.FUSED_EPOCH = True


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
            idx = order[b * batch : (b + 1) * batch]
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


def _event_seconds(fn, reps):
    """Seconds per call of fn on the device, by CUDA events around ``reps`` calls."""
    from numba import cuda

    fn()
    cuda.synchronize()
    start, stop = cuda.event(), cuda.event()
    start.record()
    for _ in range(reps):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / 1e3 / reps


def gemm_rows(sizes, batch, have_torch, reps=20):
    """[(layer, kernel, (n, K, m), T, fnn GFLOP/s, cuBLAS GFLOP/s)] for every
    layer of a shape: the three GEMM kernels on float32 device arrays."""
    from numba import cuda

    from fnn_numba.gpu import kernels as gk

    rng = np.random.default_rng(0)
    rows = []
    for l in range(1, len(sizes)):
        n, K, m = sizes[l], sizes[l - 1], batch
        flops = 2.0 * n * K * m
        w = cuda.to_device(rng.standard_normal((n, K)).astype(np.float32))
        b = cuda.to_device(rng.standard_normal(n).astype(np.float32))
        a = cuda.to_device(np.asfortranarray(rng.standard_normal((K, m)).astype(np.float32)))
        z = cuda.device_array((n, m), dtype=np.float32, order="F")
        dz = cuda.to_device(np.asfortranarray(rng.standard_normal((n, m)).astype(np.float32)))
        dw = cuda.device_array((n, K), dtype=np.float32)
        db = cuda.device_array(n, dtype=np.float32)
        da = cuda.device_array((K, m), dtype=np.float32, order="F")
        l2 = np.float32(0)
        ours = {
            "z_forward (P1 (1))": (lambda: gk.launch_z_forward(w, b, a, z), (n, m, True)),
            "dw_db_backward (P1 (13), (14))": (
                lambda: gk.launch_dw_db_backward(dz, a, w, l2, dw, db),
                (K, n, False),
            ),
            "da_prev_backward (P1 (21))": (
                lambda: gk.launch_da_prev_backward(w, dz, da),
                (K, m, True),
            ),
        }
        theirs = {}
        if have_torch:
            import torch

            torch.backends.cuda.matmul.allow_tf32 = False
            tw = torch.randn(n, K, device="cuda")
            ta = torch.randn(K, m, device="cuda")
            tdz = torch.randn(n, m, device="cuda")
            theirs = {
                "z_forward (P1 (1))": lambda: torch.matmul(tw, ta),
                "dw_db_backward (P1 (13), (14))": lambda: torch.matmul(tdz, ta.T),
                "da_prev_backward (P1 (21))": lambda: torch.matmul(tw.T, tdz),
            }
        for name, (fn, dims) in ours.items():
            T = gk.gemm_config(*dims)[1][0]
            mine = flops / _event_seconds(fn, reps) / 1e9
            cublas = None
            if name in theirs:
                t = theirs[name]
                t()
                torch.cuda.synchronize()
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(reps):
                    t()
                stop.record()
                stop.synchronize()
                cublas = flops / (start.elapsed_time(stop) / 1e3 / reps) / 1e9
            rows.append((l, name, (n, K, m), T, mine, cublas))
    return rows


def sweep_rows(seconds):
    """[(network, batch, step flops, fused samples/s, per-equation samples/s)]."""
    rows = []
    for sizes, batches in SWEEP:
        P = sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1))
        for batch in batches:
            X, y = _data(sizes, batch)
            X, y = X[:, : batch * 50], y[: batch * 50]
            fused = bench_fnn(sizes, batch, X, y, seconds, fused=True)
            per_eq = bench_fnn(sizes, batch, X, y, seconds, fused=False)
            rows.append(("-".join(map(str, sizes)), batch, 6.0 * P * batch, fused, per_eq))
    return rows


def _fmt(x):
    if x is None:
        return "-"
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, nargs="*", default=list(range(len(SHAPES))))
    parser.add_argument("--seconds", type=float, default=2.0, help="measurement time per row")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-gemm", action="store_true", help="skip the GEMM kernel table")
    parser.add_argument("--no-sweep", action="store_true", help="skip the FUSED_MAX_FLOPS sweep")
    args = parser.parse_args(argv)

    from gpu_check import unusable_gpu_status

    status = unusable_gpu_status("bench_gpu.py")
    if status is not None:
        return status
    from fnn_numba.gpu import fused as gf

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
        X, y = _data(sizes, batch)
        label = f"{'-'.join(map(str, sizes))} b{batch}"
        per_eq = bench_fnn(sizes, batch, X, y, args.seconds, fused=False)
        fused = (
            bench_fnn(sizes, batch, X, y, args.seconds, fused=True)
            if gf.fused_epoch_fits(sizes, batch)
            else None
        )
        eager = bench_torch(sizes, batch, X, y, args.seconds, graph=False) if have_torch else None
        graph = bench_torch(sizes, batch, X, y, args.seconds, graph=True) if have_torch else None
        rows.append((label, per_eq, fused, eager, graph))
        print(f"measured {label}", file=sys.stderr, flush=True)

    print(
        "| network, batch | fnn_numba per-equation kernels | fnn_numba fused epoch "
        "| PyTorch eager | PyTorch CUDA graph | fnn_numba best / eager | fnn_numba best / graph |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, per_eq, fused, eager, graph in rows:
        best = max(per_eq, fused or 0.0)
        r_eager = f"{best / eager:.2f}" if eager else "-"
        r_graph = f"{best / graph:.2f}" if graph else "-"
        print(
            f"| {label} | {_fmt(per_eq)} | {_fmt(fused)} | {_fmt(eager)} | {_fmt(graph)} | "
            f"{r_eager} | {r_graph} |"
        )

    if not args.no_gemm:
        print(
            "\n| network, batch | layer | kernel | (n, K, m) | block side T | fnn_numba GFLOP/s "
            "| cuBLAS GFLOP/s | ratio |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for s in args.shapes:
            sizes, batch = SHAPES[s]
            for l, name, dims, T, mine, cublas in gemm_rows(sizes, batch, have_torch):
                ratio = f"{mine / cublas:.2f}" if cublas else "-"
                theirs = f"{cublas:.0f}" if cublas else "-"
                print(
                    f"| {'-'.join(map(str, sizes))} b{batch} | {l} | {name} | {dims} | {T} | "
                    f"{mine:.0f} | {theirs} | {ratio} |"
                )
            print(f"gemm table: {sizes} done", file=sys.stderr, flush=True)

    if not args.no_sweep:
        print(
            "\n| network | batch | flops of a step | fused epoch | per-equation | fused / "
            "per-equation |"
        )
        print("|---|---|---|---|---|---|")
        crossing = []
        for net, batch, flops, fused, per_eq in sweep_rows(min(args.seconds, 0.5)):
            print(
                f"| {net} | {batch} | {flops:.2e} | {_fmt(fused)} | {_fmt(per_eq)} | "
                f"{fused / per_eq:.2f} |"
            )
            if fused > per_eq:
                crossing.append(flops)
        print(
            f"\nLargest step (flops) where the fused epoch won: "
            f"{max(crossing) if crossing else 'none'}; FUSED_MAX_FLOPS is {gf.FUSED_MAX_FLOPS:g}."
        )

    import numba
    import numba_cuda
    from numba import cuda

    dev = cuda.get_current_device()
    name = getattr(dev, "name", "the CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else name
    versions = (
        f"numba {numba.__version__}, numba-cuda {numba_cuda.__version__}, numpy {np.__version__}"
    )
    if have_torch:
        import torch

        versions += f", torch {torch.__version__} (CUDA {torch.version.cuda})"
    print(
        f"\nTraining samples/s, float32, softmax + categorical cross-entropy, plain SGD "
        f"(lr {LEARNING_RATE}), TF32 off, whole epochs on device-resident data, warm-up "
        f"excluded. Device: {name}; {versions}; python {platform.python_version()}. "
        f"Command: `python benchmarks/bench_gpu.py --seconds {args.seconds:g}`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
