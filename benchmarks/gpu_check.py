"""Real-GPU correctness checks of fnn_numba's CUDA path, in one command:

    python benchmarks/gpu_check.py            # prints a report; exit 1 on any failure

1. every CUDA kernel against its CPU twin and the index-level reference,
   float64, rtol 1e-10: with the small launch settings of the simulator tests
   (tiny inputs span several blocks) and with the default settings on larger
   shapes (full 64 x 64 tiles, several K_TILE slices);
2. ``Network(device="cuda")`` against ``device="cpu"``: forward, cost,
   gradients with dJ/dX, fit with every optimizer on the per-equation and the
   fused path, divergence, save/load, ``to`` (float64, rtol 1e-10);
3. digits (scikit-learn's, shipped offline): 64-32-10, float32, 20 epochs of
   batch 32 at learning rate 0.1 on GPU and CPU: test accuracy of each (the
   CPU's test asks >= 0.95) and their difference; then float64 for 3 epochs,
   parameters to rtol 1e-10;
4. the first-call (compile) time of the CUDA path, cold and warm cache.

The checks of 1 and 2 are the functions of tests/test_cuda_sim.py, run here
on the real device instead of the simulator. It needs no pytest.
"""
import importlib.util
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _load_sim_checks():
    spec = importlib.util.spec_from_file_location("cuda_checks", ROOT / "tests" / "test_cuda_sim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _section(title):
    print(f"\n## {title}\n", flush=True)


def _digits(dtype, epochs, device):
    import fnn_numba as fnn
    from fnn_numba import datasets

    Xtr, ytr, Xte, yte, k = datasets.load("digits", seed=0, dtype=dtype)
    net = fnn.Network([64, 32, k], ["relu", "softmax"], "cce", init="he", dtype=dtype, seed=0,
                      device=device)
    t = time.perf_counter()
    history = net.fit(Xtr, ytr, epochs=epochs, batch_size=32, learning_rate=0.1)
    seconds = time.perf_counter() - t
    return net, float(np.mean(net.predict(Xte) == yte)), history, seconds


def main():
    from fnn_numba import gpu_engine

    reason = gpu_engine.unavailable_reason()
    if reason is not None:
        print(f"skipped: no GPU ({reason})")
        return 0
    from numba import cuda
    import numba
    import numba_cuda

    dev = cuda.get_current_device()
    print("# fnn_numba GPU check\n")
    print(f"- device: {dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, "
          f"compute capability {dev.compute_capability}")
    print(f"- numba {numba.__version__}, numba-cuda {numba_cuda.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}")
    failures = []

    from fnn_numba import gpu_kernels as gk

    settings = ("THREADS_PER_BLOCK", "GEMM_THREADS", "FUSED_THREADS", "REDUCE_BLOCKS")
    defaults = {name: getattr(gk, name) for name in settings}

    def restore():
        for name, value in defaults.items():
            setattr(gk, name, value)

    checks = _load_sim_checks()
    _section("1. kernels vs CPU twins and the reference (float64, rtol 1e-10)")
    for label, small, shapes in (("small launch settings", True, ()),
                                 ("default launch settings", False,
                                  [(64, 64, 64), (70, 90, 65), (130, 33, 129)])):
        t = time.perf_counter()
        r = checks._kernel_checks(small=small, shapes=shapes)
        missing = sorted(set(r["all_kernels"]) - set(r["checked"]))
        print(f"- {label}: {r['checks']} comparisons, {len(r['failures'])} failures, "
              f"kernels not covered: {missing or 'none'} ({time.perf_counter() - t:.1f} s)")
        for f in r["failures"]:
            print(f"  - FAIL {f}")
        failures += r["failures"] + missing
        restore()

    _section("2. Network(device='cuda') vs device='cpu' (float64, rtol 1e-10)")
    for label, small in (("small launch settings", True), ("default launch settings", False)):
        t = time.perf_counter()
        r = checks._network_checks(small=small)
        print(f"- {label}: {r['checks']} comparisons, {len(r['failures'])} failures "
              f"({time.perf_counter() - t:.1f} s)")
        for f in r["failures"]:
            print(f"  - FAIL {f}")
        failures += r["failures"]
        restore()

    _section("3. digits: GPU vs CPU")
    print("| dtype | epochs | device | path | test accuracy | first epoch cost | last epoch cost | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    nets = {}
    for dtype, epochs in ((np.float32, 20), (np.float64, 3)):
        for device, fused in (("cpu", None), ("cuda", True), ("cuda", False)):
            gk.FUSED_EPOCH = bool(fused)
            net, acc, h, sec = _digits(dtype, epochs, device)
            path = "-" if fused is None else ("fused epoch" if fused else "per-equation kernels")
            nets[(dtype, device, fused)] = (net, acc)
            print(f"| {np.dtype(dtype).name} | {epochs} | {device} | {path} | {acc:.4f} | "
                  f"{h.cost[0]:.6f} | {h.cost[-1]:.6f} | {sec:.2f} |")
    gk.FUSED_EPOCH = True
    for fused in (True, False):
        acc_cpu = nets[(np.float32, "cpu", None)][1]
        acc_gpu = nets[(np.float32, "cuda", fused)][1]
        if acc_gpu < 0.95:
            failures.append(f"digits float32 GPU (fused={fused}) accuracy {acc_gpu} < 0.95")
        print(f"\n- float32, fused={fused}: accuracy GPU {acc_gpu:.4f} vs CPU {acc_cpu:.4f} "
              f"(difference {acc_gpu - acc_cpu:+.4f})")
        p_cpu = nets[(np.float64, "cpu", None)][0].get_parameters()
        p_gpu = nets[(np.float64, "cuda", fused)][0].get_parameters()
        rel = float(np.max(np.abs(p_gpu - p_cpu)) / np.max(np.abs(p_cpu)))
        print(f"- float64, fused={fused}, 3 epochs: max |params GPU - CPU| / max |params| = {rel:.2e}")
        if not np.allclose(p_gpu, p_cpu, rtol=1e-10, atol=1e-12):
            failures.append(f"digits float64 fused={fused}: GPU and CPU parameters differ ({rel:.2e})")

    _section("4. first-call time of the CUDA path (a fresh process each)")
    code = ("import time, numpy as np; t=time.perf_counter(); import fnn_numba as f; "
            "n=f.Network([64,32,10], dtype=np.float32, seed=0, device='cuda'); "
            "X=np.random.default_rng(0).standard_normal((64,256)).astype(np.float32); "
            "n.fit(X, np.arange(256)%10, epochs=1, batch_size=32); "
            "print(f'{time.perf_counter()-t:.2f}')")
    for label in ("first run (cache as found)", "second run (warm cache)"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
        last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-500:]
        print(f"- {label}: import + build + 1 epoch: {last} s")

    _section("result")
    if failures:
        print(f"FAILED: {len(failures)} problems")
        return 1
    print("all GPU checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
