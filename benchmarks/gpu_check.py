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
4. the first-call (compile) time of the CUDA path in a fresh process with
   its own empty ``NUMBA_CACHE_DIR`` (really cold), then again on the cache
   that run filled (warm), on both paths; the trained parameters of the two
   runs must be identical (a wrong kernel loaded from the cache differs).

The checks of 1 and 2 are the functions of tests/test_cuda_sim.py, run here
on the real device instead of the simulator. It needs no pytest.

Exit status: 0 when every check passed, or when there is no GPU at all
("skipped: no GPU"); 1 when a check failed; 2 when a GPU is present (the
driver's device node exists or ``nvidia-smi`` lists one) but cannot be used
(numba-cuda missing or refused, NumPy too new, the driver failing), with the
reason.
"""

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _load_sim_checks():
    spec = importlib.util.spec_from_file_location(
        "cuda_checks", ROOT / "tests" / "test_cuda_sim.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def gpu_present():
    """Whether this machine has an NVIDIA GPU, whatever Python can do with it:
    the driver's device node, or a GPU listed by ``nvidia-smi``."""
    if os.path.exists("/dev/nvidia0"):
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def unusable_gpu_status(script):
    """None when the CUDA path can run here; else print why and return the
    exit status: 0 ("skipped: no GPU") only where there is no GPU at all, 2
    where a GPU is present but unusable."""
    from fnn_numba.gpu.backend import unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        return None
    if gpu_present():
        print(f"FAILED: {script}: a GPU is present but cannot be used: {reason}")
        return 2
    print(f"skipped: no GPU ({reason})")
    return 0


_COLD_WARM = r"""
import hashlib, json, sys, time, numpy as np
t = time.perf_counter()
import fnn_numba as f
from fnn_numba.gpu import fused
X = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
out = {}
for fused_epoch in (True, False):
    fused.FUSED_EPOCH = fused_epoch
    n = f.Network([64, 32, 10], dtype=np.float32, seed=0, device="cuda")
    h = n.fit(X, np.arange(256) % 10, epochs=1, batch_size=32, optimizer="adam")
    out[f"fused={fused_epoch}"] = hashlib.sha256(n.get_parameters().tobytes()).hexdigest()[:16]
out["seconds"] = round(time.perf_counter() - t, 2)
print(json.dumps(out))
"""


def cold_and_warm():
    """(report lines, failures) of two fresh processes on one new
    NUMBA_CACHE_DIR without any CUDA kernel: the first compiles every kernel
    it runs (cold), the second loads them from the cache the first wrote
    (warm). The CPU kernels' entries of the current NUMBA_CACHE_DIR, if one
    is set, are copied in (numba keeps one subdirectory per source
    directory, fnn_numba/gpu's named gpu_<hash>), so that the cold run times
    the CUDA compilation, not the CPU one."""
    lines, failures, runs = [], [], []
    with tempfile.TemporaryDirectory(prefix="fnn-cuda-cache-") as cache_dir:
        current = os.environ.get("NUMBA_CACHE_DIR")
        if current and os.path.isdir(current):
            for sub in Path(current).iterdir():
                if sub.is_dir() and not sub.name.startswith("gpu_"):
                    shutil.copytree(sub, Path(cache_dir) / sub.name)
        cuda_entries = sum(1 for p in Path(cache_dir).rglob("*.nbi") if "gpu_" in str(p))
        if cuda_entries:
            failures.append(f"the cold cache holds {cuda_entries} CUDA entries")
        env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=cache_dir)
        for label in ("cold (empty NUMBA_CACHE_DIR)", "warm (the cache the cold run wrote)"):
            out = subprocess.run(
                [sys.executable, "-c", _COLD_WARM],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
            )
            try:
                run = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                failures.append(f"{label}: the run failed: {out.stderr[-1500:]}")
                continue
            runs.append(run)
            lines.append(
                f"- {label}: import + build + 1 epoch on each path: {run['seconds']} s; "
                f"parameters {run['fused=True']} (fused), {run['fused=False']} "
                f"(per-equation)"
            )
        entries = sum(1 for p in Path(cache_dir).rglob("*.nbi") if p.parent.name.startswith("gpu_"))
        lines.append(f"- CUDA cache index files written by the cold run: {entries}")
        if entries == 0:
            failures.append("the cold run wrote no CUDA cache entry: the warm run was cold too")
    if len(runs) == 2:
        same = all(runs[0][k] == runs[1][k] for k in ("fused=True", "fused=False"))
        lines.append(f"- cold and warm results identical: {same}")
        if not same:
            failures.append("cold and warm cache runs trained different parameters")
    return lines, failures


