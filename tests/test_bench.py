"""The benchmark tooling in ``benchmarks/`` (not part of the installed
package): the comparison on a tiny shape with a tiny budget (it must produce
its tables with the right columns, and its run record), the saved runs in
``benchmarks/results/``, the workloads the asv suite times, and the asv
modules themselves. No timing is asserted: figures from a shared machine are
not test material."""

import importlib
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
TINY = ["8-5-3:4"]
#: the kernel groups of a training step that both the workload and the asv suite name
STEP_KERNELS = (
    "z_forward",
    "activation_forward",
    "costs",
    "dz_backward",
    "dw_db_backward",
    "da_prev_backward",
)

if ROOT not in sys.path:  # ``benchmarks`` is a folder of the checkout, not an installed package
    sys.path.insert(0, ROOT)

from benchmarks import compare, measure, peers, report, workloads  # noqa: E402


def run_compare(tmp_path, monkeypatch, *extra):
    """The comparison on :data:`TINY`; returns (markdown, record)."""
    monkeypatch.setattr(measure, "SETTLE_SECONDS", 0.0)
    md, js = tmp_path / "report.md", tmp_path / "run.json"
    argv = [
        "--shapes",
        *TINY,
        "--repeats",
        "2",
        "--seconds",
        "0.005",
        "--examples",
        "16",
        "--startup-runs",
        "0",
        "--output",
        str(md),
        "--json",
        str(js),
        *extra,
    ]
    assert compare.main(argv) == 0
    return md.read_text(), json.loads(js.read_text())


def table_after(text, title):
    """The rows (lists of cells) of the first markdown table after ``title``."""
    lines = text[text.index(title) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[0], rows[2:]


def available_peers():
    found = ["fnn_numba"]
    for module, name in (("torch", "PyTorch"), (None, "NumPy"), ("sklearn", "scikit-learn")):
        if module is None or importlib.util.find_spec(module) is not None:
            found.append(name)
    return found


def test_parse_shape():
    assert workloads.parse_shape("784-128-10") == ("784-128-10", [784, 128, 10], 64)
    assert workloads.parse_shape("8-5-3:4") == ("8-5-3:4", [8, 5, 3], 4)
    for bad in ("8", "8-x-3", "8-5-3:0", "8-0-3"):
        with pytest.raises(ValueError, match="shape"):
            workloads.parse_shape(bad)


def test_comparison_report_has_the_right_tables(tmp_path, monkeypatch):
    text, record = run_compare(tmp_path, monkeypatch, "--profile")
    found = available_peers()
    others = [p for p in found if p != "fnn_numba"]
    for title in ("**Training**", "**Inference**"):
        header, rows = table_after(text, title)
        assert header == ["shape (batch)", "vs best peer"] + [f"vs {p}" for p in others]
        assert [r[0] for r in rows] == ["8-5-3:4"]
        float(rows[0][2])  # every ratio is a number
    for title in ("Absolute training throughput", "Absolute inference throughput"):
        header, rows = table_after(text, title)
        assert header == ["shape (batch)"] + found
        assert all(cell != "n/a" for cell in rows[0])
    header, rows = table_after(text, "**Peak memory of `Network.fit`**")
    assert header[0] == "shape (batch)" and "RSS peak / minimum" in header
    assert len(rows) == 1 and rows[0][-1] != "n/a"  # the fit workspace was found
    header, rows = table_after(text, "**Where a training step's time goes**")
    assert header == report.PROFILE_HEADER
    kernels = {r[0] for r in rows}
    assert {
        "z_forward",
        "activation_forward",
        "dz_backward",
        "dw_db_backward",
        "da_prev_backward",
        "example_losses",
        "output_delta_fused",
        "update",
    } <= kernels
    assert all(r[6] for r in rows if r[0] in ("z_forward", "dw_db_backward", "da_prev_backward"))
    # footnotes: machine, versions, the exact command
    assert "[1] Machine:" in text and "[2] Versions:" in text
    assert "[3] Command: `python benchmarks/compare.py --shapes 8-5-3:4" in text


def test_the_run_record_holds_the_figures_and_renders_the_same_report(tmp_path, monkeypatch):
    text, record = run_compare(
        tmp_path, monkeypatch, "--no-memory", "--peers", "fnn_numba", "NumPy"
    )
    report.validate(record)
    assert record["schema"] == report.SCHEMA and record["dtype"] == "float32"
    assert record["command"].startswith("python benchmarks/compare.py --shapes 8-5-3:4")
    assert record["environment"]["numpy"] == np.__version__
    (entry,) = record["throughput"]
    assert (
        entry["shape"] == "8-5-3:4"
        and entry["examples"] == 16
        and set(entry["peers"]) == {"fnn_numba", "NumPy"}
    )
    for kind in ("train", "infer"):
        mine, theirs = entry["peers"]["fnn_numba"][kind], entry["peers"]["NumPy"][kind]
        assert len(mine["rounds"]) == 2 and mine["min"] <= mine["median"] <= mine["max"]
        assert entry["ratios"][kind]["NumPy"] == pytest.approx(mine["median"] / theirs["median"])
    assert record["memory"] is None and record["startup"] is None
    # the report is a function of the record alone
    assert report.render_markdown(record) == text


def test_report_script_renders_a_saved_run(tmp_path):
    saved = sorted(f for f in os.listdir(RESULTS) if f.endswith(".json"))[0]
    out = tmp_path / "r.md"
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmarks", "report.py"),
            os.path.join(RESULTS, saved),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == report.render_markdown(report.load(os.path.join(RESULTS, saved)))
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "report.py"), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        done.returncode == 2
        and "expected the keys" in done.stderr
        and "Traceback" not in done.stderr
    )


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(RESULTS) if f.endswith(".json")))
def test_saved_runs_are_valid_records(name):
    """Every dated run loads, its ratios agree with its medians and it
    renders as markdown and as the docs' tables. (Extracted runs hold
    medians as printed, such as 2.7 k: two rounded figures put a ratio up to
    about 4 % off.)"""
    record = report.load(os.path.join(RESULTS, name))
    assert name.startswith(record["date"][:10])
    for entry in record["throughput"]:
        p = entry["peers"]
        for kind, r in entry["ratios"].items():
            for peer, ratio in r.items():
                assert ratio == pytest.approx(
                    p["fnn_numba"][kind]["median"] / p[peer][kind]["median"], rel=0.05
                ), (entry["shape"], kind, peer)
    text = report.render_markdown(record)
    assert "[3] Command: `python benchmarks/compare.py" in text or "[3] Command: `env " in text
    lines = report.rst_tables(record)
    assert lines[0] == ".. list-table:: Training: fnn_numba / peer" and any(
        line.startswith("| [1] Machine:") for line in lines
    )


