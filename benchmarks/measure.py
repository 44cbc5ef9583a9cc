"""How the comparison measures: samples/s side by side, the peak memory of
``fit``, the JIT's cold and warm start, and the per-kernel profile.

Samples/s: each library is first warmed up (one untimed epoch and one
untimed forward pass: compilation, allocation, caches), then the libraries
are timed in turn, round after round (the order rotates each round), so that
a burst of noise on a shared machine hits all of them alike. One timed
sample runs whole epochs (or forward passes) for at least ``seconds``. A
pause of :data:`SETTLE_SECONDS` before each sample lets the previous
library's spinning worker threads (OpenMP, OpenBLAS) go idle.

The memory and JIT-start figures come from fresh processes
(:func:`fit_peak_memory`, :func:`jit_start_times`), which import this
module and ``fnn_numba`` from :data:`ROOT` when they are not installed.
"""

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from .peers import PEER_FACTORIES, PeerUnavailable, cpu_count, log
from .workloads import (
    DTYPES,
    LEARNING_RATE,
    KernelWorkload,
    NetworkWorkload,
    default_examples,
    synthetic_data,
)

#: the repository root: the parent of ``benchmarks/`` and of ``fnn_numba/``
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTLE_SECONDS = 0.2
#: the network of the JIT start measurement (compile time does not depend on the sizes)
STARTUP_SIZES = (64, 32, 10)


def _time_once(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def compare_shape(sizes, batch, dtype, peers, repeats, seconds, examples=None, log=log):
    """Training and inference samples/s of every available peer on one shape.

    Returns {peer: {"train": [samples/s per round], "infer": [...],
    "epochs_per_sample": E, "calls_per_sample": C}} and {peer: reason} for the
    peers that could not run.
    """
    m = examples or default_examples(batch)
    X_samples, labels = synthetic_data(sizes, m, dtype)
    runners, skipped = {}, {}
    for name in peers:
        try:
            train, infer = PEER_FACTORIES[name](
                list(sizes), batch, dtype, X_samples, labels, LEARNING_RATE
            )
            train(1)  # warm-up: JIT, allocation, caches
            infer()
            t_epoch = _time_once(train, 1)
            t_infer = _time_once(infer)
        except PeerUnavailable as exc:
            skipped[name] = str(exc)
            log(f"  {name}: skipped: {exc}")
            continue
        runners[name] = dict(
            train_fn=train,
            infer_fn=infer,
            epochs=max(1, int(round(seconds / max(t_epoch, 1e-9)))),
            calls=max(1, int(round(seconds / max(t_infer, 1e-9)))),
            train=[],
            infer=[],
        )
    names = list(runners)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)] if names else []
        for name in order:
            run = runners[name]
            time.sleep(SETTLE_SECONDS)
            t = _time_once(run["train_fn"], run["epochs"])
            run["train"].append(m * run["epochs"] / t)
            time.sleep(SETTLE_SECONDS)
            t0 = time.perf_counter()
            for _ in range(run["calls"]):
                run["infer_fn"]()
            run["infer"].append(m * run["calls"] / (time.perf_counter() - t0))
        log(
            f"  round {r + 1}/{repeats}: "
            + ", ".join(f"{n} {runners[n]['train'][-1]:,.0f}/s" for n in names)
        )
    results = {
        n: dict(
            train=runners[n]["train"],
            infer=runners[n]["infer"],
            epochs_per_sample=runners[n]["epochs"],
            calls_per_sample=runners[n]["calls"],
            examples=m,
        )
        for n in names
    }
    return results, skipped