LARGE_GEMM_SHAPES = ((1100, 70, 1000), (1100, 1100, 70), (70, 1100, 1000))


def large_gemm_checks(shapes=LARGE_GEMM_SHAPES):
    """The GEMM kernels at the default settings on shapes whose grids reach
    2 x the multiprocessor count, so that the 64 x 64 tiles (T = 16) run,
    against the CPU kernels (the index-level reference is too slow here):
    float64 to rtol 1e-10, float32 to rtol 1e-4. Returns (lines, failures)."""
    from numba import cuda

    from fnn_numba import kernels as K
    from fnn_numba.gpu import kernels as gk

    rng = np.random.default_rng(11)
    lines, failures = [], []
    for dtype, rtol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        for n, Kd, m in shapes:
            w = rng.standard_normal((n, Kd)).astype(dtype)
            b = rng.standard_normal(n).astype(dtype)
            a = np.asfortranarray(rng.standard_normal((Kd, m)).astype(dtype))
            dz = np.asfortranarray(rng.standard_normal((n, m)).astype(dtype))
            z, dw, db = (
                np.zeros((n, m), dtype, order="F"),
                np.zeros((n, Kd), dtype),
                np.zeros(n, dtype),
            )
            da = np.zeros((Kd, m), dtype, order="F")
            K.z_forward(w, b, a, z)
            K.dw_db_backward(
                dz, a, w, dtype(0.5), dw, db, np.zeros((n, m), dtype), np.zeros((Kd, m), dtype)
            )
            K.da_prev_backward(w, dz, da)
            gz, gdw, gdb, gda = (cuda.to_device(np.zeros_like(x)) for x in (z, dw, db, da))
            gk.launch_z_forward(cuda.to_device(w), cuda.to_device(b), cuda.to_device(a), gz)
            gk.launch_dw_db_backward(
                cuda.to_device(dz), cuda.to_device(a), cuda.to_device(w), dtype(0.5), gdw, gdb
            )
            gk.launch_da_prev_backward(cuda.to_device(w), cuda.to_device(dz), gda)
            sides = (
                gk.gemm_config(n, m, True)[1][0],
                gk.gemm_config(Kd, n, False)[1][0],
                gk.gemm_config(Kd, m, True)[1][0],
            )
            errs = []
            for name, got, want in (
                ("z", gz, z),
                ("dw", gdw, dw),
                ("db", gdb, db),
                ("da", gda, da),
            ):
                got = got.copy_to_host()
                err = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300))
                errs.append(f"{name} {err:.1e}")
                if not np.allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want))):
                    failures.append(
                        f"{np.dtype(dtype).name} {(n, Kd, m)} {name}: max rel error {err:.2e}"
                    )
            lines.append(
                f"- {np.dtype(dtype).name} (n, K, m) = {(n, Kd, m)}: block sides T "
                f"(z, dw, da) = {sides}; max error / max |value|: {', '.join(errs)}"
            )
    return lines, failures


def _section(title):
    print(f"\n## {title}\n", flush=True)


def _digits(dtype, epochs, device):
    import fnn_numba as fnn
    from fnn_numba import datasets

    Xtr, ytr, Xte, yte, k = datasets.load("digits", seed=0, dtype=dtype)
    net = fnn.Network(
        [64, 32, k], ["relu", "softmax"], "cce", init="he", dtype=dtype, seed=0, device=device
    )
    t = time.perf_counter()
    history = net.fit(Xtr, ytr, epochs=epochs, batch_size=32, learning_rate=0.1)
    seconds = time.perf_counter() - t
    return net, float(np.mean(net.predict(Xte) == yte)), history, seconds


