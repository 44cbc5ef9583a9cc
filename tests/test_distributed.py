"""Data-parallel training with MPI (fnn_numba.distributed).

The multi-process behaviour runs for real: ``mpiexec -n P`` launches
tests/mpi_scripts/scenarios.py for P = 1, 2, 3, and the tests here read what
each rank reported. Sharding, the global order and checkpoint files are also
tested in-process. Launches need mpi4py and an ``mpiexec`` (the test extra
installs both: mpi4py and the mpich wheel); without them those tests skip.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fnn_numba import distributed

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "mpi_scripts" / "scenarios.py"
#: a launch compiles the kernels on a cold Numba cache; a hang shows as this timeout
LAUNCH_TIMEOUT = 900


def _find_mpiexec():
    # the one installed beside this interpreter belongs to the MPI that mpi4py loads
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    return shutil.which("mpiexec")


MPIEXEC = _find_mpiexec()
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or not HAVE_MPI4PY,
    reason="needs mpi4py and an mpiexec (pip install 'fnn-numba[mpi]' or the test extra: "
    f"mpi4py found={HAVE_MPI4PY}, mpiexec found={MPIEXEC is not None})",
)


def mpiexec(P, argv, extra_env=None, cwd=None):
    """``mpiexec -n P python ARGV...``; the CompletedProcess."""
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env.update(extra_env or {})
    # P ranks share 2 cores: one Numba thread each, or they fight over them
    env["NUMBA_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [MPIEXEC, "-n", str(P)]
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        cmd.append("--oversubscribe")
    cmd += [sys.executable, *map(str, argv)]
    try:
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT, cwd=cwd
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"mpiexec -n {P} {' '.join(map(str, argv))} did not finish in {LAUNCH_TIMEOUT} s: "
            f"a rank is probably waiting in a collective\n{exc.stderr}"
        )


def launch(P, out_dir, *scenarios, expect_success=True, extra_env=None):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = mpiexec(P, [SCRIPT, out_dir, *scenarios], extra_env)
    if expect_success and proc.returncode != 0:
        pytest.fail(
            f"mpiexec -n {P} {' '.join(scenarios)} exited with {proc.returncode}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    reports = []
    for r in range(P):
        path = out_dir / f"rank{r}.json"
        reports.append(json.loads(path.read_text()) if path.exists() else None)
    return proc, reports


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Reports of one launch per P, run on first use."""
    cache = {}
    scenarios = {
        1: ["equivalence", "single_rank_matches_fit"],
        2: ["equivalence", "faults", "uninterrupted", "memmap"],
        3: ["equivalence", "faults"],
    }

    def get(P):
        if P not in cache:
            out = tmp_path_factory.mktemp(f"p{P}")
            cache[P] = (out, launch(P, out, *scenarios[P])[1])
        return cache[P]

    return get


# ------------------------------------------------------------ equivalence
@needs_mpi
@pytest.mark.parametrize("P", [1, 2, 3])
@pytest.mark.parametrize("split", ["equal", "unequal"])
@pytest.mark.parametrize("config", ["cce_l2_sgd", "mse_momentum_clip"])
def test_P_ranks_with_batch_b_equal_one_process_with_the_same_global_batches(
    ranks, P, split, config
):
    reports = ranks(P)[1]
    ours = [rep[f"{split}:{config}"] for rep in reports]
    res = ours[0]
    assert all(r["replicas_identical"] for r in ours)
    assert all(r["cost"] == res["cost"] for r in ours), "ranks disagree on the history"
    if split == "unequal" and P > 1:
        assert len(set(res["shard_sizes"])) > 1, "the unequal case must have unequal shards"
    assert res["order_matches_documentation"], "global_batches differs from the documented order"
    assert res["moved"] > 0.05, (
        "training must change the weights for the comparison to mean anything"
    )
    # float64 round-off: the sums are split and weighted differently, a few ulps of O(1) weights
    assert res["max_weight_diff_per_batch"] <= 1e-13 * max(1.0, res["weight_scale"])
    assert res["max_cost_diff"] <= 1e-13
    if split == "equal":
        assert res["max_weight_diff_batch_Pb"] <= 1e-13 * max(1.0, res["weight_scale"])


