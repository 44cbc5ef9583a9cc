"""fnn_numba.datasets: bundled data sets, IDX/npz/csv readers on real files
written here, one_hot, standardize, split, and every malformed-file error."""

import gzip
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnn_numba import datasets

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(datasets.__file__)))

# IDX type code -> the big-endian type its elements are written in
CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(array, code):
    """An IDX file's bytes, written from the format's definition (not by the
    reader under test): magic 0, 0, code, ndim; big-endian sizes; data."""
    array = np.asarray(array)
    head = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return head + array.astype(CODES[code]).tobytes(order="C")


def write(path, data):
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- bundled
@pytest.mark.parametrize(
    "name, n_features, m, n_classes",
    [
        ("digits", 64, 1797, 10),
        ("iris", 4, 150, 3),
        ("breast_cancer", 30, 569, 2),
        ("wine", 13, 178, 3),
    ],
)
def test_bundled_classification_sets_in_library_layout(name, n_features, m, n_classes):
    X, y = datasets.load_bundled(name, dtype=np.float32)
    assert X.shape == (n_features, m) and X.dtype == np.float32 and X.flags.f_contiguous
    assert y.shape == (m,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(n_classes))
    from sklearn import datasets as sklearn_datasets

    np.testing.assert_array_equal(
        X, getattr(sklearn_datasets, f"load_{name}")().data.T.astype(np.float32)
    )
    X2, y2 = getattr(datasets, f"load_{name}")()
    assert X2.dtype == np.float64 and np.array_equal(y2, y)


def test_diabetes_is_regression_with_real_targets():
    X, y = datasets.load_diabetes(dtype=np.float32)
    assert X.shape == (10, 442) and X.flags.f_contiguous
    assert y.dtype == np.float32 and y.shape == (442,) and 25 <= y.min() < y.max() <= 346
    Xtr, ytr, Xte, yte, n_classes = datasets.load("diabetes", seed=1)
    assert n_classes is None and ytr.dtype == np.float64 and Xtr.shape[1] + Xte.shape[1] == 442