def test_validate_names_what_is_wrong():
    good = report.load(
        os.path.join(RESULTS, sorted(f for f in os.listdir(RESULTS) if f.endswith(".json"))[0])
    )
    with pytest.raises(ValueError, match="missing throughput"):
        report.validate({k: v for k, v in good.items() if k != "throughput"})
    broken = json.loads(json.dumps(good))
    broken["throughput"][0]["peers"]["fnn_numba"]["train"]["min"] = 1e12
    with pytest.raises(ValueError, match="min <= median <= max"):
        report.validate(broken)
    with pytest.raises(ValueError, match="parts"):
        report.rst_tables(good, parts=("nonsense",))


def test_a_missing_peer_is_skipped_with_a_message(tmp_path, monkeypatch, capsys):
    def unavailable(*args):
        raise peers.PeerUnavailable("PyTorch is not installed (test)")

    monkeypatch.setitem(peers.PEER_FACTORIES, "PyTorch", unavailable)
    text, record = run_compare(
        tmp_path, monkeypatch, "--no-memory", "--peers", "fnn_numba", "PyTorch", "NumPy"
    )
    assert "Skipped peers: PyTorch: PyTorch is not installed (test)" in text
    assert record["skipped"] == {"PyTorch": "PyTorch is not installed (test)"}
    header, _ = table_after(text, "Absolute training throughput")
    assert header == ["shape (batch)", "fnn_numba", "NumPy"]
    assert "PyTorch: skipped" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--shapes", "8-x"], "shape: expected sizes joined by '-'"),
        (["--repeats", "0"], "--repeats: expected an integer >= 1, got 0"),
        (["--seconds", "0"], "--seconds: expected a number > 0"),
        (["--threads", "0"], "--threads: expected an integer >= 1, got 0"),
    ],
)
def test_bad_options_exit_with_2(capsys, argv, message):
    assert compare.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_compare_script_runs_from_a_checkout(tmp_path):
    """``python benchmarks/compare.py`` works from any directory, without
    installing anything (``--help`` imports every module of the harness)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "compare.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python benchmarks/compare.py")
    assert "--json FILE.json" in done.stdout


def test_the_library_holds_no_benchmark_code():
    import fnn_numba
    from fnn_numba import cli

    assert not os.path.exists(os.path.join(os.path.dirname(fnn_numba.__file__), "bench.py"))
    assert "bench" not in cli.DELEGATED


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_workload_covers_every_kernel_of_a_step(dtype):
    wl = workloads.KernelWorkload([6, 5, 4, 3], 7, dtype)
    assert set(wl.groups) == set(STEP_KERNELS) | {"update"}
    assert [c[1] for c in wl.calls if c[0] == "z_forward"] == [1, 2, 3]
    assert [c[1] for c in wl.calls if c[0] == "da_prev_backward"] == [3, 2]  # not dJ/dX
    for group in wl.groups:
        wl.run(group)
    # the kernels compute what the workload says: z = W a_prev + b, softmax columns
    np.testing.assert_allclose(wl.z[1], wl.w[0] @ wl.a[0] + wl.b[0][:, None], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wl.a[3].sum(axis=0), 1, rtol=1e-5)
    refs = wl.gemm_references()
    assert sorted(wl.calls[i][0] for i in refs) == sorted(
        c[0] for c in wl.calls if c[0] in ("z_forward", "dw_db_backward", "da_prev_backward")
    )


def test_network_workload_step_epoch_forward():
    wl = workloads.NetworkWorkload([6, 5, 3], 4, np.float32, n_batches=3)
    before = wl.net.get_parameters()
    wl.train_step()
    after_step = wl.net.get_parameters()
    assert not np.array_equal(before, after_step)
    history = wl.epoch()
    assert len(history.cost) == 1 and np.isfinite(history.cost[0])
    assert wl.forward().shape == (3, 12)


def test_fit_workspace_bytes_finds_what_fit_keeps():
    import fnn_numba as fnn

    net = fnn.Network([6, 5, 3], seed=0)
    assert measure.fit_workspace_bytes(net) is None  # nothing kept before the first fit
    X, y = workloads.synthetic_data([6, 5, 3], 12, np.float64)
    net.fit(X.T, y, epochs=1, batch_size=4, progress=False)
    # at least Z, A and dJ/dA of each layer for a batch of 4
    assert measure.fit_workspace_bytes(net) >= 3 * (5 + 3) * 4 * 8


def test_snapshot_package_copies_the_library_sources(tmp_path):
    dest = measure.snapshot_package(str(tmp_path))
    copied = set(os.listdir(os.path.join(dest, "fnn_numba")))
    assert {"__init__.py", "kernels.py", "engine.py", "network.py"} <= copied
    assert "__pycache__" not in copied
    assert "import fnn_numba" in measure.startup_code("float32")


def test_asv_modules_run_on_the_smallest_shape():
    """Every time_/peakmem_ method of the CPU suite, once, on 64-32-10."""
    kernels = importlib.import_module("benchmarks.bench_kernels")
    network = importlib.import_module("benchmarks.bench_network")
    jit = importlib.import_module("benchmarks.bench_jit")
    for cls in (kernels.Kernels, network.Network):
        assert cls.param_names == ["shape", "dtype"]
        assert list(cls.params[0]) == list(workloads.SHAPES) and list(cls.params[1]) == [
            "float32",
            "float64",
        ]
        obj = cls()
        names = [n for n in dir(cls) if n.startswith(("time_", "peakmem_"))]
        assert names
        for dtype in ("float32", "float64"):
            obj.setup("64-32-10", dtype)
            for name in names:
                getattr(obj, name)("64-32-10", dtype)
    for kernel in STEP_KERNELS:
        assert hasattr(kernels.Kernels, f"time_{kernel}") and hasattr(
            kernels.Kernels, f"peakmem_{kernel}"
        )
    for what in ("train_step", "epoch", "forward"):
        assert hasattr(network.Network, f"time_{what}") and hasattr(
            network.Network, f"peakmem_{what}"
        )
    assert hasattr(jit.JitStart, "track_cold_start") and hasattr(jit.JitStart, "track_warm_start")


def test_harness_modules_define_no_asv_benchmarks():
    """asv imports every module of ``benchmarks/``; only the bench_* modules
    may hold names it would take for benchmarks."""
    prefixes = ("time_", "timeraw_", "mem_", "peakmem_", "track_")
    for module in (workloads, peers, measure, report, compare):
        for name, obj in vars(module).items():
            assert not name.startswith(prefixes), (module.__name__, name)
            if isinstance(obj, type) and obj.__module__ == module.__name__:
                assert not [n for n in vars(obj) if n.startswith(prefixes)], (module.__name__, name)