@needs_mpi
def test_one_rank_without_shuffling_is_bitwise_network_fit(ranks):
    res = ranks(1)[1][0]["single_rank_matches_fit"]
    assert res["identical"]
    assert res["cost_diff"] == 0.0


@needs_mpi
def test_one_rank_with_fit_options_is_bitwise_network_fit(ranks):
    # schedule, clipping by value, validation and early stopping run in the one training loop
    res = ranks(1)[1][0]["single_rank_matches_fit_options"]
    assert res["identical"]
    cost_a, cost_b, val_a, val_b, lr_a, lr_b = res["histories"]
    assert cost_a == cost_b and val_a == val_b and lr_a == lr_b
    assert lr_a[1] == pytest.approx(0.3 * 0.7)
    assert res["stopped"][0] == res["stopped"][1] == 2  # min_delta=10: no epoch improves enough


# ------------------------------------------------------------------ faults
BAD_INPUT = {
    "comm_not_a_communicator": ("TypeError", ["comm", "mpi4py communicator", "str"]),
    "features_differ": (
        "ValueError",
        ["X_shard", "same number of features", "rank 0: 5", "6 features"],
    ),
    "x_dtype_differs": ("TypeError", ["X_shard", "same dtype", "float64", "float32"]),
    "zero_examples": ("ValueError", ["rank {last}", "no examples", "(5, 0)"]),
    "architecture_differs": ("ValueError", ["net", "same architecture"]),
    "activation_differs": ("ValueError", ["net", "same architecture"]),
    "epochs_differ": ("ValueError", ["epochs", "same value", "rank {last}: 3"]),
    "nan_in_shard": ("ValueError", ["rank {last}", "X_shard", "NaN"]),
}


@needs_mpi
@pytest.mark.parametrize("P", [2, 3])
@pytest.mark.parametrize("scenario", sorted(BAD_INPUT))
def test_bad_input_on_one_rank_raises_the_same_error_on_every_rank(ranks, P, scenario):
    reports = ranks(P)[1]
    kind, fragments = BAD_INPUT[scenario]
    results = [rep[scenario] for rep in reports]
    for r, res in enumerate(results):
        assert res["error"] == kind, f"rank {r}: {res}"
        for fragment in fragments:
            assert fragment.format(last=P - 1) in res["message"], f"rank {r}: {res['message']}"
    assert len({res["message"] for res in results}) == 1


@needs_mpi
@pytest.mark.parametrize("P", [2, 3])
def test_divergence_on_one_rank_stops_every_rank_with_the_same_weights(ranks, P):
    results = [rep["divergence_on_one_rank"] for rep in ranks(P)[1]]
    assert all(res["error"] == "TrainingDivergedError" for res in results)
    assert {(res["epoch"], res["batch"]) for res in results} == {(1, 1)}
    assert all(res["finite"] for res in results)
    assert len({res["digest"] for res in results}) == 1


@needs_mpi
@pytest.mark.parametrize("P", [2, 3])
def test_a_rank_that_raises_mid_training_stops_every_rank(ranks, P):
    results = [rep["rank_raises_mid_training"] for rep in ranks(P)[1]]
    for res in results:
        assert res["error"] == "RankFailedError"
        assert (res["rank_attr"], res["epoch"], res["step"]) == (P - 1, 1, 3)
        assert "shard file vanished" in res["message"] and f"rank {P - 1}" in res["message"]


@needs_mpi
@pytest.mark.parametrize("P", [2, 3])
def test_verify_replicas_detects_a_drifting_replica_and_is_quiet_otherwise(ranks, P):
    for rep in ranks(P)[1]:
        drift = rep["verify_replicas_detects_drift"]
        assert drift["error"] == "RuntimeError"
        assert "verify_replicas" in drift["message"] and f"[{P - 1}]" in drift["message"]
        assert rep["verify_replicas_quiet_when_identical"]["error"] is None
        assert rep["after_faults"]["replicas_identical"]


# -------------------------------------------------------------- GPU ranks
HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None


