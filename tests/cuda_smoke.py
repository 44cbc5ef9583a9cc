"""Short runs of the CUDA path on a device, for benchmarks/gpu_run.sh:

    python tests/cuda_smoke.py versions  # Python, NumPy, Numba, numba-cuda, PyTorch, the device
    python tests/cuda_smoke.py kernels   # every kernel once against its CPU twin; exit 1 on a failure
    python tests/cuda_smoke.py tiny      # a tiny network through every path (for compute-sanitizer)

``kernels`` is the simulator tests' kernel check (tests/test_cuda_sim.py)
with their small launch settings, on the real device, with the time each
step took (the first launch of each kernel compiles it). ``tiny`` runs, in
float32, a [5, 7, 3] network's forward pass, cost, gradients and one epoch
of fit on the per-equation path and on the fused path (with Adam, L2 and
clipping on the former), small enough for compute-sanitizer's racecheck
and synccheck to finish in seconds; it prints the costs and exits 0 unless
an exception escapes (the sanitizer's own exit status reports its findings).
"""

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _sim_checks():
    spec = importlib.util.spec_from_file_location("cuda_checks", HERE / "test_cuda_sim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def versions():
    import platform

    print("python", platform.python_version(), sys.executable)
    for name in ("numpy", "numba", "numba_cuda", "torch"):
        try:
            mod = __import__(name)
            print(name, mod.__version__, getattr(mod, "__file__", ""))
        except Exception as exc:
            print(name, "unavailable:", repr(exc))
    try:
        import torch

        print("torch CUDA", torch.version.cuda, "available", torch.cuda.is_available())
    except Exception:
        pass
    from numba import cuda

    return 0 if cuda.detect() else 1


def kernels():
    t = time.perf_counter()
    report = _sim_checks()._kernel_checks(small=True)
    missing = sorted(set(report["all_kernels"]) - set(report["checked"]))
    print(
        json.dumps(
            dict(
                seconds=round(time.perf_counter() - t, 1),
                checks=report["checks"],
                failures=report["failures"],
                not_covered=missing,
            )
        )
    )
    return 1 if report["failures"] or missing else 0


def tiny():
    import fnn_numba as fnn
    from fnn_numba.gpu import fused as gf

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 23)).astype(np.float32)
    y = rng.integers(0, 3, 23)
    out = {}
    for fused_epoch in (False, True):
        gf.FUSED_EPOCH = fused_epoch
        net = fnn.Network(
            [5, 7, 3], ["tanh", "softmax"], dtype=np.float32, seed=0, l2=0.01, device="cuda"
        )
        out[f"fused={fused_epoch} forward"] = float(net.forward(X).sum())
        out[f"fused={fused_epoch} gradients J"] = float(net.gradients(X, np.eye(3)[:, y]).cost)
        h = net.fit(
            X,
            y,
            epochs=1,
            batch_size=8,
            learning_rate=0.1,
            optimizer="adam",
            clip_norm=None if fused_epoch else 1.0,
        )
        out[f"fused={fused_epoch} fit cost"] = h.cost[-1]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit({"versions": versions, "kernels": kernels, "tiny": tiny}[sys.argv[1]]())
