"""The fnn-numba command line, run in-process through main() and once as
``python -m fnn_numba`` in a subprocess."""

import gzip
import importlib.util
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba import cli, datasets
from fnn_numba.cli import main

FAST = ["--epochs", "2", "--hidden", "8", "--batch-size", "16"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert re.search(fragment, lines[0]), (fragment, lines[0])


# ------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ["train", "predict", "info"])
def test_help_of_each_command(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: fnn-numba {command}")


def test_top_level_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("train", "predict", "info", "crosscheck"):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"fnn-numba {fnn.__version__}"
    code, _, err = run(capsys)
    assert_one_line_error(code, err, "the following arguments are required: COMMAND")


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["train", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
        (["train", "--epochs", "0"], ["--epochs", "expected a positive integer, got '0'"]),
        (["train", "--epochs", "many"], ["--epochs", "expected a positive integer, got 'many'"]),
        (
            ["train", "--learning-rate", "-1"],
            ["--learning-rate", r"expected a number in \(0, inf\)"],
        ),
        (["train", "--test-fraction", "1"], ["--test-fraction", r"expected a number in \[0, 1\)"]),
        (["train", "mnist"], ["invalid choice: 'mnist'"]),
        (["train", "--dataset", "mnist"], ["invalid choice: 'mnist'"]),
        (["train", "--dtype", "float16"], ["invalid choice: 'float16'"]),
        (["train", "--activation", "swish"], ["invalid choice: 'swish'"]),
        (["train", "--optimizer", "lbfgs"], ["invalid choice: 'lbfgs'"]),
        (
            ["train", "--data", "no-such-file.npz"],
            [r"fnn-numba train: error: path: no such file: no-such-file\.npz"],
        ),
        (["train", "--data", "no-such-file.json"], ["--data: expected a .npz or .csv file"]),
        (["train", "--images", "a-file"], ["--images/--labels: IDX data need both files"]),
        (["train", "iris", "--dataset", "wine"], ["given twice"]),
        (["train", "iris", "--data", "x.npz"], ["either a bundled data set or a file"]),
        (
            ["train", "iris", "--hidden", "4", "4", "--activation", "relu", "tanh", "relu", "relu"],
            ["--activation: expected 1, 2 .* or 3"],
        ),
        (["predict", "no-model.npz", "iris"], ["MODEL: no such file: no-model.npz"]),
        (["info", "no-model.npz"], ["MODEL: no such file: no-model.npz"]),
        (["info"], ["the following arguments are required: MODEL"]),
        (["evaluate"], ["invalid choice: 'evaluate'"]),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(capsys, argv, fragments):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)


def test_info_on_a_file_that_is_not_a_model(capsys, tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.ones((2, 2)))
    code, _, err = run(capsys, "info", path)
    assert_one_line_error(code, err, "MODEL: .*data.npz is not an fnn_numba model file")


@pytest.mark.parametrize("command", [["info"], ["predict", "--outputs"]])
def test_a_text_file_is_not_a_model_and_no_unsafe_load_is_suggested(capsys, tmp_path, command):
    readme = tmp_path / "README.md"
    readme.write_text("# fnn_numba\n\nNot a model.\n")
    argv = [command[0], readme] + (["iris"] if command[0] == "predict" else []) + command[1:]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(
        code,
        err,
        r"MODEL: .*README.md is not an fnn_numba model file \(a model "
        r"is a .npz archive, and this file is not one\)",
    )
    assert "pickle" not in err


def test_a_model_holding_nan_is_refused(capsys, tmp_path):
    model = tmp_path / "m.npz"
    fnn.Network([4, 3], ["softmax"], "categorical_cross_entropy", seed=0).save(model)
    with np.load(model) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["params"][2] = np.nan
    np.savez(model, **arrays)
    code, _, err = run(capsys, "info", model)
    assert_one_line_error(
        code,
        err,
        r"MODEL: .*m.npz is a damaged fnn_numba model file: 1 of its 15 "
        r"parameters are NaN or inf \(the first at index 2\)",
    )


def test_cross_entropy_on_real_targets_is_refused(capsys, tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text("".join(f"{i},{i * 0.5}\n" for i in range(8)))
    code, _, err = run(capsys, "train", "--data", path, "--cost", "bce", *FAST)
    assert_one_line_error(code, err, "--cost: binary_cross_entropy needs integer class labels")


# ----------------------------------------------------------- train, info
def test_train_prints_every_epoch_and_the_test_accuracy(capsys):
    code, out, err = run(capsys, "train", "--dataset", "iris", *FAST, "--learning-rate", "0.5")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("iris: 112 training and 38 test examples; Network(sizes=[4, 8, 3]")
    epochs = [line for line in lines if line.startswith("epoch")]
    assert len(epochs) == 2 and "cost" in epochs[0] and "val_accuracy" in epochs[1]
    accuracy = float(re.search(r"^test accuracy (\S+) after 2 epochs", lines[-1]).group(1))
    assert 0 <= accuracy <= 1


def test_train_says_whether_its_time_includes_compiling(capsys):
    # The first run may compile (a cold cache) or load from Numba's cache;
    # the second, in the same process, compiles nothing and must say so.
    argv = ["train", "iris", "--epochs", "1", "--hidden", "8", "--batch-size", "16"]
    for _ in range(2):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
    last = out.splitlines()[-1]
    assert re.fullmatch(
        r"test accuracy \S+ after 1 epoch in \S+ s \(no JIT compilation: the "
        r"compiled kernels were cached\)",
        last,
    ), last


def test_compile_watch_counts_what_numba_really_compiles():
    from numba import njit

    from fnn_numba.cli import _compile_watch, _timing

    @njit
    def double(x):
        return 2 * x

    with _compile_watch() as cold:
        double(1.0)
    assert cold.compiled == 1 and cold.seconds > 0
    with _compile_watch() as warm:
        double(2.0)  # the same signature: already compiled
    assert warm.compiled == 0 and warm.seconds == 0
    assert re.fullmatch(
        r"after 3 epochs in 2.50 s, \d+\.\d\d s of it JIT-compiling 1 function \(a "
        r"cold cache: later runs reuse them\)",
        _timing(3, 2.5, cold),
    )
    assert _timing(1, 0.5, warm) == (
        "after 1 epoch in 0.50 s (no JIT compilation: the compiled kernels were cached)"
    )


def test_compile_watch_counts_cuda_kernels_by_their_cache_misses(monkeypatch):
    # numba-cuda fires no compile event for a kernel: its dispatcher's cache
    # misses count instead (a real dispatcher under the simulator never
    # compiles, so a stand-in module holds one whose misses grow).
    from collections import Counter
    from types import ModuleType, SimpleNamespace

    from fnn_numba.cli import _compile_watch, _timing

    class CUDADispatcher:
        def __init__(self):
            self.stats = SimpleNamespace(cache_misses=Counter())

    kernel = CUDADispatcher()
    gpu = ModuleType("fnn_numba._stand_in_gpu")
    gpu.kernel = kernel
    monkeypatch.setitem(
        sys.modules, "numba.cuda.dispatcher", SimpleNamespace(CUDADispatcher=CUDADispatcher)
    )
    monkeypatch.setitem(sys.modules, gpu.__name__, gpu)
    with _compile_watch() as watch:
        kernel.stats.cache_misses["(float32[:],)"] += 1
    assert (watch.compiled, watch.cuda_compiled) == (1, 1)
    assert _timing(2, 1.0, watch) == (
        "after 2 epochs in 1.00 s, including JIT compilation of 1 "
        "function (a cold cache: later runs reuse them)"
    )


def test_output_path_is_checked_before_training(capsys, tmp_path):
    code, out, err = run(
        capsys, "train", "iris", *FAST, "--output", tmp_path / "no" / "such" / "x.npz"
    )
    assert_one_line_error(
        code, err, r"--output: cannot write .*x.npz: the directory .*such does not exist"
    )
    assert "epoch" not in out  # refused before training, not after
    code, out, err = run(capsys, "train", "iris", *FAST, "--output", tmp_path)
    assert_one_line_error(code, err, "--output: expected a file path, got the directory")
    assert "epoch" not in out


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root may write into a read-only directory",
)
def test_output_in_a_read_only_directory_is_refused(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, out, err = run(capsys, "train", "iris", *FAST, "--output", locked / "x.npz")
    finally:
        locked.chmod(0o700)
    assert_one_line_error(
        code, err, "--output: cannot write .*: the directory .*locked is not writable"
    )


def test_predict_on_an_unknown_name_lists_the_bundled_data_sets(capsys, tmp_path):
    model = tmp_path / "m.npz"
    fnn.Network([4, 3], ["softmax"], "categorical_cross_entropy", seed=0).save(model)
    code, _, err = run(capsys, "predict", model, "mnist")
    assert_one_line_error(
        code,
        err,
        "DATA: no such file or bundled data set: mnist "
        r"\(the bundled data sets: digits, iris, breast_cancer, wine, diabetes;",
    )


def test_optimizer_and_schedule_choices_come_from_the_library(capsys, monkeypatch):
    from fnn_numba import kernels, network
    from fnn_numba.cli import build_parser

    monkeypatch.setattr(kernels, "OPTIMIZERS", {**kernels.OPTIMIZERS, "lion": 99})
    monkeypatch.setattr(network, "SCHEDULES", network.SCHEDULES + ("cosine",))
    args = build_parser("train").parse_args(
        ["train", "--optimizer", "lion", "--lr-schedule", "cosine"]
    )
    assert (args.optimizer, args.lr_schedule) == ("lion", "cosine")


# Every bundled data set with the command line's defaults ends at a
# sensible test score: better than
# the majority class for the classifiers, better than the targets' mean
# (RMSE 72-82) for diabetes. Thresholds sit below the scores of seeds 0-9.
@pytest.mark.parametrize(
    "name, metric, passes",
    [
        ("digits", "accuracy", lambda v: v >= 0.9),
        ("iris", "accuracy", lambda v: v >= 0.85),
        ("breast_cancer", "accuracy", lambda v: v >= 0.9),
        ("wine", "accuracy", lambda v: v >= 0.9),
        ("diabetes", "RMSE", lambda v: v <= 65),
    ],
)
def test_defaults_give_a_sensible_score_on_every_bundled_data_set(capsys, name, metric, passes):
    code, out, err = run(capsys, "train", name)
    assert code == 0, err
    value = float(re.search(rf"^test {metric} (\S+) after", out, re.M).group(1))
    assert passes(value), out.splitlines()[-3:]


def test_help_gives_the_per_data_set_defaults(capsys):
    from fnn_numba.cli import TRAINING_DEFAULTS

    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--epochs EPOCHS default 30; 100 for iris" in text
    assert "--learning-rate LEARNING_RATE default 0.1; 0.001 for diabetes" in text
    assert TRAINING_DEFAULTS["iris"] == dict(epochs=100)


def test_given_options_override_the_per_data_set_defaults(capsys):
    code, out, err = run(capsys, "train", "iris", "--epochs", "2", "--hidden", "4")
    assert code == 0, err
    assert len([line for line in out.splitlines() if line.startswith("epoch")]) == 2


def test_default_batch_size_never_exceeds_the_training_examples(capsys, tmp_path, monkeypatch):
    from fnn_numba.network import Network

    seen = []
    fit = Network.fit

    def recording_fit(self, X, Y, **kwargs):
        seen.append((kwargs["batch_size"], X.shape[1]))
        return fit(self, X, Y, **kwargs)

    monkeypatch.setattr(Network, "fit", recording_fit)
    path = tmp_path / "tiny.csv"
    path.write_text("".join(f"{i % 3},{i % 2},{i % 2}\n" for i in range(12)))
    code, _, err = run(capsys, "train", "--data", path, "--epochs", "1", "--hidden", "2")
    assert code == 0, err
    code, _, err = run(
        capsys, "train", "--data", path, "--epochs", "1", "--hidden", "2", "--batch-size", "64"
    )
    assert code == 0, err
    assert seen == [(9, 9), (64, 9)]  # 12 examples less the 0.25 test split; a given size is kept


def test_round_trip_train_save_info_predict(capsys, tmp_path):
    model = tmp_path / "iris.npz"
    code, out, err = run(
        capsys, "train", "iris", *FAST, "--learning-rate", "0.5", "--seed", "4", "--output", model
    )
    assert code == 0, err
    assert out.splitlines()[-1] == f"model written to {model}"
    trained = float(re.search(r"test accuracy (\S+)", out).group(1))

    code, out, err = run(capsys, "info", model)
    assert code == 0, err
    assert "categorical_cross_entropy" in out and "float32" in out
    assert re.search(r"^\s*1\s+4 -> 8\s+relu\s+8 x 4 = 32\s+8\s+40$", out, re.M)
    assert re.search(r"^\s*2\s+8 -> 3\s+softmax\s+3 x 8 = 24\s+3\s+27$", out, re.M)
    assert "total: 67 parameters" in out

    # the bundled name means the test split, prepared as train prepared it
    code, out, err = run(capsys, "predict", model, "iris", "--seed", "4")
    assert code == 0, err
    predictions = [int(v) for v in out.split()]
    net = fnn.Network.load(model)
    _, _, X_test, y_test, _ = datasets.load("iris", seed=4, dtype=np.float32)
    assert predictions == net.predict(X_test).tolist()
    assert err.strip().splitlines()[-1] == f"accuracy {trained:.4f} on 38 examples"


def test_predict_writes_files_and_outputs(capsys, tmp_path):
    model = tmp_path / "m.npz"
    X, y = datasets.load_iris(dtype=np.float32)
    net = fnn.Network([4, 5, 3], ["tanh", "softmax"], "cce", dtype=np.float32, seed=0)
    net.save(model)
    data = tmp_path / "features.npz"
    np.savez(data, X=X.T, y=y)
    expected = net.predict(X)

    code, out, _ = run(capsys, "predict", model, data, "--output", tmp_path / "p.csv")
    assert code == 0 and out.strip() == f"150 predictions written to {tmp_path / 'p.csv'}"
    assert np.loadtxt(tmp_path / "p.csv", dtype=int).tolist() == expected.tolist()

    code, out, _ = run(
        capsys, "predict", model, data, "--y-key", "y", "--output", tmp_path / "p.npz"
    )
    assert code == 0 and re.search(r"^accuracy \S+ on 150 examples$", out, re.M)
    with np.load(tmp_path / "p.npz") as saved:
        assert saved["predictions"].tolist() == expected.tolist()

    code, out, _ = run(capsys, "predict", model, data, "--outputs")
    probabilities = np.array([[float(v) for v in line.split()] for line in out.splitlines()])
    assert code == 0 and probabilities.shape == (150, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(probabilities, net.forward(X).T, rtol=1e-6)

    code, _, err = run(capsys, "predict", model, tmp_path / "absent.csv")
    assert_one_line_error(code, err, "DATA: no such file or bundled data set")
    np.savez(tmp_path / "narrow.npz", X=X[:3].T)
    code, _, err = run(capsys, "predict", model, tmp_path / "narrow.npz")
    assert_one_line_error(code, err, "DATA: the examples have 3 features, the model takes 4")


def test_info_counts_parameters_layer_by_layer(capsys, tmp_path):
    # the 3-2-1 network of José Eduardo Ochoa Luna's lecture slides
    # "Backpropagation": layers of 3, 2 and 1 nodes on n inputs hold
    # 3n + 3, 2 x 3 + 2 and 2 + 1 parameters, 3n + 14 in all
    n = 7
    model = tmp_path / "three_two_one.npz"
    fnn.Network([n, 3, 2, 1], ["relu", "relu", "sigmoid"], "bce", seed=0).save(model)
    code, out, _ = run(capsys, "info", model)
    assert code == 0
    per_layer = [
        int(line.split()[-1]) for line in out.splitlines() if re.match(r"^\s*\d+\s+\d+ ->", line)
    ]
    assert per_layer == [3 * n + 3, 2 * 3 + 2, 2 + 1]
    assert f"total: {3 * n + 14} parameters" in out


def write_idx(path, array, compress=False):
    array = np.asarray(array, dtype=np.uint8)
    data = (
        bytes([0, 0, 0x08, array.ndim])
        + b"".join(struct.pack(">I", s) for s in array.shape)
        + array.tobytes()
    )
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_train_on_idx_files(capsys, tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    # two classes told apart by the brightness of the image
    images = (rng.integers(0, 100, (60, 4, 4)) + 150 * labels[:, None, None]).astype(np.uint8)
    ip = write_idx(tmp_path / "train-images.gz", images, compress=True)
    lp = write_idx(tmp_path / "train-labels", labels)
    tip = write_idx(tmp_path / "test-images", images[:10])
    tlp = write_idx(tmp_path / "test-labels", labels[:10])
    model = tmp_path / "idx-model.npz"
    code, out, err = run(
        capsys,
        "train",
        "--images",
        ip,
        "--labels",
        lp,
        "--test-images",
        tip,
        "--test-labels",
        tlp,
        *FAST,
        "--output",
        model,
    )
    assert code == 0, err
    assert out.startswith(
        "train-images.gz: 60 training and 10 test examples; Network(sizes=[16, 8, 2]"
    )
    code, out, err = run(capsys, "predict", model, tip, "--labels", tlp)
    assert code == 0 and len(out.split()) == 10 and err.startswith("accuracy ")
    short = write_idx(tmp_path / "short-labels", labels[:50])
    code, _, err = run(capsys, "train", "--images", ip, "--labels", short, *FAST)
    assert_one_line_error(
        code, err, "labels_path: .*short-labels holds 50 labels but images_path: .*holds 60 images"
    )
    bad = tmp_path / "bad-images"
    bad.write_bytes(b"\x00\x00\x08\x03\x00")
    code, _, err = run(capsys, "train", "--images", bad, "--labels", lp, *FAST)
    assert_one_line_error(code, err, "images_path: .*bad-images is truncated")


def test_train_on_csv_and_npz_files(capsys, tmp_path):
    X, y = datasets.load_iris()
    csv_path = tmp_path / "iris.csv"
    np.savetxt(
        csv_path,
        np.column_stack([y, X.T]),
        fmt=["%d"] + ["%.1f"] * 4,
        delimiter=",",
        header="species,a,b,c,d",
        comments="",
    )
    code, out, err = run(capsys, "train", "--data", csv_path, "--target-column", "species", *FAST)
    assert code == 0, err
    assert out.startswith("iris.csv: 112 training and 38 test examples; Network(sizes=[4, 8, 3]")
    assert "test accuracy" in out.splitlines()[-1]

    train_npz, test_npz = tmp_path / "tr.npz", tmp_path / "te.npz"
    np.savez(train_npz, features=X[:, :100], labels=y[:100])
    np.savez(test_npz, features=X[:, 100:], labels=y[100:])
    code, out, err = run(
        capsys,
        "train",
        "--data",
        train_npz,
        "--test-data",
        test_npz,
        "--x-key",
        "features",
        "--y-key",
        "labels",
        "--columns-are-examples",
        *FAST,
    )
    assert code == 0, err
    assert out.startswith("tr.npz: 100 training and 50 test examples")

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,0\n3,1\n")
    code, _, err = run(capsys, "train", "--data", ragged, *FAST)
    assert_one_line_error(code, err, "ragged.csv, line 2: 2 cells, expected 3")
    code, _, err = run(capsys, "train", "--data", train_npz, *FAST)
    assert_one_line_error(code, err, "has no array named 'X'")


def test_regression_reports_rmse(capsys):
    code, out, err = run(capsys, "train", "diabetes", *FAST, "--learning-rate", "0.001")
    assert code == 0, err
    assert "Network(sizes=[10, 8, 1], activations=['relu', 'identity'], cost='squared_error'" in out
    rmse = float(re.search(r"^test RMSE (\S+) after 2 epochs", out.splitlines()[-1]).group(1))
    assert 0 < rmse < 400


def test_binary_cross_entropy_with_two_classes_uses_one_output(capsys):
    code, out, err = run(
        capsys, "train", "breast_cancer", *FAST, "--cost", "bce", "--activation", "tanh"
    )
    assert code == 0, err
    assert (
        "Network(sizes=[30, 8, 1], activations=['tanh', 'sigmoid'], cost='binary_cross_entropy'"
        in out
    )
    assert "test accuracy" in out


def test_divergence_is_one_line_with_status_1(capsys):
    code, _, err = run(
        capsys, "train", "diabetes", *FAST, "--learning-rate", "1e30", "--init", "normal"
    )
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "diverged" in err


def epoch_costs(out):
    return [float(v) for v in re.findall(r"^epoch\s+\S+\s+cost (\S+)", out, re.M)]


def test_optimizer_options_reach_fit(capsys):
    base = ["train", "iris", *FAST, "--epochs", "3", "--seed", "2"]
    runs = {}
    for name, extra in [
        ("default", []),
        ("sgd", ["--optimizer", "sgd"]),
        ("adam", ["--optimizer", "adam", "--beta1", "0.8", "--learning-rate", "0.01"]),
        ("adam2", ["--optimizer", "adam", "--beta1", "0.5", "--learning-rate", "0.01"]),
        ("decay", ["--lr-schedule", "exponential", "--gamma", "0.1"]),
        ("clipped", ["--clip-norm", "1e-3"]),
        ("momentum", ["--optimizer", "momentum", "--momentum", "0.5"]),
    ]:
        code, out, err = run(capsys, *base, *extra)
        assert code == 0, err
        runs[name] = epoch_costs(out)
        assert len(runs[name]) == 3
    # sgd is fit's default; every other option changes the trajectory
    assert runs["sgd"] == runs["default"]
    assert runs["adam"] != runs["adam2"]
    for name in ("adam", "decay", "clipped", "momentum"):
        assert runs[name][1:] != runs["default"][1:], name


def test_early_stopping_keeps_the_test_examples_out(capsys):
    code, out, err = run(
        capsys,
        "train",
        "iris",
        "--hidden",
        "8",
        "--epochs",
        "200",
        "--early-stopping",
        "--patience",
        "1",
        "--min-delta",
        "100",
        "--validation-fraction",
        "0.25",
    )
    assert code == 0, err
    # no decrease of the cost reaches min_delta = 100: stop after patience + 1 epochs
    assert len(epoch_costs(out)) == 2
    assert re.search(r"^test accuracy \S+ after 2 epochs", out, re.M)


def test_progress_bar_on_request(capsys):
    code, _, err = run(capsys, "train", "iris", *FAST, "--progress")
    if importlib.util.find_spec("tqdm") is None:
        assert code == 1 and "tqdm" in err and len(err.strip().splitlines()) == 1
    else:
        assert code == 0 and "2/2" in err
    code, _, err = run(capsys, "train", "iris", *FAST, "--no-progress")
    assert code == 0 and "2/2" not in err


def test_device_option(capsys):
    from numba import cuda

    code, out, err = run(capsys, "train", "iris", *FAST, "--device", "cuda")
    if cuda.is_available():
        assert code == 0 and "test accuracy" in out, err
    else:
        assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert "'cuda' is unavailable" in err
    code, out, err = run(capsys, "train", "iris", *FAST, "--device", "cpu")
    assert code == 0, err


@pytest.mark.parametrize(
    "command, argv, expected",
    [
        (
            "crosscheck",
            ["--sizes", "3", "4", "2", "--cost", "cce", "-m", "3", "--no-symbolic"],
            "all passed",
        ),
    ],
)
def test_delegated_commands(capsys, command, argv, expected):
    module = cli.DELEGATED[command][0]
    if importlib.util.find_spec(module) is None:
        # listed and refused cleanly until the module exists
        code, _, err = run(capsys, command)
        assert_one_line_error(code, err, f"this installation has no {module} module")
        return
    code, out, err = run(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: fnn-numba {command}"), err
    code, out, err = run(capsys, command, *argv)
    assert code == 0, err
    assert expected in out
    code, _, err = run(capsys, command, "--no-such-option")
    assert_one_line_error(code, err, "unrecognized arguments: --no-such-option")


def test_a_delegated_module_that_is_missing_is_refused_cleanly(capsys, monkeypatch):
    monkeypatch.setitem(cli.DELEGATED, "future", ("fnn_numba.future_module", "a command to come"))
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "future" in out and "a command to come" in out
    code, _, err = run(capsys, "future", "--any", "options")
    assert_one_line_error(
        code,
        err,
        "fnn-numba future: error: this installation has no fnn_numba.future_module module",
    )


# ------------------------------------------------------------- subprocess
def test_python_dash_m_runs_the_command_line(tmp_path):
    model = tmp_path / "m.npz"
    fnn.Network([3, 2], ["softmax"], "cce", seed=0).save(model)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(fnn.__file__)), env.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, "-m", "fnn_numba", "info", str(model)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "total: 8 parameters" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "fnn_numba", "train", "--epochs", "-3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip()
        == "fnn-numba train: error: argument --epochs: expected a positive integer, got '-3'"
    )