@needs_mpi
@pytest.mark.skipif(
    not HAVE_NUMBA_CUDA, reason="needs numba-cuda for its CUDA simulator (test extra)"
)
def test_gpu_replicas_staged_through_host_buffers_match_cpu_replicas(tmp_path):
    # rank 0 runs on the (simulated) GPU, rank 1 on the CPU
    _, reports = launch(2, tmp_path, "gpu_staging", extra_env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert [rep["gpu_staging"]["adam"]["device"] for rep in reports] == ["cuda", "cpu"]
    for rep in reports:
        res = rep["gpu_staging"]["adam"]
        assert res["replicas_identical"]
        assert res["moved"] > 0.05
        assert res["rel_diff"] <= 1e-10 and res["cost_diff"] <= 1e-10


# ------------------------------------------------------------- data files
@needs_mpi
def test_memory_mapped_shards_train_like_in_memory_shards(ranks):
    reports = ranks(2)[1]
    shapes = [rep["memmap"]["shape"] for rep in reports]
    assert shapes == [[5, 9], [5, 8]]
    for rep in reports:
        assert rep["memmap"]["is_memmap"] and rep["memmap"]["f_ordered"]
        assert rep["memmap"]["same_as_in_memory"]


# ------------------------------------------------------------ checkpoints
@needs_mpi
def test_a_job_restarted_after_a_crash_resumes_from_the_checkpoint_and_loses_nothing(
    ranks, tmp_path
):
    out, reports = ranks(2)
    uninterrupted = reports[0]["uninterrupted"]
    proc, _ = launch(2, tmp_path / "crash", "crash", expect_success=False)
    assert proc.returncode != 0, "rank 1 was meant to die in epoch 3"
    checkpoint = tmp_path / "shared.npz"
    with np.load(checkpoint) as data:
        meta = json.loads(bytes(data["metadata"]).decode())
    assert meta["epoch"] == 2 and len(meta["history"]["cost"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fnn-ckpt-")]

    _, resumed = launch(2, tmp_path / "resume", "resume")
    for rep in resumed:
        res = rep["resume"]
        assert res["epochs_trained"] == [2, 3], "the restart must train only epochs 3 and 4"
        assert res["digest"] == uninterrupted["digest"]
        assert res["cost"] == uninterrupted["cost"]
    np.testing.assert_array_equal(
        np.load(tmp_path / "resume" / "resumed_params.npy"),
        np.load(out / "uninterrupted_params.npy"),
    )


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    meta = dict(
        format=distributed.CHECKPOINT_FORMAT, version=distributed.CHECKPOINT_VERSION, epoch=1
    )
    arrays = dict(params=np.arange(3.0), velocity=np.zeros(3), second_moment=np.zeros(3))
    distributed._write_checkpoint(path, meta, arrays)

    def broken_savez(fh, **kw):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(distributed.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        distributed._write_checkpoint(path, dict(meta, epoch=2), arrays)
    monkeypatch.undo()
    read_meta, read_arrays = distributed._read_checkpoint(path)
    assert read_meta["epoch"] == 1
    np.testing.assert_array_equal(read_arrays["params"], np.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    other = tmp_path / "model.npz"
    np.savez(
        other,
        metadata=np.frombuffer(b'{"format": "something else"}', dtype=np.uint8),
        params=np.zeros(2),
        velocity=np.zeros(2),
        second_moment=np.zeros(2),
    )
    with pytest.raises(ValueError, match="not an fnn_numba distributed checkpoint"):
        distributed._read_checkpoint(other)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="checkpoint_path"):
        distributed._read_checkpoint(garbage)


# ---------------------------------------------------------------- sharding
class FakeComm:
    """What shard_array and load_npy_shard ask of a communicator."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size


@pytest.mark.parametrize("n", [0, 1, 5, 12, 13, 101])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_shard_indices_split_every_example_to_exactly_one_rank_in_order(n, size):
    blocks = [distributed.shard_indices(n, r, size) for r in range(size)]
    assert [i for b in blocks for i in b] == list(range(n))
    lengths = [len(b) for b in blocks]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize(
    "args, exc, fragment",
    [
        ((10, 2, 2), ValueError, "rank: expected a rank in [0, 2)"),
        ((10, -1, 2), ValueError, "rank: expected an integer >= 0"),
        ((10, 0, 0), ValueError, "size: expected an integer >= 1"),
        ((-1, 0, 1), ValueError, "n: expected an integer >= 0"),
        ((10.0, 0, 1), TypeError, "n: expected an integer"),
        ((10, True, 2), TypeError, "rank: expected an integer"),
    ],
)
def test_shard_indices_rejects_bad_arguments(args, exc, fragment):
    with pytest.raises(exc) as info:
        distributed.shard_indices(*args)
    assert fragment in str(info.value)


def test_shard_array_takes_a_view_along_the_example_axis():
    X = np.arange(4 * 7.0).reshape(4, 7)
    parts = [distributed.shard_array(X, FakeComm(r, 3)) for r in range(3)]
    assert [p.shape for p in parts] == [(4, 3), (4, 2), (4, 2)]
    np.testing.assert_array_equal(np.hstack(parts), X)
    assert all(np.shares_memory(p, X) for p in parts)
    rows = distributed.shard_array(X, FakeComm(1, 2), axis=0)
    np.testing.assert_array_equal(rows, X[2:])
    with pytest.raises(ValueError, match="axis: expected an axis of a 2-d array, got 2"):
        distributed.shard_array(X, FakeComm(0, 2), axis=2)
    with pytest.raises(ValueError, match="0-d"):
        distributed.shard_array(np.float64(1.0), FakeComm(0, 2))


def test_load_npy_shard_maps_only_this_ranks_block(tmp_path):
    X = np.arange(3 * 10.0).reshape(3, 10)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Xs.npy", np.ascontiguousarray(X.T))
    np.save(tmp_path / "y.npy", np.arange(10))
    for r in range(3):
        block = distributed.shard_indices(10, r, 3)
        columns = distributed.load_npy_shard(tmp_path / "X.npy", FakeComm(r, 3))
        transposed = distributed.load_npy_shard(tmp_path / "Xs.npy", FakeComm(r, 3), axis=0)
        labels = distributed.load_npy_shard(tmp_path / "y.npy", FakeComm(r, 3))
        for shard in (columns, transposed, labels):
            assert isinstance(shard, np.memmap)
        np.testing.assert_array_equal(columns, X[:, block.start : block.stop])
        np.testing.assert_array_equal(transposed, X[:, block.start : block.stop])
        assert transposed.flags.f_contiguous
        np.testing.assert_array_equal(labels, np.arange(10)[block.start : block.stop])


def test_load_npy_shard_rejects_bad_files_and_axes(tmp_path):
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    np.save(tmp_path / "y.npy", np.zeros(4))
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(ValueError, match="1-d .* or 2-d .* got shape \\(2, 2, 2\\)"):
        distributed.load_npy_shard(tmp_path / "cube.npy", FakeComm(0, 1))
    with pytest.raises(ValueError, match="axis: expected 0 for the 1-d array"):
        distributed.load_npy_shard(tmp_path / "y.npy", FakeComm(0, 1), axis=1)
    with pytest.raises(ValueError, match="not a readable .npy file"):
        distributed.load_npy_shard(tmp_path / "junk.npy", FakeComm(0, 1))
    with pytest.raises(FileNotFoundError):
        distributed.load_npy_shard(tmp_path / "missing.npy", FakeComm(0, 1))


# ------------------------------------------------------------ global order
@pytest.mark.parametrize("shard_sizes, b", [([10, 10], 4), ([4, 3, 3], 2), ([7], 3), ([5, 1], 2)])
def test_global_batches_use_every_example_once_per_epoch_in_rank_order(shard_sizes, b):
    offsets = np.concatenate([[0], np.cumsum(shard_sizes)[:-1]])
    batches = distributed.global_batches(shard_sizes, b, seed=3, epoch=1)
    assert sorted(np.concatenate(batches).tolist()) == list(range(sum(shard_sizes)))
    assert len(batches) == -(-max(shard_sizes) // b)
    for s, batch in enumerate(batches):
        owners = np.searchsorted(offsets, batch, side="right") - 1
        assert list(owners) == sorted(owners), "a global batch lists rank 0's part first"
        for r, m in enumerate(shard_sizes):
            assert np.sum(owners == r) == len(range(m)[s * b : (s + 1) * b])
    again = distributed.global_batches(shard_sizes, b, seed=3, epoch=1)
    assert all(np.array_equal(u, v) for u, v in zip(batches, again))
    other_epoch = distributed.global_batches(shard_sizes, b, seed=3, epoch=2)
    if sum(shard_sizes) > 4:
        assert not all(np.array_equal(u, v) for u, v in zip(batches, other_epoch))


# ------------------------------------------------------------ command line
@needs_mpi
@pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None, reason="the digits data need scikit-learn"
)
def test_cli_train_distributed_prints_once_and_saves_from_rank_0(tmp_path):
    model = tmp_path / "digits.npz"
    proc = mpiexec(
        2,
        [
            "-m",
            "fnn_numba",
            "train",
            "--distributed",
            "--dataset",
            "digits",
            "--epochs",
            "3",
            "--hidden",
            "32",
            "--optimizer",
            "adam",
            "--learning-rate",
            "0.01",
            "--output",
            model,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("epoch    3/3") == 1, proc.stdout
    assert "2 ranks" in proc.stdout
    assert proc.stdout.count("test accuracy") == 1 and proc.stdout.count("model written") == 1
    accuracy = float(proc.stdout.split("test accuracy")[1].split()[0])
    assert accuracy > 0.8  # 0.92 when measured; chance is 0.1
    import fnn_numba as fnn

    assert fnn.Network.load(model).sizes == [64, 32, 10]

    # fit_distributed runs fit's training loop, so fit's options work across ranks
    scheduled = mpiexec(
        2,
        [
            "-m",
            "fnn_numba",
            "train",
            "--distributed",
            "--dataset",
            "digits",
            "--epochs",
            "2",
            "--hidden",
            "16",
            "--lr-schedule",
            "step",
            "--early-stopping",
        ],
        cwd=tmp_path,
    )
    assert scheduled.returncode == 0, scheduled.stderr[-3000:]
    assert scheduled.stdout.count("epoch    2/2") == 1, scheduled.stdout


# ------------------------------------------------------- the scaling model
def _scaling_module():
    spec = importlib.util.spec_from_file_location(
        "scaling_mpi", REPO / "benchmarks" / "scaling_mpi.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_allreduce_model_is_the_cheaper_of_ring_and_recursive_doubling():
    model = _scaling_module().allreduce_model
    B, alpha = 1.25e9, 25e-6
    assert model(1e6, 1, B, alpha) == 0.0
    big, P = 34e6, 64  # bandwidth-bound: the ring's 2 (P-1)/P S / B + 2 (P-1) alpha
    assert model(big, P, B, alpha) == pytest.approx(2 * 63 / 64 * big / B + 2 * 63 * alpha)
    small = 1e4  # latency-bound: recursive doubling's log2(P) (S / B + alpha)
    assert model(small, P, B, alpha) == pytest.approx(6 * (small / B + alpha))
    assert model(small, 8, B, alpha) < model(small, 64, B, alpha)


def test_scaling_model_table_reproduces_the_documented_cell():
    scaling = _scaling_module()
    rows = [
        dict(
            shape="2-2-2",
            P=1,
            mode="weak",
            step_s=5.8e-6,
            allreduce_s=0.0,
            local_batch=1,
            n_params=12,
        ),
        dict(
            shape="2048-2048-2048-10",
            P=1,
            mode="weak",
            step_s=1.719316,
            allreduce_s=0.039e-3,
            local_batch=1024,
            n_params=scaling.n_parameters([2048, 2048, 2048, 10]),
        ),
    ]
    table = scaling.model_table(rows, cores_per_machine=16)
    # docs/distributed.rst, 16 cores per machine, 10 GbE, P = 64
    assert "56.2 / 66% / 42.0x" in table