@pytest.mark.parametrize("name", datasets.LOADERS)
def test_bundled_values_are_scikit_learns(name, monkeypatch):
    """Read from scikit-learn's data files directly, and (when those cannot
    be read) through scikit-learn's loader: the same values either way."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = getattr(sklearn_datasets, f"load_{name}")()
    X, y = datasets.load_bundled(name)
    np.testing.assert_array_equal(X, bunch.data.T)
    np.testing.assert_array_equal(y, bunch.target)
    for directory in (None, "/nonexistent"):
        monkeypatch.setattr(datasets, "_sklearn_data_dir", lambda directory=directory: directory)
        X2, y2 = datasets.load_bundled(name)
        np.testing.assert_array_equal(X2, X)
        np.testing.assert_array_equal(y2, y)


def test_loading_a_bundled_set_does_not_import_scikit_learn():
    # Importing scikit-learn takes seconds, most of a warm command line's run.
    code = (
        "import sys; from fnn_numba import datasets; datasets.load('digits'); "
        "datasets.load('diabetes'); print('sklearn' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_load_keeps_its_split_and_scaling():
    Xtr, ytr, Xte, yte, k = datasets.load("iris", test_fraction=0.2, seed=3, dtype=np.float32)
    assert k == 3 and Xtr.shape == (4, 120) and Xte.shape == (4, 30) and ytr.shape == (120,)
    assert Xtr.dtype == np.float32 and Xtr.flags.f_contiguous and Xte.flags.f_contiguous
    # min-max scaled by the training split's range
    np.testing.assert_allclose(Xtr.min(axis=1), 0, atol=1e-7)
    np.testing.assert_allclose(Xtr.max(axis=1), 1, atol=1e-6)
    X, y = datasets.load_iris()
    raw_tr, raw_ytr, raw_te, raw_yte = datasets.split(X, y, test_fraction=0.2, seed=3)
    lo, hi = raw_tr.min(axis=1, keepdims=True), raw_tr.max(axis=1, keepdims=True)
    np.testing.assert_allclose(Xtr, (raw_tr - lo) / (hi - lo), rtol=1e-6)
    np.testing.assert_allclose(Xte, (raw_te - lo) / (hi - lo), rtol=1e-6)
    assert np.array_equal(ytr, raw_ytr) and np.array_equal(yte, raw_yte)
    assert sorted(np.concatenate([ytr, yte])) == sorted(y)
    again = datasets.load("iris", test_fraction=0.2, seed=3, dtype=np.float32)
    assert np.array_equal(again[0], Xtr) and np.array_equal(again[3], yte)


def test_unknown_bundled_name_and_bad_dtype():
    with pytest.raises(ValueError, match=r"name: expected one of digits.*got 'mnist'"):
        datasets.load("mnist")
    with pytest.raises(ValueError, match="name: expected one of"):
        datasets.load_bundled("boston")
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got int32"):
        datasets.load_bundled("iris", dtype=np.int32)


# ----------------------------------------------------------- preprocessing
def test_split_partitions_the_columns():
    X = np.arange(20.0).reshape(2, 10)
    y = np.arange(10)
    Xtr, ytr, Xte, yte = datasets.split(X, y, test_fraction=0.3, seed=5)
    assert Xtr.shape == (2, 7) and Xte.shape == (2, 3) and Xtr.flags.f_contiguous
    assert sorted(np.concatenate([ytr, yte])) == list(range(10))
    np.testing.assert_array_equal(Xtr[0], ytr)  # columns travel with their targets
    Y2 = np.vstack([y, -y])
    _, Ytr2, _, _ = datasets.split(X, Y2, test_fraction=0.3, seed=5)
    np.testing.assert_array_equal(Ytr2, np.vstack([ytr, -ytr]))
    with pytest.raises(ValueError, match=r"test_fraction: expected a number in \[0, 1\), got 1"):
        datasets.split(X, y, test_fraction=1)
    with pytest.raises(ValueError, match=r"y: expected shape \(10,\)"):
        datasets.split(X, y[:9])


def test_one_hot():
    Y = datasets.one_hot([2, 0, 1, 2], dtype=np.float32)
    assert Y.dtype == np.float32 and Y.flags.f_contiguous
    np.testing.assert_array_equal(Y, [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    assert datasets.one_hot(np.array([1.0, 0.0]), n_classes=4).shape == (4, 2)
    with pytest.raises(
        ValueError, match=r"labels: class labels must lie in \[0, 3\), got values in \[0, 3\]"
    ):
        datasets.one_hot([0, 3], n_classes=3)
    with pytest.raises(ValueError, match="labels: class labels must lie in"):
        datasets.one_hot([-1, 0])
    with pytest.raises(ValueError, match="non-integer"):
        datasets.one_hot([0.5, 1.0])
    with pytest.raises(
        ValueError, match=r"labels: expected a 1-D array of m labels, got shape \(2, 1\)"
    ):
        datasets.one_hot([[0], [1]])
    with pytest.raises(TypeError, match="labels: expected integer class labels, got dtype bool"):
        datasets.one_hot([True, False])
    with pytest.raises(ValueError, match="n_classes: expected a positive integer, got 0"):
        datasets.one_hot([0], n_classes=0)
    with pytest.raises(ValueError, match="n_classes: cannot be inferred"):
        datasets.one_hot([])


def test_standardize_uses_the_training_statistics_everywhere(rng):
    X_train = rng.normal(5, 3, (4, 50))
    X_train[2] = 7.0  # a constant feature
    X_test = rng.normal(5, 3, (4, 20))
    S_train, S_test, (mean, std) = datasets.standardize(X_train, X_test)
    assert mean.shape == (4, 1) and std.shape == (4, 1) and S_train.flags.f_contiguous
    np.testing.assert_allclose(S_train[[0, 1, 3]].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(S_train[[0, 1, 3]].std(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(S_train[2], 0)
    assert std[2, 0] == 1
    np.testing.assert_allclose(
        S_test,
        (X_test - X_train.mean(axis=1, keepdims=True))
        / np.where(X_train.std(axis=1, keepdims=True) == 0, 1, X_train.std(axis=1, keepdims=True)),
    )
    np.testing.assert_allclose((X_test - mean) / std, S_test)


def test_standardize_rows_are_examples_and_float32_stays():
    X = np.array([[1, 10], [3, 10], [5, 10]], dtype=np.float32)
    S, (mean, std) = datasets.standardize(X, axis=0)
    assert S.dtype == np.float32 and mean.shape == (1, 2)
    np.testing.assert_allclose(S[:, 0], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    S_int, (mean_int, _) = datasets.standardize(np.array([[1, 3]]))
    assert S_int.dtype == np.float64 and mean_int[0, 0] == 2


def test_standardize_errors():
    with pytest.raises(
        ValueError, match=r"X_other\[0\]: expected 2 features along axis 0 like X_train"
    ):
        datasets.standardize(np.ones((2, 5)), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"X_train: expected a 2-D array, got shape \(5,\)"):
        datasets.standardize(np.ones(5))
    with pytest.raises(ValueError, match="axis: expected 1"):
        datasets.standardize(np.ones((2, 5)), axis=2)
    with pytest.raises(ValueError, match="X_train: contains NaN"):
        datasets.standardize(np.array([[np.nan, 1.0]]))
    with pytest.raises(TypeError, match="X_train: expected a real numeric array, got dtype <U1"):
        datasets.standardize(np.array([["a", "b"]]))


# -------------------------------------------------------------------- IDX
@pytest.mark.parametrize("code", sorted(CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, code, compress):
    rng = np.random.default_rng(code)
    array = rng.integers(-100 if code != 0x08 else 0, 100, (5, 3, 4)).astype(CODES[code])
    if code in (0x0D, 0x0E):
        array = rng.standard_normal((5, 3, 4)).astype(CODES[code])
    data = idx_bytes(array, code)
    path = write(
        tmp_path / ("a.idx.gz" if compress else "a.idx"), gzip.compress(data) if compress else data
    )
    out = datasets.read_idx(path)
    assert out.shape == (5, 3, 4) and out.dtype == np.dtype(CODES[code]).newbyteorder("=")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4), code=st.sampled_from(sorted(CODES))
)
def test_read_idx_any_shape(tmp_path_factory, shape, code):
    array = (np.arange(int(np.prod(shape))) % 100).reshape(shape).astype(CODES[code])
    path = write(tmp_path_factory.mktemp("idx") / "x", idx_bytes(array, code))
    np.testing.assert_array_equal(datasets.read_idx(path), array)
    assert datasets.read_idx(path).shape == tuple(shape)


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = write(tmp_path / "images-idx2-ubyte", gzip.compress(idx_bytes(array, 0x08)))
    np.testing.assert_array_equal(datasets.read_idx(path), array)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda d: d[:3], "is truncated: 3 bytes, shorter than the 4-byte IDX magic number"),
        (lambda d: d[:9], "is truncated: 9 bytes, shorter than the 16-byte header"),
        (
            lambda d: d[:-1],
            r"is truncated: its header declares shape \(2, 3, 2\) of uint8 \(28 bytes in all\), "
            "the file has 27 bytes",
        ),
        (lambda d: d + b"\0\0", r"has 2 bytes after the data its header declares"),
        (lambda d: b"\x08\x03" + d[2:], "is not an IDX file: its magic number 0x0803"),
        (lambda d: d[:2] + b"\x0a" + d[3:], "unknown IDX type code 0x0A"),
        (lambda d: d[:3] + b"\x00", "declares 0 dimensions"),
        (lambda d: b"", "is truncated: 0 bytes"),
    ],
)
def test_malformed_idx(tmp_path, mangle, message):
    data = mangle(idx_bytes(np.zeros((2, 3, 2), dtype=np.uint8), 0x08))
    path = write(tmp_path / "bad.idx", data)
    with pytest.raises(ValueError, match=rf"path: {re.escape(str(path))}.*{message}"):
        datasets.read_idx(path)


def test_truncated_gzip_idx(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(600).astype(np.uint8), 0x08))
    path = write(tmp_path / "cut.idx.gz", data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=rf"path: {re.escape(str(path))} is a damaged or truncated gzip file"
    ):
        datasets.read_idx(path)


def test_missing_idx_names_the_path(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=rf"path: no such file: {re.escape(str(tmp_path / 'nope.idx'))}"
    ):
        datasets.read_idx(tmp_path / "nope.idx")


def mnist_like(tmp_path, m=7, labels=None, compress=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (m, 3, 2)).astype(np.uint8)
    labels = rng.integers(0, 10, m) if labels is None else labels
    pack = gzip.compress if compress else bytes
    ip = write(tmp_path / "images.gz", pack(idx_bytes(images, 0x08)))
    lp = write(tmp_path / "labels.gz", pack(idx_bytes(np.asarray(labels), 0x08)))
    return images, np.asarray(labels), ip, lp


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_pair(tmp_path, compress):
    images, labels, ip, lp = mnist_like(tmp_path, compress=compress)
    X, y = datasets.load_idx_pair(ip, lp, dtype=np.float32)
    assert X.shape == (6, 7) and X.dtype == np.float32 and X.flags.f_contiguous
    assert y.dtype == np.int64 and np.array_equal(y, labels)
    # column i is image i flattened row by row, scaled to [0, 1]
    np.testing.assert_allclose(X[:, 4], images[4].ravel() / 255, rtol=1e-6)
    raw, _ = datasets.load_idx_pair(ip, lp, scale=False)
    np.testing.assert_array_equal(raw[:, 4], images[4].ravel())
    np.testing.assert_array_equal(datasets.load_idx_images(ip, dtype=np.float32), X)


def test_idx_pair_label_count_must_match(tmp_path):
    _, _, ip, _ = mnist_like(tmp_path)
    lp = write(tmp_path / "few-labels", idx_bytes(np.arange(5, dtype=np.uint8), 0x08))
    with pytest.raises(
        ValueError,
        match=rf"labels_path: {re.escape(str(lp))} holds 5 labels but images_path: {re.escape(str(ip))} "
        "holds 7 images",
    ):
        datasets.load_idx_pair(ip, lp)


def test_idx_pair_malformed_labels(tmp_path):
    _, _, ip, _ = mnist_like(tmp_path)
    two_d = write(tmp_path / "l2", idx_bytes(np.zeros((7, 2), dtype=np.uint8), 0x08))
    with pytest.raises(ValueError, match=r"labels_path: .*l2 holds an array of shape \(7, 2\)"):
        datasets.load_idx_pair(ip, two_d)
    floats = write(tmp_path / "lf", idx_bytes(np.zeros(7), 0x0D))
    with pytest.raises(
        ValueError, match=r"labels_path: .*lf holds float32 values, expected integer"
    ):
        datasets.load_idx_pair(ip, floats)
    with pytest.raises(FileNotFoundError, match=r"labels_path: no such file: .*missing"):
        datasets.load_idx_pair(ip, tmp_path / "missing")
    with pytest.raises(ValueError, match=r"images_path: .*bad is truncated"):
        datasets.load_idx_pair(write(tmp_path / "bad", b"\0\0\x08"), two_d)


# -------------------------------------------------------------------- npz
def test_load_npz_samples_by_features(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((9, 4))
    y = rng.integers(0, 3, 9).astype(np.int32)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    Xc, yc = datasets.load_npz(tmp_path / "d.npz", dtype=np.float32)
    assert Xc.shape == (4, 9) and Xc.flags.f_contiguous and Xc.dtype == np.float32
    np.testing.assert_allclose(Xc, X.T, rtol=1e-6)
    assert yc.dtype == np.int64 and np.array_equal(yc, y)


def test_load_npz_other_layouts_and_keys(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 255, (5, 2, 3)).astype(np.uint8)
    targets = rng.standard_normal((5, 2))
    np.savez(tmp_path / "img.npz", pixels=images, t=targets)
    X, Y = datasets.load_npz(tmp_path / "img.npz", x_key="pixels", y_key="t")
    assert X.shape == (6, 5) and np.array_equal(X[:, 3], images[3].ravel())
    assert Y.shape == (2, 5) and Y.dtype == np.float64 and np.array_equal(Y, targets.T)
    np.savez(tmp_path / "cols.npz", X=X, y=np.arange(5))
    X2, y2 = datasets.load_npz(tmp_path / "cols.npz", samples_by_features=False)
    assert np.array_equal(X2, X) and X2.flags.f_contiguous and np.array_equal(y2, np.arange(5))
    X3, none = datasets.load_npz(tmp_path / "cols.npz", y_key=None)
    assert none is None and X3.shape == (5, 6)


def test_load_npz_malformed(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((4, 2)), labels=np.zeros(4, dtype=int))
    with pytest.raises(
        ValueError,
        match=rf"path: {re.escape(str(path))} has no array named 'y' \(it holds 'X', 'labels'\)",
    ):
        datasets.load_npz(path)
    with pytest.raises(
        ValueError, match=rf"path: {re.escape(str(path))} has no array named 'features'"
    ):
        datasets.load_npz(path, x_key="features", y_key="labels")
    np.savez(path, X=np.ones((4, 2)), y=np.zeros(3))
    with pytest.raises(
        ValueError, match=rf"path: {re.escape(str(path))}: 'y' holds 3 examples but 'X' holds 4"
    ):
        datasets.load_npz(path)
    np.savez(path, X=np.array([["a", "b"]]), y=np.zeros(1))
    with pytest.raises(
        ValueError,
        match=rf"path: {re.escape(str(path))}: 'X' must be a real numeric array, got dtype <U1",
    ):
        datasets.load_npz(path)
    np.savez(path, X=np.array([[np.nan, 1.0]]), y=np.zeros(1))
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        datasets.load_npz(path)
    np.savez(path, X=np.ones((2, 3, 1)), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"'X' must have shape \(n_features, m\), got \(2, 3, 1\)"):
        datasets.load_npz(path, samples_by_features=False)
    text = write(tmp_path / "text.npz", b"X,y\n1,2\n")
    with pytest.raises(
        ValueError, match=rf"path: {re.escape(str(text))} is not a readable .npz archive"
    ):
        datasets.load_npz(text)
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="holds a single array"):
        datasets.load_npz(tmp_path / "single.npy")
    with pytest.raises(FileNotFoundError, match=r"path: no such file: .*absent.npz"):
        datasets.load_npz(tmp_path / "absent.npz")


# -------------------------------------------------------------------- csv
def test_load_csv_with_header_and_integer_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1.5,2,0\n\n3,4e-1,2\n-1,0,1\n")
    X, y = datasets.load_csv(path, dtype=np.float32)
    assert X.dtype == np.float32 and X.flags.f_contiguous
    np.testing.assert_allclose(X, [[1.5, 3, -1], [2, 0.4, 0]])
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]
    X2, y2 = datasets.load_csv(path, target_column="a")
    np.testing.assert_allclose(X2, [[2, 0.4, 0], [0, 2, 1]])
    assert y2.dtype == np.float64 and y2.tolist() == [1.5, 3, -1]
    X3, none = datasets.load_csv(path, target_column=None)
    assert X3.shape == (3, 3) and none is None


def test_load_csv_without_header_other_delimiter(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("7;1.0;2\n8;3.0;4\n")
    X, y = datasets.load_csv(path, target_column=0, delimiter=";")
    np.testing.assert_array_equal(X, [[1, 3], [2, 4]])
    assert y.tolist() == [7, 8] and y.dtype == np.int64
    # a real-valued target written as 7.0 stays real (regression)
    path.write_text("1;7.0\n2;8.5\n")
    assert datasets.load_csv(path, delimiter=";")[1].dtype == np.float64
    # header=True treats a numeric first row as names
    path.write_text("1,2\n3,4\n5,6\n")
    X4, y4 = datasets.load_csv(path, header=True)
    assert X4.tolist() == [[3, 5]] and y4.tolist() == [4, 6]


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("1,2,3\n4,5\n", {}, r"line 2: 2 cells, expected 3 like the first row \(ragged rows\)"),
        ("x,y\n1,2\n3,oops\n", {}, "line 3, column 2: 'oops' is not a number"),
        ("1,2\n3,\n", {}, "line 2, column 2: '' is not a number"),
        ("1,2\n3,nan\n", {}, "line 2, column 2: 'nan' is not a finite number"),
        ("", {}, "is empty"),
        ("\n\n", {}, "is empty"),
        ("a,b\n", {}, "has a header but no data rows"),
        ("1,2\n", {"target_column": 2}, r"target_column: expected an index in \[-2, 2\)"),
        (
            "a,b\n1,2\n",
            {"target_column": "c"},
            "target_column: .* has no column named 'c' "
            r"\(the header names 'a', 'b'\)",
        ),
        ("1\n2\n", {}, "has 1 column, which leaves no features"),
    ],
)
def test_load_csv_malformed(tmp_path, text, kwargs, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        datasets.load_csv(path, **kwargs)
    assert str(path) in str(info.value)


def test_load_csv_bad_arguments_and_missing_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2\n")
    with pytest.raises(ValueError, match="header: expected 'auto', True or False, got 'yes'"):
        datasets.load_csv(path, header="yes")
    with pytest.raises(ValueError, match="delimiter: expected one character, got ';;'"):
        datasets.load_csv(path, delimiter=";;")
    with pytest.raises(
        TypeError, match="target_column: expected an int, a column name or None, got 1.5"
    ):
        datasets.load_csv(path, target_column=1.5)
    with pytest.raises(
        FileNotFoundError, match=rf"path: no such file: {re.escape(str(tmp_path / 'gone.csv'))}"
    ):
        datasets.load_csv(tmp_path / "gone.csv")
    with pytest.raises(IsADirectoryError, match="path: expected a file, got the directory"):
        datasets.load_csv(tmp_path)
    binary = write(tmp_path / "bin.csv", b"\xff\xfe\x00\x01")
    with pytest.raises(
        ValueError, match=rf"path: {re.escape(str(binary))} is not a readable text file"
    ):
        datasets.load_csv(binary)
