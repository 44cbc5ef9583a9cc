"""The CUDA kernels and ``Network(device="cuda")`` in Numba's CUDA simulator.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba is
imported, and the rest of the suite must keep running on the CPU, so the
checks run in a child process: this file run as a script, which applies the
simulator fix of ``fnn_numba.gpu.simulator`` first. Its
``THREADS_PER_BLOCK``/``GEMM_THREADS``/``FUSED_THREADS`` are set small (8, 2,
4) so that the tiny shapes span several blocks, edge tiles and partial
K_TILE slices. Each check compares in float64:

- every CUDA kernel with its CPU twin and with the index-level reference,
  on shapes with edge tiles, m = 1 and n = 1, for every activation and cost;
  the GEMM kernels with every block side T from 1 to 2 and with the side
  :func:`~fnn_numba.gpu.kernels.gemm_config` picks for a small grid, giving
  the same bits;
- a Network on device="cuda" with the same network on device="cpu": forward,
  cost, gradients (dJ/dX included) and a few epochs of fit with shuffling,
  L2 and each optimizer, on the per-equation path and on the fused path, to
  1e-10 relative (the fused path also with layers several tiles wide);
  divergence; save/load and ``to``; the backend's resident validation
  (:meth:`~fnn_numba.gpu.backend.DeviceNetwork.evaluate`) and its optimizer
  state at ``end_fit``;
- the simulator's shared arrays: two threads reaching one
  ``cuda.shared.array`` line with a thread switch between look-up and store
  (forced) get the same array (the fix in ``fnn_numba.gpu.simulator``;
  without it the fits above differed from the CPU in about half the runs).

Without the simulator (this process): on a machine without a GPU,
device="cuda" must raise CudaUnavailableError saying what to install; the
launch configuration of the GEMM kernels (grid limits, small grids), the
fused path's threshold, the on-disk cache check and the low-occupancy
setting are plain Python and are tested here directly.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
RTOL = 1e-10


# ----------------------------------------------------------------- in-process
def _real_gpu_present():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from fnn_numba.gpu import target

        return target.cuda is not None and target.cuda.is_available()
    except Exception:
        return False


@pytest.mark.skipif(
    _real_gpu_present(), reason="a CUDA device (or the simulator) is available here"
)
def test_cuda_unavailable_raises_a_clear_error():
    import fnn_numba as fnn
    from fnn_numba.gpu_engine import CudaUnavailableError

    with pytest.raises(
        CudaUnavailableError,
        match=r"device: 'cuda' is unavailable: .*"
        r"pip install \"fnn-numba\[cuda\]\".*NumPy < 2\.5.*NVIDIA driver",
    ):
        fnn.Network([3, 2], seed=0, device="cuda")
    net = fnn.Network([3, 2], seed=0)
    before = net.get_parameters()
    with pytest.raises(CudaUnavailableError):
        net.to("cuda")
    assert net.device == "cpu" and np.array_equal(net.get_parameters(), before)
    assert isinstance(CudaUnavailableError("x"), RuntimeError)


def test_device_argument_is_validated():
    import fnn_numba as fnn

    with pytest.raises(ValueError, match=r"device: expected one of cpu, cuda; got 'gpu'"):
        fnn.Network([3, 2], device="gpu")
    with pytest.raises(ValueError, match=r"device: expected one of cpu, cuda; got 3"):
        fnn.Network([3, 2]).to(3)


def test_gpu_modules_import_without_touching_cuda_state():
    # importing the GPU modules never fails, with or without a GPU; the CPU
    # path never imports them
    code = (
        "import sys, fnn_numba as f; n = f.Network([2, 2], seed=0); n.forward([[1.0], [2.0]]); "
        "assert not [m for m in sys.modules if m.startswith('fnn_numba.gpu')]; "
        "import fnn_numba.gpu_kernels as g, fnn_numba.gpu_engine as e; "
        "assert g.z_forward_cuda.__doc__.lstrip().startswith('P1 (1)'); "
        "assert e.DeviceNetwork.__module__ == 'fnn_numba.gpu.backend'; print('ok')"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    # generous: on a cold cache the forward pass compiles its kernels first
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def _gpu_check_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_device_scripts_fail_when_a_gpu_is_present_but_unusable(monkeypatch, capsys):
    """ "skipped: no GPU" (exit 0) only where there is no GPU; a GPU that the
    CUDA path refuses (here: NumPy 2.5, as on the device machines' system
    Python) is a failure, exit 2, with the reason."""
    from fnn_numba.gpu import backend

    gc = _gpu_check_module()
    reason = "NumPy 2.5.0 is installed, and numba-cuda 0.30.4 cannot compile kernels"
    monkeypatch.setattr(backend, "unavailable_reason", lambda: reason)
    monkeypatch.setattr(gc, "gpu_present", lambda: True)
    assert gc.unusable_gpu_status("gpu_check.py") == 2
    assert capsys.readouterr().out == (
        f"FAILED: gpu_check.py: a GPU is present but cannot be used: {reason}\n"
    )
    monkeypatch.setattr(gc, "gpu_present", lambda: False)
    assert gc.unusable_gpu_status("gpu_check.py") == 0
    assert capsys.readouterr().out == f"skipped: no GPU ({reason})\n"
    monkeypatch.setattr(backend, "unavailable_reason", lambda: None)
    assert gc.unusable_gpu_status("gpu_check.py") is None


@pytest.mark.skipif(
    _real_gpu_present() or os.path.exists("/dev/nvidia0"),
    reason="a CUDA device (or the simulator) is available here",
)
def test_device_scripts_skip_where_there_is_no_gpu():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    for script in ("gpu_check.py", "bench_gpu.py"):
        out = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr[-2000:]
        assert out.stdout.startswith("skipped: no GPU ("), out.stdout


# ------------------------------------------ launch settings (plain Python)
@pytest.fixture
def gemm_settings():
    from fnn_numba.gpu import kernels as gk

    saved = (gk.GEMM_THREADS, gk.GEMM_MIN_THREADS, gk.SM_COUNT)
    gk.GEMM_THREADS, gk.GEMM_MIN_THREADS, gk.SM_COUNT = 16, 8, 132
    yield gk
    gk.GEMM_THREADS, gk.GEMM_MIN_THREADS, gk.SM_COUNT = saved


def test_gemm_grid_puts_the_batch_on_x(gemm_settings):
    """5 million examples: the example index, on the grid's x, has the
    78125 tiles of 64; the grid's y (at most 65535 blocks) carries only the
    layer width. With the batch on y, as before, this launch was refused."""
    gk = gemm_settings
    for launch_dims in ((10, 5_000_000, True), (784, 5_000_000, True)):
        n, m, _ = launch_dims
        grid, block = gk.gemm_config(*launch_dims)
        assert block == (16, 16)
        assert grid == (-(-m // 64), -(-n // 64))
        assert grid[1] <= gk.MAX_GRID_Y and grid[0] < 2**31 - 1
        # every column i and row j is in some block's tile
        assert grid[0] * 64 >= m and grid[1] * 64 >= n
    # P1 (13)'s grid is over the parameters (k on x, j on y): no batch index
    assert gk.gemm_config(4096, 512, False) == ((64, 8), (16, 16))
    with pytest.raises(
        ValueError,
        match=r"gemm_config: 4194305 rows need 65537 blocks on the "
        r"grid's y, which allows 65535",
    ):
        gk.gemm_config(4 * 1024 * 1024 + 1, 100, True)


def test_gemm_tiles_shrink_when_the_grid_is_small(gemm_settings):
    """784-128-10 at batch 64: z of layer 1 is 128 x 64, two 64 x 64 tiles
    for 132 SMs; halving T to 8 gives eight 32 x 32 tiles, and no further
    (GEMM_MIN_THREADS). A grid already large keeps T = 16."""
    gk = gemm_settings
    assert gk.gemm_config(128, 64, True) == ((2, 4), (8, 8))
    assert gk.gemm_config(2048, 1024, True) == ((16, 32), (16, 16))
    gk.GEMM_MIN_THREADS = 4
    assert gk.gemm_config(128, 64, True) == ((4, 8), (4, 4))
    gk.GEMM_THREADS = 17
    with pytest.raises(ValueError, match=r"GEMM_THREADS: expected an integer in \[1, 16\], got 17"):
        gk.gemm_config(8, 8, True)


def test_fused_threshold_leaves_784_128_10_to_the_per_equation_kernels():
    from fnn_numba.gpu import fused as gf

    assert gf.fused_epoch_fits([64, 32, 10], 32)
    assert gf.fused_epoch_fits([64, 32, 10], 128)
    assert not gf.fused_epoch_fits([784, 128, 10], 32)
    saved = gf.FUSED_THREADS
    try:
        for threads, side in ((1, 1), (4, 2), (16, 4), (64, 8), (256, 16)):
            gf.FUSED_THREADS = threads
            assert gf.fused_side() == side
        for bad in (8, 512, 1024):
            gf.FUSED_THREADS = bad
            with pytest.raises(ValueError, match=rf"FUSED_THREADS: expected T x T .* got {bad}"):
                gf.fused_side()
    finally:
        gf.FUSED_THREADS = saved


def test_stale_cuda_cache_entries_are_removed(tmp_path, monkeypatch):
    """The CUDA cache is stamped with a digest of every source the kernels
    inline: a changed digest (an edit of kernels.py, say) removes this
    package's cached kernels and nothing else; an unchanged one keeps them."""
    from fnn_numba.gpu import cache

    d = tmp_path / "gpu_cache"
    d.mkdir()
    ours = [
        d / "kernels.z_forward_cuda-99.py311.nbi",
        d / "fused.train_epoch_fused_cuda-9.py311.2.nbc",
    ]
    other = d / "somebody_else.f-1.py311.nbi"
    for f in ours + [other]:
        f.write_text("x")
    assert cache.invalidate_stale_cuda_cache([d], digest="A") == [d]
    assert not any(f.exists() for f in ours) and other.exists()
    ours[0].write_text("x")
    assert cache.invalidate_stale_cuda_cache([d], digest="A") == []
    assert ours[0].exists()
    assert cache.invalidate_stale_cuda_cache([d], digest="B") == [d] and not ours[0].exists()
    # the digest covers the CPU modules the kernels inline, not only fnn_numba/gpu
    pkg = tmp_path / "pkg"
    (pkg / "gpu").mkdir(parents=True)
    (pkg / "gpu" / "kernels.py").write_text("k = 1\n")
    (pkg / "kernels.py").write_text("@njit\ndef f(): pass\n")
    (pkg / "cli.py").write_text("no jit here\n")
    before = cache.cuda_sources_digest(pkg / "gpu", pkg)
    (pkg / "cli.py").write_text("still no jit\n")
    assert cache.cuda_sources_digest(pkg / "gpu", pkg) == before
    (pkg / "kernels.py").write_text("@njit\ndef f(): return 1\n")
    assert cache.cuda_sources_digest(pkg / "gpu", pkg) != before


