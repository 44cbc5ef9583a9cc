"""fnn_numba._model_file.read_model_file: what Network.save writes reads
back exactly, and every file that is not a sound model is refused with one
ValueError naming the file, never with advice to unpickle it."""

import json
import zipfile

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba._model_file import FORMAT_NAME, FORMAT_VERSION, read_model_file


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained model (so that it carries an optimizer state) and its file."""
    rng = np.random.default_rng(0)
    net = fnn.Network([3, 4, 2], ["relu", "softmax"], "categorical_cross_entropy", seed=1)
    net.fit(
        rng.standard_normal((3, 8)),
        rng.integers(0, 2, 8),
        epochs=1,
        batch_size=4,
        learning_rate=0.1,
        optimizer="adam",
    )
    path = tmp_path_factory.mktemp("model") / "net.npz"
    net.save(path)
    return net, path


def _archive(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _rewrite(path, arrays, **meta_changes):
    """A copy of a saved model with its arrays and header edited."""
    arrays = dict(arrays)
    meta = json.loads(arrays["metadata"].tobytes().decode())
    for key, value in meta_changes.items():
        if value is _DROP:
            meta.pop(key)
        else:
            meta[key] = value
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


_DROP = object()


def test_reads_what_network_save_writes(saved):
    net, path = saved
    contents = read_model_file(path)
    meta = contents["metadata"]
    assert meta["format"] == FORMAT_NAME and meta["version"] == FORMAT_VERSION
    assert meta["sizes"] == net.sizes and meta["activations"] == net.activations
    assert meta["cost"] == net.cost_name and meta["dtype"] == np.dtype(net.dtype).name
    # the flat vector [W1, b1, W2, b2], W[l] row by row
    flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in zip(net.weights, net.biases)])
    np.testing.assert_array_equal(contents["params"], flat)
    assert contents["params"].dtype == net.dtype
    opt = contents["optimizer"]
    assert opt["name"] == "adam" and opt["steps"].tolist() == [2]
    assert opt["velocity"].shape == opt["second"].shape == contents["params"].shape


def test_untrained_model_has_no_optimizer_state(tmp_path):
    net = fnn.Network([2, 1], ["sigmoid"], "binary_cross_entropy", seed=0)
    net.save(tmp_path / "fresh.npz")
    assert read_model_file(tmp_path / "fresh.npz")["optimizer"] is None


NOT_A_MODEL = r"path: .* is not an fnn_numba model file \("


@pytest.mark.parametrize(
    "content, reason",
    [
        (
            b"# fnn_numba\n\nA README, not a model.\n",
            "a model is a .npz archive, and this file is not one",
        ),
        (b"", "a model is a .npz archive, and this file is not one"),
        (b"PK\x03\x04 and then nothing", "a damaged or truncated .npz archive"),
    ],
)
def test_files_that_are_not_archives(tmp_path, content, reason):
    path = tmp_path / "README.md"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=NOT_A_MODEL + reason) as info:
        read_model_file(path)
    assert "pickle" not in str(info.value)


def test_other_numpy_files(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    with pytest.raises(ValueError, match=NOT_A_MODEL + r"a single NumPy array \(\.npy\)"):
        read_model_file(tmp_path / "a.npy")
    np.savez(tmp_path / "data.npz", X=np.zeros((2, 3)), y=np.zeros(2))
    with pytest.raises(
        ValueError,
        match=NOT_A_MODEL + "a .npz archive without the arrays 'metadata' "
        "and 'params' of a model; it holds 'X', 'y'",
    ):
        read_model_file(tmp_path / "data.npz")
    np.savez(
        tmp_path / "objects.npz", metadata=np.array([{"a": 1}], dtype=object), params=np.zeros(2)
    )
    with pytest.raises(
        ValueError, match=NOT_A_MODEL + "a .npz archive with an array of Python objects"
    ) as info:
        read_model_file(tmp_path / "objects.npz")
    assert "pickle" not in str(info.value)
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(ValueError, match=NOT_A_MODEL + ".*it holds nothing"):
        read_model_file(tmp_path / "empty.npz")


def test_headers_of_another_format_or_version(saved, tmp_path):
    arrays = _archive(saved[1])
    with pytest.raises(
        ValueError,
        match=NOT_A_MODEL + "its header names the format "
        "'fnn_numba.Checkpoint', not 'fnn_numba.Network'",
    ):
        read_model_file(_rewrite(tmp_path / "a.npz", arrays, format="fnn_numba.Checkpoint"))
    with pytest.raises(ValueError, match=r"has format version 99; this fnn_numba reads version 1"):
        read_model_file(_rewrite(tmp_path / "b.npz", arrays, version=99))
    arrays["metadata"] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(ValueError, match=NOT_A_MODEL + "its 'metadata' is not JSON text"):
        read_model_file(tmp_path / "c.npz")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_parameters_holding_nan_or_inf_are_refused(saved, tmp_path, value):
    arrays = _archive(saved[1])
    arrays["params"] = arrays["params"].copy()
    arrays["params"][5] = value
    arrays["params"][7] = value
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"is a damaged fnn_numba model file: 2 of its 26 parameters "
        r"are NaN or inf \(the first at index 5\)",
    ):
        read_model_file(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "edit, message",
    [
        (dict(meta=dict(sizes=_DROP)), "its header lacks sizes"),
        (dict(meta=dict(dtype="int8")), "its header gives the dtype 'int8'"),
        (
            dict(meta=dict(epochs_trained=-1)),
            "its header gives epochs_trained -1, expected a non-negative integer",
        ),
        (
            dict(params=np.zeros((2, 13), np.float32)),
            r"'params' is a float32 array of shape \(2, 13\)",
        ),
        (
            dict(params=np.zeros(26, np.float32)),
            r"'params' is a float32 array .* expected a 1-D float64",
        ),
        (
            dict(optimizer_velocity=np.zeros(3, np.float32)),
            r"optimizer_velocity is a float32 array of shape \(3,\)",
        ),
        (
            dict(optimizer_second=np.full(26, np.nan, np.float32)),
            "optimizer_second holds NaN or inf",
        ),
        (
            dict(optimizer_steps=np.array([-1])),
            "optimizer_steps is .*; expected one non-negative integer",
        ),
        (dict(drop="optimizer_steps"), "the adam optimizer's state lacks optimizer_steps"),
        (
            dict(meta=dict(optimizer=_DROP)),
            "it holds optimizer_velocity, optimizer_second, optimizer_steps but names no optimizer",
        ),
    ],
)
def test_damaged_models_say_what_is_wrong(saved, tmp_path, edit, message):
    arrays, edit = _archive(saved[1]), dict(edit)
    meta = edit.pop("meta", {})
    if "drop" in edit:
        arrays.pop(edit.pop("drop"))
    arrays.update(edit)
    with pytest.raises(
        ValueError, match=r"path: .*bad\.npz is a damaged fnn_numba model file: " + message
    ):
        read_model_file(_rewrite(tmp_path / "bad.npz", arrays, **meta))


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="path: no such file: .*nothing.npz"):
        read_model_file(tmp_path / "nothing.npz")
    with pytest.raises(IsADirectoryError, match="path: expected a file, got the directory"):
        read_model_file(tmp_path)
    with pytest.raises(TypeError, match="path: expected a file path, got 3"):
        read_model_file(3)


def test_truncated_model(saved, tmp_path):
    path = tmp_path / "truncated.npz"
    path.write_bytes(saved[1].read_bytes()[:100])
    with pytest.raises(ValueError, match=NOT_A_MODEL + "a damaged or truncated .npz archive"):
        read_model_file(path)