def _child_env(extra=None):
    """The environment of a measurement subprocess: this one, with this
    package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if extra:
        env.update(extra)
    return env


def _run_child(code, env, timeout=1800, cwd=None):
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"measurement subprocess failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


_STARTUP_CHILD = """
import time
t0 = time.perf_counter()
import numpy as np
import fnn_numba as fnn
t1 = time.perf_counter()
sizes, dtype = {sizes!r}, np.{dtype}
rng = np.random.default_rng(0)
X = rng.standard_normal((sizes[0], 256)).astype(dtype)
y = rng.integers(0, sizes[-1], 256)
net = fnn.Network(list(sizes), dtype=dtype, seed=0)
net.fit(X, y, epochs=1, batch_size=32, learning_rate=0.01)
net.forward(X)
t2 = time.perf_counter()
import json
print(json.dumps({{"import_seconds": t1 - t0, "first_fit_seconds": t2 - t1}}))
"""


def snapshot_package(dest):
    """Copy this package's sources to ``dest``/fnn_numba and return ``dest``.

    The JIT start is measured on such a snapshot: the package clears its
    compiled-kernel cache whenever a jitted module's source changes
    (:mod:`fnn_numba._cache`), so an edit of the working tree between the
    cold and the warm run would otherwise turn the warm run into a cold one.
    """
    import shutil

    import fnn_numba

    src = os.path.dirname(os.path.abspath(fnn_numba.__file__))
    shutil.copytree(
        src,
        os.path.join(dest, "fnn_numba"),
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"),
    )
    return dest


def startup_code(dtype_name, sizes=STARTUP_SIZES):
    """The program whose first ``fit`` the JIT start measures; prints JSON."""
    return _STARTUP_CHILD.format(sizes=tuple(sizes), dtype=dtype_name)


def jit_start_times(dtype_name, runs=3, log=log):
    """Cold and warm start of a fresh process: ``import fnn_numba``, then a
    first ``fit`` (one epoch, 256 examples of a 64-32-10 network) and
    ``forward``. Cold: an empty ``NUMBA_CACHE_DIR``, so every kernel is
    compiled; warm: the same directory again, so every kernel is loaded from
    the cache. ``runs`` fresh directories, each timed cold then warm, on a
    snapshot of the package (:func:`snapshot_package`).
    Returns {"cold": [results], "warm": [results]}."""
    code = startup_code(dtype_name)
    out = {"cold": [], "warm": []}
    for r in range(runs):
        with tempfile.TemporaryDirectory(prefix="fnn-numba-bench-") as tmp:
            cache = os.path.join(tmp, "numba_cache")
            src = snapshot_package(os.path.join(tmp, "src"))
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            env["PYTHONPATH"] = src + (
                os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
            )
            for kind in ("cold", "warm"):
                # cwd: ``python -c`` puts the current directory first on sys.path
                res = _run_child(code, env, cwd=tmp)
                out[kind].append(res)
                log(
                    f"  JIT start {dtype_name} run {r + 1}/{runs} {kind}: import "
                    f"{res['import_seconds']:.2f} s, first fit {res['first_fit_seconds']:.2f} s, "
                    f"process {res['process_seconds']:.2f} s"
                )
    return out


def _read_status_kib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss():
    """Reset the kernel's high-water mark VmHWM to the current RSS (Linux)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def memory_child(spec):
    """Run in a fresh process: peak memory of ``Network.fit``. Prints JSON.

    The JIT is warmed first on a tiny network of the same dtype (compiled code
    is not counted). Then, from a baseline: make the data, the network, and fit
    for ``epochs`` epochs. Two measures: the RSS high-water mark (VmHWM, reset
    at the baseline and again just before fit) and tracemalloc's peak (Python
    and NumPy allocations only; Numba's own allocations inside jitted code are
    not traced).
    """
    import tracemalloc

    from fnn_numba.network import Network

    sizes, batch, dtype, m, epochs = (
        spec["sizes"],
        spec["batch"],
        DTYPES[spec["dtype"]],
        spec["examples"],
        spec["epochs"],
    )
    L = len(sizes) - 1
    acts = ["relu"] * (L - 1) + ["softmax"]
    tiny = [sizes[0] if sizes[0] <= 8 else 8] + [4] * (L - 1) + [3]
    Network(tiny, activations=acts, dtype=dtype, seed=0).fit(
        np.zeros((tiny[0], 8), dtype=dtype),
        np.zeros(8, dtype=np.int64),
        epochs=1,
        batch_size=4,
        progress=False,
    )
    gc.collect()
    result = {}
    try:
        _reset_peak_rss()
        can_reset = True
    except OSError:
        can_reset = False
    base_rss = _read_status_kib("VmRSS") * 1024
    tracemalloc.start()
    X_samples, labels = synthetic_data(sizes, m, dtype)
    net = Network(
        sizes, activations=acts, cost="categorical_cross_entropy", init="he", dtype=dtype, seed=0
    )
    gc.collect()
    before_fit_rss = _read_status_kib("VmRSS") * 1024
    before_fit_traced = tracemalloc.get_traced_memory()[0]
    if can_reset:
        _reset_peak_rss()
    tracemalloc.reset_peak()
    net.fit(X_samples.T, labels, epochs=epochs, batch_size=batch, learning_rate=LEARNING_RATE)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _read_status_kib("VmHWM") * 1024
    s = np.dtype(dtype).itemsize
    n_params = net.n_parameters
    result.update(
        can_reset_hwm=can_reset,
        rss_peak_minus_baseline=(hwm - base_rss) if can_reset else None,
        rss_fit_peak_minus_before_fit=(hwm - before_fit_rss) if can_reset else None,
        traced_before_fit=before_fit_traced,
        traced_fit_peak=traced_peak,
        params_bytes=n_params * s,
        grads_bytes=n_params * s,
        activations_bytes=sum(sizes) * batch * s,
        data_bytes=X_samples.nbytes + labels.nbytes,
        workspace_bytes=fit_workspace_bytes(net),
    )
    print(json.dumps(result))


