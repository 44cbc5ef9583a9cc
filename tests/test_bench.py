"""The benchmark tooling: the comparison script on a tiny shape with a tiny
budget (it must produce its tables with the right columns), the workloads
the asv suite times, and the asv modules themselves. No timing is asserted:
figures from a shared machine are not test material."""
import argparse
import importlib
import os

import numpy as np
import pytest

from fnn_numba import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["8-5-3:4"]


def run_cli(tmp_path, monkeypatch, *extra):
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    parser = bench.add_cli_arguments(argparse.ArgumentParser())
    out = tmp_path / "report.md"
    args = parser.parse_args(["--shapes", *TINY, "--repeats", "2", "--seconds", "0.005", "--examples", "16",
                              "--startup-runs", "0", "--output", str(out), *extra])
    assert bench.cli_main(args) == 0
    return out.read_text()


def table_after(report, title):
    """The rows (lists of cells) of the first markdown table after ``title``."""
    lines = report[report.index(title):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[0], [r for r in rows[2:]]


def available_peers():
    peers = ["fnn_numba"]
    for module, name in (("torch", "PyTorch"), (None, "NumPy"), ("sklearn", "scikit-learn")):
        if module is None:
            peers.append(name)
            continue
        try:
            importlib.import_module(module)
            peers.append(name)
        except ImportError:
            pass
    return peers


def test_parse_shape():
    assert bench.parse_shape("784-128-10") == ("784-128-10", [784, 128, 10], 64)
    assert bench.parse_shape("8-5-3:4") == ("8-5-3:4", [8, 5, 3], 4)
    for bad in ("8", "8-x-3", "8-5-3:0", "8-0-3"):
        with pytest.raises(ValueError):
            bench.parse_shape(bad)


def test_comparison_report_has_the_right_tables(tmp_path, monkeypatch):
    report = run_cli(tmp_path, monkeypatch, "--profile")
    peers = available_peers()
    others = [p for p in peers if p != "fnn_numba"]
    for title in ("**Training**", "**Inference**"):
        header, rows = table_after(report, title)
        assert header == ["shape (batch)", "vs best peer"] + [f"vs {p}" for p in others]
        assert [r[0] for r in rows] == ["8-5-3:4"]
        float(rows[0][2])     # every ratio is a number
    for title in ("Absolute training throughput", "Absolute inference throughput"):
        header, rows = table_after(report, title)
        assert header == ["shape (batch)"] + peers
        assert all(cell != "n/a" for cell in rows[0])
    header, rows = table_after(report, "**Peak memory of `Network.fit`**")
    assert header[0] == "shape (batch)" and "RSS peak / minimum" in header
    assert len(rows) == 1
    header, rows = table_after(report, "**Where a training step's time goes**")
    assert header == ["kernel", "layer", "n x K x m", "time", "share", "GFLOP/s", "BLAS GFLOP/s",
                      "kernel / BLAS"]
    kernels = {r[0] for r in rows}
    assert {"z_forward", "activation_forward", "dz_backward", "dw_db_backward", "da_prev_backward",
            "example_losses", "output_delta_fused", "update"} <= kernels
    assert all(r[6] for r in rows if r[0] in ("z_forward", "dw_db_backward", "da_prev_backward"))
    # footnotes: machine, versions, the exact command
    assert "[1] Machine:" in report and "[2] Versions:" in report and "[3] Command:" in report


def test_a_missing_peer_is_skipped_with_a_message(tmp_path, monkeypatch, capsys):
    def unavailable(*args):
        raise bench.PeerUnavailable("PyTorch is not installed (test)")

    monkeypatch.setitem(bench.PEER_FACTORIES, "PyTorch", unavailable)
    report = run_cli(tmp_path, monkeypatch, "--no-memory", "--peers", "fnn_numba", "PyTorch", "NumPy")
    assert "Skipped peers: PyTorch: PyTorch is not installed (test)" in report
    header, _ = table_after(report, "Absolute training throughput")
    assert header == ["shape (batch)", "fnn_numba", "NumPy"]
    assert "PyTorch: skipped" in capsys.readouterr().err


def test_bad_options_exit_with_2(capsys):
    parser = bench.add_cli_arguments(argparse.ArgumentParser())
    assert bench.cli_main(parser.parse_args(["--shapes", "8-x"])) == 2
    assert bench.cli_main(parser.parse_args(["--repeats", "0"])) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_workload_covers_every_kernel_of_a_step(dtype):
    wl = bench.KernelWorkload([6, 5, 4, 3], 7, dtype)
    assert set(wl.groups) == {"z_forward", "activation_forward", "costs", "dz_backward",
                              "dw_db_backward", "da_prev_backward", "update"}
    assert [c[1] for c in wl.calls if c[0] == "z_forward"] == [1, 2, 3]
    assert [c[1] for c in wl.calls if c[0] == "da_prev_backward"] == [3, 2]   # not dJ/dX
    for group in wl.groups:
        wl.run(group)
    # the kernels compute what the workload says: z = W a_prev + b, softmax columns
    np.testing.assert_allclose(wl.z[1], wl.w[0] @ wl.a[0] + wl.b[0][:, None], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wl.a[3].sum(axis=0), 1, rtol=1e-5)
    refs = wl.gemm_references()
    assert sorted(wl.calls[i][0] for i in refs) == sorted(
        c[0] for c in wl.calls if c[0] in ("z_forward", "dw_db_backward", "da_prev_backward"))


def test_network_workload_step_epoch_forward():
    wl = bench.NetworkWorkload([6, 5, 3], 4, np.float32, n_batches=3)
    before = wl.net.get_parameters()
    wl.train_step()
    after_step = wl.net.get_parameters()
    assert not np.array_equal(before, after_step)
    history = wl.epoch()
    assert len(history.cost) == 1 and np.isfinite(history.cost[0])
    assert wl.forward().shape == (3, 12)


def test_snapshot_package_copies_the_sources(tmp_path):
    dest = bench.snapshot_package(str(tmp_path))
    copied = set(os.listdir(os.path.join(dest, "fnn_numba")))
    assert {"__init__.py", "kernels.py", "engine.py", "network.py", "bench.py"} <= copied
    assert "__pycache__" not in copied
    assert "import fnn_numba" in bench.startup_code("float32")


@pytest.fixture
def benchmarks_package(monkeypatch):
    monkeypatch.syspath_prepend(ROOT)
    return importlib.import_module("benchmarks")


def test_asv_modules_run_on_the_smallest_shape(benchmarks_package):
    """Every time_/peakmem_ method of the CPU suite, once, on 64-32-10."""
    kernels = importlib.import_module("benchmarks.bench_kernels")
    network = importlib.import_module("benchmarks.bench_network")
    jit = importlib.import_module("benchmarks.bench_jit")
    for cls in (kernels.Kernels, network.Network):
        assert cls.param_names == ["shape", "dtype"]
        assert list(cls.params[0]) == list(bench.SHAPES) and list(cls.params[1]) == ["float32", "float64"]
        obj = cls()
        names = [n for n in dir(cls) if n.startswith(("time_", "peakmem_"))]
        assert names
        for dtype in ("float32", "float64"):
            obj.setup("64-32-10", dtype)
            for name in names:
                getattr(obj, name)("64-32-10", dtype)
    for kernel in ("z_forward", "activation_forward", "costs", "dz_backward", "dw_db_backward",
                   "da_prev_backward"):
        assert hasattr(kernels.Kernels, f"time_{kernel}") and hasattr(kernels.Kernels, f"peakmem_{kernel}")
    for what in ("train_step", "epoch", "forward"):
        assert hasattr(network.Network, f"time_{what}") and hasattr(network.Network, f"peakmem_{what}")
    assert hasattr(jit.JitStart, "track_cold_start") and hasattr(jit.JitStart, "track_warm_start")


def test_compare_script_is_a_thin_wrapper():
    text = open(os.path.join(ROOT, "benchmarks", "compare.py")).read()
    assert "from fnn_numba.bench import main" in text and 'if __name__ == "__main__"' in text