def test_low_occupancy_warnings_off_unless_the_user_chose():
    code = "import fnn_numba.gpu.target as t; print(t.cuda_config().CUDA_LOW_OCCUPANCY_WARNINGS)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env.pop("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr[-2000:]
    env["NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1] == "1", out.stderr[-2000:]


# --------------------------------------------------------- simulator checks
@pytest.fixture(scope="module")
def sim_runs(tmp_path_factory):
    """Both simulator groups, started together (they are independent and the
    simulator is slow); each test waits for its own. Output goes to files, so
    that neither child can block on a full pipe."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    d = tmp_path_factory.mktemp("cuda_sim")
    procs = {}
    for g in ("kernels", "network"):
        out, err = open(d / f"{g}.out", "w+"), open(d / f"{g}.err", "w+")
        procs[g] = (
            subprocess.Popen([sys.executable, str(HERE), g], env=env, stdout=out, stderr=err),
            out,
            err,
        )
    yield procs
    for p, out, err in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()
        out.close()
        err.close()


def _run_sim(procs, group):
    p, out, err = procs[group]
    p.wait(timeout=1200)
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read(), err.read()
    assert p.returncode == 0, stdout[-3000:] + stderr[-5000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["simulator"] is True
    return report


def test_every_cuda_kernel_matches_its_cpu_twin_and_the_reference(sim_runs):
    report = _run_sim(sim_runs, "kernels")
    assert report["failures"] == [], report["failures"]
    # every kernel of gpu_kernels was exercised
    assert set(report["checked"]) >= set(report["all_kernels"]), set(report["all_kernels"]) - set(
        report["checked"]
    )


def test_network_on_cuda_agrees_with_cpu(sim_runs):
    report = _run_sim(sim_runs, "network")
    assert report["failures"] == [], report["failures"]
    assert report["checks"] >= 20


@pytest.mark.slow
def test_every_kernel_compiles_and_assembles_for_sm90():
    """The real toolchain, without a GPU (``tests/cuda_ptx.py``): NVVM
    compiles every kernel (so the @njit formulas do compile as device
    functions), ptxas assembles it for sm_90 (no unresolved CPU-runtime
    helpers), no kernel spills or keeps a stack frame, the float32 GEMM
    kernels have no float64 instruction, the GEMM kernels read their shared
    tiles only with 128-bit loads, and the fused kernel's block fits the
    register file."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env.setdefault("CUDA_HOME", "/usr/local/cuda")
    env["PATH"] = env.get("PATH", "") + os.pathsep + os.path.join(env["CUDA_HOME"], "bin")
    out = subprocess.run(
        [sys.executable, str(HERE.parent / "cuda_ptx.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if "skip" in report:
        pytest.skip(report["skip"])
    kernels = report["kernels"]
    assert len(kernels) == 2 * 20
    bad = {k: v["err"] for k, v in kernels.items() if v["rc"] != 0}
    assert not bad, bad
    for name, k in kernels.items():
        assert k["spills"] == 0 and k["stack"] == 0, (name, k)
    for name in ("z_forward_cuda", "dw_db_backward_cuda", "da_prev_backward_cuda"):
        assert kernels[f"{name} float32"]["float64_ops"] == 0, kernels[f"{name} float32"]
        for dtype in ("float32", "float64"):
            # the tiles are read by 128-bit loads (tiles.TILE_SHAPE); the order of
            # Numba's IR varies from one process to the next, and in some NVVM
            # leaves one pair of the innermost loop as two 32-bit loads
            k = kernels[f"{name} {dtype}"]
            assert k["vector_shared_loads"] >= 4 and k["scalar_shared_loads"] <= 2, (name, k)
    for dtype in ("float32", "float64"):
        regs = kernels[f"train_epoch_fused_cuda {dtype}"]["regs"]
        assert regs * report["fused_threads"] <= 65536, (dtype, regs)


# ------------------------------------------------------------ child process
#: the launch settings of the simulator runs, per module
SMALL_SETTINGS = {
    "kernels": dict(THREADS_PER_BLOCK=8, GEMM_THREADS=2, REDUCE_BLOCKS=3),
    "fused": dict(FUSED_THREADS=4),
}


def _child_setup(small=True):
    """Import the kernels with small launch settings (``small``) or the
    defaults; outside the simulator (benchmarks/gpu_check.py on a GPU) the
    same checks run on the real device. Returns (kernels, fused) modules."""
    from numba import config

    if config.ENABLE_CUDASIM:
        # the simulator runs each CUDA thread as a Python thread that hands the
        # GIL on at every syncthreads; with the default 5 ms switch interval the
        # runs are mostly waiting
        sys.setswitchinterval(1e-5)
        from fnn_numba.gpu import simulator

        assert simulator.apply()  # installed by fnn_numba.gpu.target: apply() is idempotent
    from fnn_numba.gpu import fused as gf
    from fnn_numba.gpu import kernels as gk

    if small:
        # 3 REDUCE_BLOCKS: still several blocks for the two-stage sums, fewer to simulate
        for module, settings in ((gk, SMALL_SETTINGS["kernels"]), (gf, SMALL_SETTINGS["fused"])):
            for name, value in settings.items():
                setattr(module, name, value)
    return gk, gf


class _Checker:
    def __init__(self):
        self.failures = []
        self.checked = set()
        self.checks = 0

    def close(self, name, got, want, rtol=RTOL, atol=1e-12):
        self.checks += 1
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
            err = np.max(np.abs(got - want)) if got.shape == want.shape else "shape"
            self.failures.append(f"{name}: max abs error {err} (shapes {got.shape} {want.shape})")

    def true(self, name, cond):
        self.checks += 1
        if not cond:
            self.failures.append(name)


def _kernel_checks(small=True, shapes=()):
    gk, gf = _child_setup(small)
    from numba import cuda

    from fnn_numba import engine
    from fnn_numba import kernels as K
    from fnn_numba import reference as R
    from fnn_numba.activations import ACTIVATIONS
    from fnn_numba.costs import COSTS

    sys.path.insert(0, str(HERE.parent))
    from conftest import ALL_ACTIVATIONS, ALL_COSTS, targets_for

    rng = np.random.default_rng(7)
    c = _Checker()
    F = np.asfortranarray
    dev = cuda.to_device

    # GEMM tiles are 8 x 8 (GEMM_THREADS = 2) and K_TILE = 16: these shapes have
    # full and edge tiles, several blocks, and one or two K_TILE slices
    for n, Kd, m in [(1, 1, 1), (3, 5, 1), (9, 4, 7), (13, 17, 11)] + list(shapes):
        w, b = rng.standard_normal((n, Kd)), rng.standard_normal(n)
        a = F(rng.standard_normal((Kd, m)))
        z = dev(np.zeros((n, m), order="F"))
        gk.launch_z_forward(dev(w), dev(b), dev(a), z)
        zc = np.zeros((n, m), order="F")
        K.z_forward(w, b, a, zc)
        c.close(f"z_forward {n, Kd, m} vs cpu", z.copy_to_host(), zc)
        c.close(f"z_forward {n, Kd, m} vs reference", z.copy_to_host(), R.z_reference(w, b, a))
        c.checked.add("z_forward_cuda")

        dz = F(rng.standard_normal((n, m)))
        dw, db = dev(np.zeros((n, Kd))), dev(np.zeros(n))
        gk.launch_dw_db_backward(dev(dz), dev(a), dev(w), 0.25, dw, db)
        dwc, dbc = np.zeros((n, Kd)), np.zeros(n)
        K.dw_db_backward(dz, a, w, 0.25, dwc, dbc, np.zeros((n, m)), np.zeros((Kd, m)))
        c.close(f"dw {n, Kd, m} vs cpu", dw.copy_to_host(), dwc)
        c.close(f"dw {n, Kd, m} vs reference", dw.copy_to_host(), R.dw_reference(dz, a) + 0.25 * w)
        c.close(f"db {n, Kd, m} vs cpu", db.copy_to_host(), dbc)
        c.close(f"db {n, Kd, m} vs reference", db.copy_to_host(), R.db_reference(dz))
        c.checked.add("dw_db_backward_cuda")

        da = dev(np.zeros((Kd, m), order="F"))
        gk.launch_da_prev_backward(dev(w), dev(dz), da)
        dac = np.zeros((Kd, m), order="F")
        K.da_prev_backward(w, dz, dac)
        c.close(f"da_prev {n, Kd, m} vs cpu", da.copy_to_host(), dac)
        c.close(f"da_prev {n, Kd, m} vs reference", da.copy_to_host(), R.da_prev_reference(w, dz))
        c.checked.add("da_prev_backward_cuda")

        dst = dev(np.zeros((Kd, m)))
        gk.launch_copy_matrix(dev(a), dst)
        c.close(f"copy_matrix {Kd, m}", dst.copy_to_host(), a)
        c.checked.add("copy_matrix_cuda")

    for name in ALL_ACTIVATIONS:
        code = ACTIVATIONS[name]
        for n, m in [(1, 5), (4, 1), (6, 9)]:
            z = F(rng.standard_normal((n, m)) * 2)
            a = dev(np.zeros((n, m), order="F"))
            gk.launch_activation_forward(code, dev(z), a)
            ac = np.zeros((n, m), order="F")
            K.activation_forward(code, z, ac)
            c.close(f"activation {name} {n, m} vs cpu", a.copy_to_host(), ac)
            c.close(
                f"activation {name} {n, m} vs reference", a.copy_to_host(), R.a_reference(name, z)
            )
            da = F(rng.standard_normal((n, m)))
            dz = dev(np.zeros((n, m), order="F"))
            gk.launch_dz_backward(code, dev(z), dev(ac), dev(da), dz)
            dzc = np.zeros((n, m), order="F")
            K.dz_backward(code, z, ac, da, dzc)
            c.close(f"dz {name} {n, m} vs cpu", dz.copy_to_host(), dzc)
            c.close(
                f"dz {name} {n, m} vs P1 (17) reference",
                dz.copy_to_host(),
                R.dz_general_reference(name, z, ac, da),
            )
    c.checked.update({"activation_forward_cuda", "dz_backward_cuda"})

    for cost in ALL_COSTS:
        for n, m in [(3, 1), (1, 6), (5, 7)]:
            y_hat = F(rng.uniform(0.05, 0.95, (n, m)))
            y = F(targets_for(cost, n, m, rng))
            losses = dev(np.zeros(m))
            gk.launch_example_losses(
                COSTS[cost], ACTIVATIONS["identity"], False, dev(y_hat), dev(y_hat), dev(y), losses
            )
            lc = np.zeros(m)
            K.example_losses(COSTS[cost], ACTIVATIONS["identity"], False, y_hat, y_hat, y, lc)
            c.close(f"losses {cost} {n, m} vs cpu", losses.copy_to_host(), lc)
            c.close(
                f"losses {cost} {n, m} vs reference",
                losses.copy_to_host(),
                R.losses_reference(cost, y_hat, y),
            )
            out = dev(np.zeros(3))
            gk.launch_mean_of(losses, out, 1)
            c.close(
                f"mean_of {cost} {n, m}", out.copy_to_host()[1], R.cost_reference(cost, y_hat, y)
            )
            da = dev(np.zeros((n, m), order="F"))
            gk.launch_cost_seed(COSTS[cost], dev(y_hat), dev(y), da)
            dac = np.zeros((n, m), order="F")
            K.cost_seed(COSTS[cost], y_hat, y, dac)
            c.close(f"seed {cost} {n, m} vs cpu", da.copy_to_host(), dac)
            c.close(
                f"seed {cost} {n, m} vs reference",
                da.copy_to_host(),
                R.seed_reference(cost, y_hat, y),
            )
    c.checked.update({"example_losses_cuda", "mean_of_cuda", "cost_seed_cuda"})

    # the fused outputs: losses from the logits and the output delta
    for out_name, cost in (
        ("softmax", "categorical_cross_entropy"),
        ("sigmoid", "binary_cross_entropy"),
    ):
        for n, m in [(1, 1), (4, 1), (3, 7)]:
            if out_name == "softmax" and n == 1:
                continue
            z = F(rng.standard_normal((n, m)) * 3)
            a = np.zeros((n, m), order="F")
            K.activation_forward(ACTIVATIONS[out_name], z, a)
            y = F(targets_for(cost, n, m, rng))
            losses = dev(np.zeros(m))
            gk.launch_example_losses(
                COSTS[cost], ACTIVATIONS[out_name], True, dev(z), dev(a), dev(y), losses
            )
            c.close(
                f"fused losses {out_name} {n, m}",
                losses.copy_to_host(),
                R.losses_reference(cost, a, y),
            )
            dz = dev(np.zeros((n, m), order="F"))
            gk.launch_output_delta_fused(ACTIVATIONS[out_name], dev(a), dev(y), dz)
            dzc = np.zeros((n, m), order="F")
            K.output_delta_fused(ACTIVATIONS[out_name], a, y, dzc)
            c.close(f"fused delta {out_name} {n, m} vs cpu", dz.copy_to_host(), dzc)
            c.close(
                f"fused delta {out_name} {n, m} vs reference",
                dz.copy_to_host(),
                R.dz_general_reference(out_name, z, a, R.seed_reference(cost, a, y)),
                rtol=1e-8,
            )
    c.checked.add("output_delta_fused_cuda")

    # gather, the L2 term, clipping, the optimizers and the divergence checks
    X = F(rng.standard_normal((3, 10)))
    order = rng.permutation(10).astype(np.int64)
    dst = dev(np.zeros((3, 4), order="F"))
    gk.launch_gather_columns(dev(X), dev(order), 5, 9, dst)
    dstc = np.zeros((3, 4), order="F")
    engine.gather_columns(X, order, 5, 9, dstc)
    c.close("gather_columns", dst.copy_to_host(), dstc)
    c.checked.add("gather_columns_cuda")

    sizes = [5, 3, 2]
    w_off, b_off, P = engine.parameter_layout(sizes)
    params = rng.standard_normal(P)
    w_len = np.array([15, 6], dtype=np.int64)
    partial = dev(np.zeros(gk.REDUCE_BLOCKS))
    out = dev(np.array([1.5]))
    gk.launch_l2_penalty(dev(params), dev(w_off.astype(np.int64)), dev(w_len), 0.3, partial, out, 0)
    c.close("l2_penalty", out.copy_to_host()[0], 1.5 + K.l2_penalty(params, w_off, w_len, 0.3))
    c.checked.update({"sum_squares_partial_cuda", "l2_penalty_cuda"})
    for max_norm in (0.5, 100.0):
        g = rng.standard_normal(P)
        gd, norm = dev(g), dev(np.zeros(1))
        gk.launch_clip_gradient_norm(
            gd, dev(np.zeros(1, np.int64)), dev(np.array([P], np.int64)), max_norm, partial, norm
        )
        gc = g.copy()
        nc = K.clip_gradient_norm(gc, max_norm)
        c.close(f"clip {max_norm}", gd.copy_to_host(), gc)
        c.close(f"norm {max_norm}", norm.copy_to_host()[0], nc)
    c.checked.update({"gradient_norm_cuda", "clip_gradient_norm_cuda"})

    for kind in (K.SGD, K.MOMENTUM, K.NESTEROV, K.ADAM):
        g, v, s2, p = (rng.standard_normal(P) for _ in range(4))
        s2 = np.abs(s2)
        args = (3, 0.05, 0.8, 0.9, 0.99, 1e-8)
        step, stepc = dev(np.zeros(P)), np.zeros(P)
        gk.launch_optimizer_step(kind, dev(g), dev(v), dev(s2), *args, step)
        K.optimizer_step(kind, g, v.copy(), s2.copy(), *args, stepc)
        c.close(f"optimizer_step {kind}", step.copy_to_host(), stepc)
        status = dev(np.array([-1], np.int64))
        gk.launch_step_is_finite(dev(p), step, status, 4)
        c.true(f"step_is_finite {kind}", status.copy_to_host()[0] == -1)
        pd, vd, sd = dev(p), dev(v), dev(s2)
        gk.launch_optimizer_commit(kind, pd, dev(g), vd, sd, 0.05, 0.8, 0.9, 0.99, step, status)
        pc, vc, sc = p.copy(), v.copy(), s2.copy()
        K.optimizer_commit(kind, pc, g, vc, sc, 0.05, 0.8, 0.9, 0.99, stepc)
        c.close(f"optimizer_commit {kind} params", pd.copy_to_host(), pc)
        c.close(f"optimizer_commit {kind} velocity", vd.copy_to_host(), vc)
        c.close(f"optimizer_commit {kind} second", sd.copy_to_host(), sc)
    bad_step = np.zeros(P)
    bad_step[3] = np.inf
    status = dev(np.array([-1], np.int64))
    gk.launch_step_is_finite(dev(params), dev(bad_step), status, 6)
    c.true("step_is_finite flags inf", status.copy_to_host()[0] == 6)
    pd = dev(params)
    gk.launch_optimizer_commit(
        K.SGD, pd, dev(params), dev(params), dev(params), 0.1, 0, 0, 0, dev(bad_step), status
    )
    c.true("commit writes nothing after a divergence", np.array_equal(pd.copy_to_host(), params))
    costs, status = dev(np.array([1.0, np.nan])), dev(np.array([-1], np.int64))
    gk.launch_cost_is_finite(costs, 0, status, 0)
    c.true("cost_is_finite keeps -1", status.copy_to_host()[0] == -1)
    gk.launch_cost_is_finite(costs, 1, status, 1)
    c.true("cost_is_finite flags NaN", status.copy_to_host()[0] == 1)
    c.checked.update(
        {
            "optimizer_step_cuda",
            "step_is_finite_cuda",
            "optimizer_commit_cuda",
            "cost_is_finite_cuda",
        }
    )
    c.checked.add("train_epoch_fused_cuda")  # exercised by the network checks (fit, fused path)
    _launch_configuration_checks(c, gk, rng)
    from numba import config

    if config.ENABLE_CUDASIM:
        c.true(
            "simulator: one shared array per call site, whatever the thread switches",
            _shared_array_race_check(),
        )
    all_kernels = sorted(name for mod in (gk, gf) for name in dir(mod) if name.endswith("_cuda"))
    return dict(
        failures=c.failures, checked=sorted(c.checked), all_kernels=all_kernels, checks=c.checks
    )


def _launch_configuration_checks(c, gk, rng):
    """The GEMM kernels give the same bits for every block side T (each sum
    runs over its index in order, whatever the tiles), including the T that
    gemm_config picks for a grid too small for the device; and a launch
    configuration is made once."""
    from numba import cuda

    dev = cuda.to_device
    saved = (gk.GEMM_THREADS, gk.GEMM_MIN_THREADS, gk.SM_COUNT)
    n, Kd, m = 11, 19, 10
    w, b = rng.standard_normal((n, Kd)), rng.standard_normal(n)
    a = np.asfortranarray(rng.standard_normal((Kd, m)))
    dz = np.asfortranarray(rng.standard_normal((n, m)))
    results = {}
    # (GEMM_THREADS, GEMM_MIN_THREADS, SM_COUNT): fixed T = 2, fixed T = 1, and
    # T = 2 halved to 1 because 100 SMs want at least 200 blocks
    for setting in ((2, 2, 1), (1, 1, 1), (2, 1, 100)):
        gk.GEMM_THREADS, gk.GEMM_MIN_THREADS, gk.SM_COUNT = setting
        z = dev(np.zeros((n, m), order="F"))
        gk.launch_z_forward(dev(w), dev(b), dev(a), z)
        dw, db = dev(np.zeros((n, Kd))), dev(np.zeros(n))
        gk.launch_dw_db_backward(dev(dz), dev(a), dev(w), 0.5, dw, db)
        da = dev(np.zeros((Kd, m), order="F"))
        gk.launch_da_prev_backward(dev(w), dev(dz), da)
        results[setting] = [x.copy_to_host() for x in (z, dw, db, da)]
        c.true(
            f"gemm_config {setting}: block side",
            gk.gemm_config(n, m, True)[1] == ((2, 2) if setting == (2, 2, 1) else (1, 1)),
        )
    base = results[(2, 2, 1)]
    for setting, got in results.items():
        for name, x, y in zip(("z", "dw", "db", "da_prev"), got, base):
            c.true(
                f"{name} with GEMM settings {setting}: the same bits as T = 2", np.array_equal(x, y)
            )
    gk.GEMM_THREADS, gk.GEMM_MIN_THREADS, gk.SM_COUNT = saved
    # on a device a launch configuration is made once and reused (the
    # simulator's kernels configure themselves, and are not cached)
    from numba import config

    from fnn_numba.gpu import target

    if not config.ENABLE_CUDASIM:
        first = target.configured(gk.mean_of_cuda, 1, 8)
        c.true("configured launcher cached", target.configured(gk.mean_of_cuda, 1, 8) is first)


def _shared_array_race_check():
    """The simulator's ``cuda.shared.array`` with the thread switch that made
    the per-equation fits nondeterministic, forced: thread A is held between
    its look-up and its store (inside np.empty, by a shape whose __index__
    waits) until thread B has looked up the same call site. numba-cuda's own
    code then gives A and B different arrays; with the lock that
    ``fnn_numba.gpu.simulator`` installs, B waits and gets A's array."""
    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    class Shape:
        def __init__(self):
            self.calls, self.started, self.second = 0, threading.Event(), threading.Event()

        def __index__(self):
            self.calls += 1
            if self.calls == 1:
                self.started.set()
                self.second.wait(0.5)  # B cannot get here while A holds the lock
            else:
                self.second.set()
            return 4

    shared, shape, got = FakeCUDAShared(0), Shape(), {}

    def grab(name):
        got[name] = shared.array(shape, np.float64)  # one call site for both threads

    a = threading.Thread(target=grab, args=("A",))
    a.start()
    shape.started.wait(5)
    b = threading.Thread(target=grab, args=("B",))
    b.start()
    a.join()
    b.join()
    return got["A"] is got["B"] and shape.calls == 1


def _network_checks(small=True):
    gk, gf = _child_setup(small)
    import tempfile

    import fnn_numba as fnn

    sys.path.insert(0, str(HERE.parent))
    from conftest import random_network, targets_for

    c = _Checker()
    rng = np.random.default_rng(3)
    cases = [
        ([5, 6, 4], ["tanh", "softmax"], "categorical_cross_entropy", 0.0),
        ([4, 7, 3, 2], ["relu", "elu", "sigmoid"], "binary_cross_entropy", 0.01),
        ([3, 5, 1], ["selu", "identity"], "squared_error", 0.0),
        ([6, 3], ["softmax"], "squared_error", 0.02),
    ]
    for sizes, acts, cost, l2 in cases:
        tag = f"{sizes} {acts} {cost}"
        m = 9
        X = rng.standard_normal((sizes[0], m))
        Y = targets_for(cost, sizes[-1], m, rng)
        cpu = random_network(sizes, acts, cost, seed=1, l2=l2)
        gpu = random_network(sizes, acts, cost, seed=1, l2=l2).to("cuda")
        c.true(f"{tag} device", gpu.device == "cuda")
        c.close(f"{tag} forward", gpu.forward(X), cpu.forward(X))
        c.close(f"{tag} cost", gpu.cost(X, Y), cpu.cost(X, Y))
        gc, gg = cpu.gradients(X, Y), gpu.gradients(X, Y)
        c.close(f"{tag} J", gg.cost, gc.cost)
        for l in range(len(sizes) - 1):
            c.close(f"{tag} dW{l + 1}", gg.weights[l], gc.weights[l])
            c.close(f"{tag} db{l + 1}", gg.biases[l], gc.biases[l])
        c.close(f"{tag} dX", gg.inputs, gc.inputs)
        c.close(f"{tag} predict", gpu.predict(X), cpu.predict(X))

    # fit: each optimizer on each path, shuffled mini-batches with a short last batch
    fits = [
        (0, "sgd", None, False),
        (1, "adam", None, False),
        (2, "momentum", 0.5, False),
        (3, "nesterov", None, False),
        (0, "sgd", None, True),
        (1, "adam", None, True),
        (2, "momentum", None, True),
    ]
    for case, optimizer, clip, fused_epoch in fits:
        sizes, acts, cost, l2 = cases[case]
        gf.FUSED_EPOCH = fused_epoch
        m = 9
        X = rng.standard_normal((sizes[0], m))
        Y = targets_for(cost, sizes[-1], m, rng)
        a = random_network(sizes, acts, cost, seed=1, l2=l2)
        b = random_network(sizes, acts, cost, seed=1, l2=l2).to("cuda")
        kw = dict(epochs=2, batch_size=4, learning_rate=0.05, optimizer=optimizer, clip_norm=clip)
        ha, hb = a.fit(X, Y, **kw), b.fit(X, Y, **kw)
        name = f"fit {sizes} {optimizer} clip={clip} fused={fused_epoch}"
        c.close(name + " params", b.get_parameters(), a.get_parameters())
        c.close(name + " history", hb.cost, ha.cost)
        if fused_epoch:
            c.true(name + " took the fused path", gf.fused_epoch_fits(sizes, 4))
    gf.FUSED_EPOCH = True

    # the fused path with layers and batches several tiles wide (tiles of 4T = 8
    # with FUSED_THREADS = 4), every optimizer state kept at the end
    for optimizer in ("adam", "momentum"):
        gf.FUSED_EPOCH = True
        sizes, acts = [11, 10, 9, 3], ["tanh", "relu", "softmax"]
        X = rng.standard_normal((11, 21))
        Y = targets_for("categorical_cross_entropy", 3, 21, rng)
        a = random_network(sizes, acts, "categorical_cross_entropy", seed=4, l2=0.01)
        b = random_network(sizes, acts, "categorical_cross_entropy", seed=4, l2=0.01).to("cuda")
        kw = dict(epochs=2, batch_size=17, learning_rate=0.05, optimizer=optimizer)
        ha, hb = a.fit(X, Y, **kw), b.fit(X, Y, **kw)
        name = f"fused fit {sizes} b17 {optimizer}"
        c.true(name + " took the fused path", gf.fused_epoch_fits(sizes, 17))
        c.close(name + " params", b.get_parameters(), a.get_parameters())
        c.close(name + " history", hb.cost, ha.cost)
        # the CPU keeps only the state its optimizer uses (momentum: no second moment)
        for key in ("velocity", "second") if optimizer == "adam" else ("velocity",):
            c.close(f"{name} optimizer {key}", getattr(b.optimizer, key), getattr(a.optimizer, key))

    _backend_checks(c, gf, rng)

    # divergence on both paths: same batch, same kept weights as on the CPU
    X = rng.standard_normal((3, 16)) * 10
    Y = rng.standard_normal((1, 16)) * 10
    for fused_epoch in (False, True):
        gf.FUSED_EPOCH = fused_epoch
        errs, params = [], []
        for device in ("cpu", "cuda"):
            net = fnn.Network([3, 8, 1], ["relu", "identity"], "mse", seed=0, device=device)
            try:
                net.fit(X, Y, epochs=50, batch_size=4, learning_rate=50.0)
                errs.append(None)
            except fnn.TrainingDivergedError as exc:
                errs.append((exc.epoch, exc.batch, len(exc.history.cost)))
            params.append(net.get_parameters())
        c.true(
            f"divergence fused={fused_epoch}: {errs}", errs[0] is not None and errs[0] == errs[1]
        )
        c.true(f"divergence fused={fused_epoch} finite weights", np.all(np.isfinite(params[1])))
        c.close(f"divergence fused={fused_epoch} kept weights", params[1], params[0])
    gf.FUSED_EPOCH = True

    # save/load and to(): the weights trained on the device come back exactly
    X = rng.standard_normal((4, 12))
    y = rng.integers(0, 3, 12)
    net = fnn.Network([4, 5, 3], seed=2, device="cuda")
    net.fit(X, y, epochs=2, batch_size=5)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "net.npz")
        net.save(path)
        back = fnn.Network.load(path)
        c.true("load gives a cpu network", back.device == "cpu")
        c.true("save/load exact", np.array_equal(back.get_parameters(), net.get_parameters()))
        on_gpu = fnn.Network.load(path, device="cuda")
        c.true("load(device='cuda')", on_gpu.device == "cuda")
        c.close("loaded on cuda forward", on_gpu.forward(X), back.forward(X))
    moved = net.to("cpu")
    c.true("to returns self", moved is net and net.device == "cpu")
    c.close("to('cpu') forward", net.forward(X), back.forward(X))
    # writing the host weights is seen by the device
    net.to("cuda")
    net.weights[0][...] = 0.0
    ref = fnn.Network([4, 5, 3], seed=2)
    ref.set_parameters(net.get_parameters())
    c.close("host writes reach the device", net.forward(X), ref.forward(X))
    return dict(failures=c.failures, checks=c.checks)


def _backend_checks(c, gf, rng):
    """DeviceNetwork on its own: a validation set uploaded once at
    begin_fit and evaluated on the device's parameters (evaluate) against
    the CPU network's forward pass and cost; the optimizer state stays on
    the device with sync_state=False until end_fit."""
    from fnn_numba import kernels as K
    from fnn_numba.activations import ACTIVATIONS
    from fnn_numba.costs import COSTS
    from fnn_numba.gpu.backend import DeviceNetwork

    sys.path.insert(0, str(HERE.parent))
    from conftest import random_network, targets_for

    sizes, acts, cost = [6, 5, 4], ["sigmoid", "softmax"], "categorical_cross_entropy"
    net = random_network(sizes, acts, cost, seed=8)
    act_codes = [ACTIVATIONS[a] for a in acts]
    dev = DeviceNetwork(sizes, act_codes, COSTS[cost], False, np.float64)
    dev.upload_params(net.get_parameters())
    X = rng.standard_normal((6, 10))
    Y = targets_for(cost, 4, 10, rng)
    Xv = rng.standard_normal((6, 7))
    Yv = targets_for(cost, 4, 7, rng)
    P = net.n_parameters
    velocity, second = np.zeros(P), np.zeros(P)
    fit = dev.begin_fit(X, Y, 4, velocity, second, Xv=Xv, Yv=Yv)
    out, loss = dev.evaluate(fit)
    c.close("evaluate A[L] before training", out, net.forward(Xv))
    c.close("evaluate loss before training", loss, net.cost(Xv, Yv))
    gf.FUSED_EPOCH = False
    host = net.get_parameters()
    costs = np.zeros(3)
    from fnn_numba.optimizers import Adam

    upd = Adam(beta1=0.9, beta2=0.999, epsilon=1e-8).update_args(host, 0.1)
    upd = upd._replace(velocity=velocity, second=second)
    bad = dev.train_batches(fit, np.arange(10), 0, 3, costs, upd, 0.0, host, sync_state=False)
    gf.FUSED_EPOCH = True
    c.true("train_batches finite", bad == -1)
    c.true("sync_state=False leaves the host state alone", not velocity.any() and not second.any())
    dev.end_fit(fit, K.ADAM, velocity, second)
    c.true("end_fit brings the state back", velocity.any() and second.any())
    net.set_parameters(host)
    out, loss = dev.evaluate(fit)
    c.close("evaluate A[L] after training (no upload)", out, net.forward(Xv))
    c.close("evaluate loss after training (no upload)", loss, net.cost(Xv, Yv))
    try:
        dev.evaluate(dev.begin_fit(X, Y, 4, velocity, second))
        c.true("evaluate without a validation set raises", False)
    except ValueError as exc:
        c.true("evaluate's error names the validation set", "validation set" in str(exc))


if __name__ == "__main__":
    assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run by test_cuda_sim.py (the simulator)"
    group = sys.argv[1]
    result = _kernel_checks() if group == "kernels" else _network_checks()
    from numba import config

    result["simulator"] = bool(config.ENABLE_CUDASIM)
    print(json.dumps(result))