def main():
    status = unusable_gpu_status("gpu_check.py")
    if status is not None:
        return status
    import numba
    import numba_cuda
    from numba import cuda

    dev = cuda.get_current_device()
    print("# fnn_numba GPU check\n")
    print(
        f"- device: {dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, "
        f"compute capability {dev.compute_capability}"
    )
    print(
        f"- numba {numba.__version__}, numba-cuda {numba_cuda.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}"
    )
    failures = []

    from fnn_numba.gpu import fused as gf
    from fnn_numba.gpu import kernels as gk

    checks = _load_sim_checks()
    modules = {"kernels": gk, "fused": gf}
    defaults = {
        (mod, name): getattr(modules[mod], name)
        for mod, settings in checks.SMALL_SETTINGS.items()
        for name in settings
    }

    def restore():
        for (mod, name), value in defaults.items():
            setattr(modules[mod], name, value)

    _section("1. kernels vs CPU twins and the reference (float64, rtol 1e-10)")
    for label, small, shapes in (
        ("small launch settings", True, ()),
        ("default launch settings", False, [(64, 64, 64), (70, 90, 65), (130, 33, 129)]),
    ):
        t = time.perf_counter()
        r = checks._kernel_checks(small=small, shapes=shapes)
        missing = sorted(set(r["all_kernels"]) - set(r["checked"]))
        print(
            f"- {label}: {r['checks']} comparisons, {len(r['failures'])} failures, "
            f"kernels not covered: {missing or 'none'} ({time.perf_counter() - t:.1f} s)"
        )
        for f in r["failures"]:
            print(f"  - FAIL {f}")
        failures += r["failures"] + missing
        restore()

    lines, gemm_failures = large_gemm_checks()
    print("- default settings, grids of 2 x SMs and more (64 x 64 tiles), against the CPU kernels:")
    print("\n".join("  " + line for line in lines))
    failures += gemm_failures

    _section("2. Network(device='cuda') vs device='cpu' (float64, rtol 1e-10)")
    for label, small in (("small launch settings", True), ("default launch settings", False)):
        t = time.perf_counter()
        r = checks._network_checks(small=small)
        print(
            f"- {label}: {r['checks']} comparisons, {len(r['failures'])} failures "
            f"({time.perf_counter() - t:.1f} s)"
        )
        for f in r["failures"]:
            print(f"  - FAIL {f}")
        failures += r["failures"]
        restore()

    _section("3. digits: GPU vs CPU")
    print(
        "| dtype | epochs | device | path | test accuracy | first epoch cost | last epoch cost | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|")
    nets = {}
    for dtype, epochs in ((np.float32, 20), (np.float64, 3)):
        for device, fused in (("cpu", None), ("cuda", True), ("cuda", False)):
            gf.FUSED_EPOCH = bool(fused)
            net, acc, h, sec = _digits(dtype, epochs, device)
            path = "-" if fused is None else ("fused epoch" if fused else "per-equation kernels")
            nets[(dtype, device, fused)] = (net, acc)
            print(
                f"| {np.dtype(dtype).name} | {epochs} | {device} | {path} | {acc:.4f} | "
                f"{h.cost[0]:.6f} | {h.cost[-1]:.6f} | {sec:.2f} |"
            )
    gf.FUSED_EPOCH = True
    for fused in (True, False):
        acc_cpu = nets[(np.float32, "cpu", None)][1]
        acc_gpu = nets[(np.float32, "cuda", fused)][1]
        if acc_gpu < 0.95:
            failures.append(f"digits float32 GPU (fused={fused}) accuracy {acc_gpu} < 0.95")
        print(
            f"\n- float32, fused={fused}: accuracy GPU {acc_gpu:.4f} vs CPU {acc_cpu:.4f} "
            f"(difference {acc_gpu - acc_cpu:+.4f})"
        )
        p_cpu = nets[(np.float64, "cpu", None)][0].get_parameters()
        p_gpu = nets[(np.float64, "cuda", fused)][0].get_parameters()
        rel = float(np.max(np.abs(p_gpu - p_cpu)) / np.max(np.abs(p_cpu)))
        print(
            f"- float64, fused={fused}, 3 epochs: max |params GPU - CPU| / max |params| = {rel:.2e}"
        )
        if not np.allclose(p_gpu, p_cpu, rtol=1e-10, atol=1e-12):
            failures.append(
                f"digits float64 fused={fused}: GPU and CPU parameters differ ({rel:.2e})"
            )

    _section("4. first-call time of the CUDA path, cold and warm on-disk cache")
    lines, cache_failures = cold_and_warm()
    print("\n".join(lines))
    failures += cache_failures

    _section("result")
    if failures:
        print(f"FAILED: {len(failures)} problems")
        return 1
    print("all GPU checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