def fit_workspace_bytes(net):
    """Bytes of the arrays that ``fit`` allocates once and keeps on the
    network for the next call (its workspace), or None when there are none.

    The workspace is private to the network, and where it lives depends on
    the version measured: a dict of arrays per purpose on the network
    (``_workspaces``), or one set of buffers per purpose on its CPU backend
    (``_backend._buffers``, a tuple of arrays)."""
    kept = getattr(net, "_workspaces", None)
    if kept is None:
        kept = getattr(getattr(net, "_backend", None), "_buffers", None)
    ws = (kept or {}).get("fit")
    if ws is None:
        return None
    arrays = ws.values() if isinstance(ws, dict) else ws
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def fit_peak_memory(sizes, batch, dtype_name, examples, epochs=2):
    spec = dict(sizes=list(sizes), batch=batch, dtype=dtype_name, examples=examples, epochs=epochs)
    code = (
        "import json; from benchmarks.measure import memory_child; "
        f"memory_child(json.loads({json.dumps(spec)!r}))"
    )
    return _run_child(code, _child_env())


def _median_per_call(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def kernel_profile(sizes, batch, dtype, repeats, sample_seconds=0.05, log=log):
    """Where a training step's time goes: each kernel call of one step timed
    on its own at the step's sizes (median over ``repeats`` rounds, each
    round running every call for ~``sample_seconds``, calls and BLAS
    references interleaved), each GEMM-shaped call beside a NumPy ``matmul``
    (BLAS) of the same (n, K, m), and the whole step as ``fit`` runs it (one
    call of the jitted driver). Per-kernel times are calls from Python, so they
    include Numba's dispatch overhead (measured as ``dispatch_seconds``: a call
    of a kernel-free jitted function with four array arguments)."""
    import numba

    wl = KernelWorkload(sizes, batch, dtype)
    refs = wl.gemm_references()
    step = NetworkWorkload(sizes, batch, dtype, n_batches=1)
    noop = numba.njit(lambda a, b, c, d: None)
    noop(wl.a[0], wl.a[0], wl.a[0], wl.a[0])
    # BLAS first, the whole step last: OpenBLAS's threads spin for a while
    # after a call and slow down whatever runs next on the two cores
    items = (
        [("blas", i, fn) for i, fn in refs.items()]
        + [("dispatch", 0, lambda: noop(wl.a[0], wl.a[0], wl.a[0], wl.a[0]))]
        + [("call", i, c[2]) for i, c in enumerate(wl.calls)]
        + [("step", 0, step.train_step)]
    )
    counts = []
    for _, _, fn in items:
        t = _time_once(fn)
        counts.append(max(1, int(sample_seconds / max(t, 1e-7))))
    samples = [[] for _ in items]
    for _ in range(repeats):
        for q, (_, _, fn) in enumerate(items):
            samples[q].append(_median_per_call(fn, counts[q]))
    med = [statistics.median(s) for s in samples]
    rows = []
    blas_time = {i: med[q] for q, (kind, i, _) in enumerate(items) if kind == "blas"}
    for q, (kind, i, _) in enumerate(items):
        if kind != "call":
            continue
        name, layer, _, flops, shape = wl.calls[i]
        row = dict(kernel=name, layer=layer, seconds=med[q], flops=flops, shape=shape)
        if flops:
            row["gflops"] = flops / med[q] / 1e9
            row["blas_seconds"] = blas_time[i]
            row["blas_gflops"] = flops / blas_time[i] / 1e9
        rows.append(row)
    step_seconds = med[[k for k, _, _ in items].index("step")]
    dispatch = med[[k for k, _, _ in items].index("dispatch")]
    log(
        f"  profile {'-'.join(map(str, sizes))} b{batch}: step {step_seconds * 1e6:,.0f} us, "
        f"sum of kernels {sum(r['seconds'] for r in rows) * 1e6:,.0f} us"
    )
    return dict(rows=rows, step_seconds=step_seconds, dispatch_seconds=dispatch)


def machine_info():
    """CPU model (``/proc/cpuinfo``), cores, and the versions of everything measured."""
    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
        fields = {}
        for line in text.splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        info["cpu"] = fields.get("model name", info["cpu"])
        if "cpu family" in fields:
            info["cpu"] += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
        flags = fields.get("flags", "").split()
        simd = [f for f in ("avx2", "avx512f", "avx512bw", "avx512vl") if f in flags]
        if simd:
            info["simd"] = " ".join(simd)
    except OSError:
        pass
    import numba

    info["numpy"] = np.__version__
    info["numba"] = numba.__version__
    info["numba_threads"] = numba.get_num_threads()
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        info["numba_threading_layer"] = "not yet chosen"
    try:
        import llvmlite.binding as llvm

        info["llvm_target"] = llvm.get_host_cpu_name()
    except Exception:  # pragma: no cover
        pass
    from fnn_numba import __version__

    info["fnn_numba"] = __version__
    info["openblas_coretype_env"] = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = "; ".join(
            f"{p.get('internal_api')} {p.get('version')} "
            f"({p.get('architecture', '?')} kernels, {p.get('num_threads')} threads)"
            for p in blas
        )
    except ImportError:
        pass
    for mod, key in (("torch", "torch"), ("sklearn", "scikit-learn")):
        try:
            info[key] = __import__(mod).__version__
        except ImportError:
            info[key] = None
    if info.get("torch"):
        import torch

        info["torch_threads"] = torch.get_num_threads()
    return info


def load_average():
    """The 1-minute load average (Linux), or None."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
