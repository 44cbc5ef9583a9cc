"""Data in the library's layout: bundled data sets, user files, preprocessing.

Everything here returns X of shape (n_features, m), columns are examples,
Fortran-ordered so that each example is contiguous (what the network's
kernels read without a copy), and targets y of shape (m,) (integer class
labels or real values) or (k, m).

- Bundled data sets (scikit-learn ships them offline; an optional dependency:
  ``pip install "fnn-numba[data]"``): :func:`load_digits`, :func:`load_iris`,
  :func:`load_breast_cancer`, :func:`load_wine` (classification, int64
  labels) and :func:`load_diabetes` (regression, real targets), all through
  :func:`load_bundled`; :func:`load` adds a seeded train/test split and
  min-max scaling. They are read from the data files of the installed
  scikit-learn without importing it (which takes seconds), so that a warm
  command line starts fast; the values are those of scikit-learn's loaders.
- User files: :func:`read_idx`, :func:`load_idx_images` and
  :func:`load_idx_pair` (the MNIST IDX format, optionally gzip-compressed),
  :func:`load_npz`, :func:`load_csv`.
- Preprocessing: :func:`split`, :func:`one_hot`, :func:`standardize`.

A missing file raises FileNotFoundError naming the path; a malformed one
raises ValueError naming the file and what is wrong with it.
"""

import csv
import gzip
import importlib.util
import math
import numbers
import os
import zipfile

import numpy as np

from ._encoding import one_hot  # noqa: F401 - part of this module's API

#: data sets bundled with scikit-learn whose targets are class labels.
CLASSIFICATION = ("digits", "iris", "breast_cancer", "wine")
#: data sets bundled with scikit-learn whose targets are real values.
REGRESSION = ("diabetes",)
#: every name :func:`load` and :func:`load_bundled` accept.
LOADERS = CLASSIFICATION + REGRESSION

#: IDX type code (third byte of the magic number) -> big-endian element type.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


# ------------------------------------------------------------------ helpers
def _float_dtype(dtype):
    # The network computes in float32 or float64 only; say so here rather
    # than when the data reach the network.
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from exc
    if dt.type not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt.type


def _existing_file(name, path):
    try:
        path = os.fspath(path)
    except TypeError as exc:
        raise TypeError(f"{name}: expected a file path, got {path!r}") from exc
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such file: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name}: expected a file, got the directory {path}")
    return path


def _columns(samples, dtype):
    """(m, ...) samples -> (n, m) Fortran-ordered: the transpose of a C-ordered
    (m, n) block is already F-ordered, so at most one copy (the dtype cast)."""
    m = samples.shape[0]
    return np.asarray(samples.reshape(m, -1).T, dtype=dtype, order="F")


def _labels_or_values(name, y, dtype, where):
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ValueError(f"{where}: {name} must be numeric, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.complexfloating):
        raise ValueError(f"{where}: {name} must be real, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return y.astype(np.int64)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{where}: {name} contains NaN or inf")
    return np.asarray(y, dtype=dtype, order="F")


# ---------------------------------------------------------- bundled data sets
#: the data sets stored as "m,n,class names..." then m rows of n features and
#: a label, in scikit-learn's data directory.
_LABELLED_CSV = {"iris": "iris.csv", "breast_cancer": "breast_cancer.csv", "wine": "wine_data.csv"}


def _sklearn_data_dir():
    """scikit-learn's directory of bundled data files, found without importing
    scikit-learn (find_spec of a top-level package only locates it)."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):  # pragma: no cover - a broken installation
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
    return directory if os.path.isdir(directory) else None


def _read_bundled_files(name, directory):
    """(X of shape (m, n) float64, y) parsed from scikit-learn's data files
    of ``name``, or None when a file is missing or not laid out as expected
    (another scikit-learn version); the caller then asks scikit-learn."""
    try:
        if name in _LABELLED_CSV:
            path = os.path.join(directory, _LABELLED_CSV[name])
            with open(path, encoding="utf-8") as fh:
                m, n = (int(v) for v in fh.readline().split(",")[:2])
                table = np.loadtxt(fh, delimiter=",", ndmin=2)
            if table.shape != (m, n + 1):
                return None
            return table[:, :-1], table[:, -1].astype(np.int64)
        if name == "digits":
            with gzip.open(os.path.join(directory, "digits.csv.gz"), "rt") as fh:
                table = np.loadtxt(fh, delimiter=",", ndmin=2)
            if table.shape[1] != 65:
                return None
            return table[:, :-1], table[:, -1].astype(np.int64)
        with gzip.open(os.path.join(directory, "diabetes_data_raw.csv.gz"), "rt") as fh:
            X = np.loadtxt(fh, ndmin=2)
        with gzip.open(os.path.join(directory, "diabetes_target.csv.gz"), "rt") as fh:
            y = np.loadtxt(fh)
    except (OSError, ValueError, EOFError):
        return None
    if X.shape[0] != y.shape[0]:
        return None
    # scikit-learn's load_diabetes(scaled=True): every feature centred,
    # divided by its standard deviation (ddof 0) and by sqrt(m).
    X = (X - X.mean(axis=0)) / X.std(axis=0) / np.sqrt(X.shape[0])
    return X, y


def _sklearn_loader(name):
    """(X, y) from scikit-learn's own loader: the slow path, when its data
    files could not be read directly."""
    try:
        from sklearn import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the bundled data sets need scikit-learn: pip install "fnn-numba[data]"'
        ) from exc
    bunch = getattr(datasets, f"load_{name}")()
    return np.asarray(bunch.data, dtype=np.float64), bunch.target


def load_bundled(name, dtype=np.float64):
    """A data set bundled with scikit-learn, in the library's layout.

    Parameters
    ----------
    name : str
        One of :data:`LOADERS`: digits, iris, breast_cancer, wine
        (classification) or diabetes (regression).
    dtype : float32 or float64
        Type of X (and of y for diabetes).

    Returns
    -------
    X : ndarray of shape (n_features, m)
        The raw features, Fortran-ordered (columns are examples).
    y : ndarray of shape (m,)
        int64 class labels 0..k-1, or real targets of ``dtype`` for diabetes.

    Raises
    ------
    ValueError
        If ``name`` is not a bundled data set.
    ImportError
        If scikit-learn is not installed.
    """
    if name not in LOADERS:
        raise ValueError(f"name: expected one of {', '.join(LOADERS)}, got {name!r}")
    dtype = _float_dtype(dtype)
    directory = _sklearn_data_dir()
    data = _read_bundled_files(name, directory) if directory else None
    samples, target = data if data is not None else _sklearn_loader(name)
    X = _columns(samples, dtype)
    if name in REGRESSION:
        return X, np.asarray(target, dtype=dtype)
    return X, np.asarray(target, dtype=np.int64)


def load_digits(dtype=np.float64):
    """The 8 x 8 handwritten digits: X (64, 1797) with pixel values 0..16,
    y labels 0..9. See :func:`load_bundled`."""
    return load_bundled("digits", dtype)


def load_iris(dtype=np.float64):
    """Fisher's iris: X (4, 150), y labels 0..2. See :func:`load_bundled`."""
    return load_bundled("iris", dtype)


def load_breast_cancer(dtype=np.float64):
    """Wisconsin breast cancer: X (30, 569), y labels 0..1. See
    :func:`load_bundled`."""
    return load_bundled("breast_cancer", dtype)


def load_wine(dtype=np.float64):
    """Wine recognition: X (13, 178), y labels 0..2. See :func:`load_bundled`."""
    return load_bundled("wine", dtype)


def load_diabetes(dtype=np.float64):
    """Diabetes progression (regression): X (10, 442) (already mean-centred
    and scaled by scikit-learn), y real targets 25..346 of ``dtype``. See
    :func:`load_bundled`."""
    return load_bundled("diabetes", dtype)


def load(name, test_fraction=0.25, seed=0, dtype=np.float64):
    """A bundled data set, split into training and test columns and scaled.

    Parameters
    ----------
    name : str
        One of :data:`LOADERS`.
    test_fraction : float
        Fraction of the examples held out for testing, in [0, 1).
    seed : int
        Seeds the permutation that picks the test examples (no
        stratification).
    dtype : float32 or float64

    Returns
    -------
    X_train, y_train, X_test, y_test, n_classes : tuple
        X arrays have shape (n_features, m), Fortran-ordered (no copy needed
        by the network), with every feature min-max scaled to [0, 1] by the
        training split's range. ``n_classes`` is the number of classes, or
        None for the regression data set (diabetes, real targets).
    """
    if name not in LOADERS:
        raise ValueError(f"name: expected one of {', '.join(LOADERS)}, got {name!r}")
    X, y = load_bundled(name, np.float64)
    X_train, y_train, X_test, y_test = split(X, y, test_fraction, seed)
    lo = X_train.min(axis=1, keepdims=True)
    span = X_train.max(axis=1, keepdims=True) - lo
    # A feature constant over the training split (digits has several) would
    # divide by zero; it maps to 0 instead.
    span[span == 0] = 1.0
    dtype = _float_dtype(dtype)
    scale = lambda A: np.asarray((A - lo) / span, dtype=dtype, order="F")  # noqa: E731
    if name in REGRESSION:
        return scale(X_train), y_train.astype(dtype), scale(X_test), y_test.astype(dtype), None
    return scale(X_train), y_train, scale(X_test), y_test, int(y.max()) + 1


# ------------------------------------------------------------ preprocessing
def split(X, y, test_fraction=0.25, seed=0):
    """Split the columns (examples) of X and y into training and test parts.

    Parameters
    ----------
    X : array_like of shape (n_features, m)
    y : array_like of shape (m,) or (k, m), or None
    test_fraction : float
        In [0, 1): round(test_fraction * m) examples go to the test part.
    seed : int
        Seeds the permutation of the examples.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Fortran-ordered X parts; y parts None when ``y`` is None.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array of shape (n_features, m), got shape {X.shape}")
    m = X.shape[1]
    if y is not None:
        y = np.asarray(y)
        if y.ndim not in (1, 2) or y.shape[-1] != m:
            raise ValueError(
                f"y: expected shape ({m},) or (k, {m}) to match X's {m} columns, got {y.shape}"
            )
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, numbers.Real)
        or not 0 <= test_fraction < 1
    ):
        raise ValueError(f"test_fraction: expected a number in [0, 1), got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    order = np.random.default_rng(seed).permutation(m)
    n_test = int(round(test_fraction * m))
    if n_test >= m:
        raise ValueError(f"test_fraction: {test_fraction} of {m} examples leaves none for training")
    test, train = order[:n_test], order[n_test:]

    def part(A, idx):
        return None if A is None else np.asarray(A[..., idx], order="F")

    return part(X, train), part(y, train), part(X, test), part(y, test)


def standardize(X_train, *X_other, axis=1):
    """Scale every feature to mean 0 and standard deviation 1 over the
    training examples, and apply the same scaling to other arrays.

    Parameters
    ----------
    X_train : array_like of shape (n_features, m)
        The statistics come from these examples only.
    *X_other : array_like
        Further arrays (validation, test) with the same features.
    axis : int
        The axis along which the examples run: 1 for the library's layout
        (columns are examples), 0 for (m, n_features) arrays.

    Returns
    -------
    tuple
        ``(X_train_scaled, *X_other_scaled, (mean, std))``. ``mean`` and
        ``std`` keep the example axis with length 1, so new data are scaled
        by ``(X_new - mean) / std``. A feature constant over the training
        examples gets std 1 (it maps to 0) instead of a division by zero.
        Float32 input stays float32; anything else becomes float64.

    Examples
    --------
    >>> import numpy as np
    >>> from fnn_numba.datasets import standardize
    >>> X_tr = np.array([[1.0, 3.0], [10.0, 10.0]])
    >>> X_te = np.array([[5.0], [10.0]])
    >>> Xs_tr, Xs_te, (mean, std) = standardize(X_tr, X_te)
    >>> Xs_tr.tolist(), Xs_te.tolist()
    ([[-1.0, 1.0], [0.0, 0.0]], [[3.0], [0.0]])
    """
    if (
        isinstance(axis, bool)
        or not isinstance(axis, numbers.Integral)
        or axis not in (0, 1, -1, -2)
    ):
        raise ValueError(
            f"axis: expected 1 (columns are examples) or 0 (rows are examples), got {axis!r}"
        )
    axis %= 2
    arrays = []
    for i, A in enumerate((X_train,) + X_other):
        name = "X_train" if i == 0 else f"X_other[{i - 1}]"
        A = np.asarray(A)
        if A.dtype == object or not (
            np.issubdtype(A.dtype, np.integer) or np.issubdtype(A.dtype, np.floating)
        ):
            raise TypeError(f"{name}: expected a real numeric array, got dtype {A.dtype}")
        if A.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array, got shape {A.shape}")
        if not np.all(np.isfinite(A)):
            raise ValueError(f"{name}: contains NaN or inf")
        if i and A.shape[1 - axis] != arrays[0].shape[1 - axis]:
            raise ValueError(
                f"{name}: expected {arrays[0].shape[1 - axis]} features along axis "
                f"{1 - axis} like X_train, got shape {A.shape}"
            )
        arrays.append(A)
    if arrays[0].shape[axis] == 0:
        raise ValueError(
            f"X_train: expected at least one example along axis {axis}, got shape {arrays[0].shape}"
        )
    out_dtype = np.float32 if arrays[0].dtype == np.float32 else np.float64
    train64 = arrays[0].astype(np.float64)
    mean = train64.mean(axis=axis, keepdims=True)
    std = train64.std(axis=axis, keepdims=True)
    std[std == 0] = 1.0
    order = "F" if axis == 1 else "C"
    scaled = [
        np.asarray((A.astype(np.float64) - mean) / std, dtype=out_dtype, order=order)
        for A in arrays
    ]
    return (*scaled, (mean.astype(out_dtype), std.astype(out_dtype)))


# --------------------------------------------------------------- IDX files
def _read_bytes(name, path):
    """The file's bytes, gunzipped when it starts with the gzip magic number
    (so ``train-images-idx3-ubyte.gz`` needs no renaming)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, gzip.BadGzipFile) as exc:
            raise ValueError(f"{name}: {path} is a damaged or truncated gzip file ({exc})") from exc
    return raw


def read_idx(path):
    """Read an IDX file (the format of the MNIST files), plain or gzipped.

    The format: a 4-byte magic number (two zero bytes, a type code, the
    number of dimensions d), then d big-endian 32-bit sizes, then the
    elements in C order, big-endian. Type codes: 0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. A file starting
    with the gzip magic number is decompressed first, whatever its name.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray
        Of the sizes in the header, in native byte order. For MNIST images
        that is (m, 28, 28) uint8; for labels (m,) uint8.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the magic number or type code is wrong, or the file is shorter or
        longer than its header says.
    """
    return _read_idx("path", path)


def _read_idx(name, path):
    path = _existing_file(name, path)
    data = _read_bytes(name, path)
    where = f"{name}: {path}"
    if len(data) < 4:
        raise ValueError(
            f"{where} is truncated: {len(data)} bytes, shorter than the 4-byte IDX magic number"
        )
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{where} is not an IDX file: its magic number "
            f"0x{data[:4].hex()} does not start with two zero bytes"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(
            f"{where} has the unknown IDX type code 0x{code:02X} (expected one of {known})"
        )
    if ndim == 0:
        raise ValueError(f"{where} declares 0 dimensions in its IDX magic number")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{where} is truncated: {len(data)} bytes, shorter than the "
            f"{header}-byte header of a {ndim}-dimensional IDX file"
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dt = IDX_DTYPES[code]
    native = dt.newbyteorder("=")
    expected = header + math.prod(shape) * dt.itemsize
    if len(data) < expected:
        raise ValueError(
            f"{where} is truncated: its header declares shape {shape} of {native} "
            f"({expected} bytes in all), the file has {len(data)} bytes"
        )
    if len(data) > expected:
        raise ValueError(
            f"{where} has {len(data) - expected} bytes after the data its header "
            f"declares (shape {shape} of {native})"
        )
    arr = np.frombuffer(data, dtype=dt, count=math.prod(shape), offset=header).reshape(shape)
    return arr.astype(native)


def load_idx_images(path, dtype=np.float64, scale=True):
    """Images (or any examples) from one IDX file, as columns.

    Parameters
    ----------
    path : str or path-like
        IDX file of shape (m, ...) (for MNIST (m, 28, 28)); plain or gzipped.
    dtype : float32 or float64
    scale : bool
        Divide uint8 images by 255, so that pixels lie in [0, 1].

    Returns
    -------
    X : ndarray of shape (n_pixels, m)
        Each image flattened in C order into one Fortran-ordered column.
    """
    return _idx_images("path", path, _float_dtype(dtype), scale)


def _idx_images(name, path, dtype, scale):
    images = _read_idx(name, path)
    X = _columns(images, dtype)
    if scale and images.dtype == np.uint8:
        X /= dtype(255)
    return X


def load_idx_pair(images_path, labels_path, dtype=np.float64, scale=True):
    """Images and labels from a pair of IDX files (such as MNIST's).

    Parameters
    ----------
    images_path : str or path-like
        IDX file of shape (m, ...) (for MNIST (m, 28, 28)); plain or gzipped.
    labels_path : str or path-like
        IDX file of shape (m,) with integer labels.
    dtype : float32 or float64
        Type of X.
    scale : bool
        Divide uint8 images by 255, so that pixels lie in [0, 1].

    Returns
    -------
    X : ndarray of shape (n_pixels, m)
        Each image flattened in C order into one Fortran-ordered column.
    y : ndarray of shape (m,)
        int64 labels.

    Raises
    ------
    FileNotFoundError
        If either file is missing.
    ValueError
        If a file is malformed (see :func:`read_idx`), the labels are not a
        1-D integer array, or their count differs from the number of images.
    """
    dtype = _float_dtype(dtype)
    X = _idx_images("images_path", images_path, dtype, scale)
    labels = _read_idx("labels_path", labels_path)
    where = f"labels_path: {os.fspath(labels_path)}"
    if labels.ndim != 1:
        raise ValueError(
            f"{where} holds an array of shape {labels.shape}, expected one label "
            f"per image, shape (m,)"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{where} holds {labels.dtype} values, expected integer labels")
    if labels.shape[0] != X.shape[1]:
        raise ValueError(
            f"{where} holds {labels.shape[0]} labels but images_path: "
            f"{os.fspath(images_path)} holds {X.shape[1]} images"
        )
    return X, labels.astype(np.int64)


# ------------------------------------------------------------------- .npz
def load_npz(path, x_key="X", y_key="y", samples_by_features=True, dtype=np.float64):
    """Features and targets from a NumPy ``.npz`` archive.

    Parameters
    ----------
    path : str or path-like
    x_key, y_key : str
        Names of the arrays in the archive. ``y_key=None`` reads X only.
    samples_by_features : bool
        True (the common layout, scikit-learn's): X is stored as (m, ...)
        with one example per row (images (m, h, w) are flattened) and y as
        (m,) or (m, k). False: X is stored as (n_features, m) and y as (m,)
        or (k, m), the library's layout.
    dtype : float32 or float64
        Type of X and of real-valued y.

    Returns
    -------
    X : ndarray of shape (n_features, m), Fortran-ordered
    y : ndarray of shape (m,) or (k, m), or None
        int64 when stored as integers or booleans (class labels), else
        ``dtype``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a .npz archive, a key is missing, an array is not
        numeric or not finite, or X and y hold different numbers of examples.
    """
    path = _existing_file("path", path)
    dtype = _float_dtype(dtype)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"path: {path} is not a readable .npz archive ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"path: {path} holds a single array (.npy), expected a .npz archive with "
            f"the keys {x_key!r} and {y_key!r}"
        )
    with archive:
        missing = [k for k in (x_key, y_key) if k is not None and k not in archive.files]
        if missing:
            raise ValueError(
                f"path: {path} has no array named {missing[0]!r} (it holds "
                f"{', '.join(repr(k) for k in archive.files) or 'nothing'})"
            )
        try:
            X = archive[x_key]
            y = None if y_key is None else archive[y_key]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"path: {path} has an unreadable array ({exc})") from exc
    where = f"path: {path}"
    if (
        X.dtype == object
        or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool)
        or np.issubdtype(X.dtype, np.complexfloating)
    ):
        raise ValueError(f"{where}: {x_key!r} must be a real numeric array, got dtype {X.dtype}")
    if X.ndim < 1 or (not samples_by_features and X.ndim != 2):
        layout = "(m, ...)" if samples_by_features else "(n_features, m)"
        raise ValueError(f"{where}: {x_key!r} must have shape {layout}, got {X.shape}")
    X = _columns(X, dtype) if samples_by_features else np.asarray(X, dtype=dtype, order="F")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{where}: {x_key!r} contains NaN or inf")
    m = X.shape[1]
    if y is not None:
        if y.ndim not in (1, 2):
            raise ValueError(f"{where}: {y_key!r} must be 1-D or 2-D, got shape {y.shape}")
        if y.ndim == 2 and samples_by_features:
            y = y.T
        if y.shape[-1] != m:
            raise ValueError(
                f"{where}: {y_key!r} holds {y.shape[-1]} examples but {x_key!r} holds {m}"
            )
        y = _labels_or_values(repr(y_key), y, dtype, where)
    return X, y


# -------------------------------------------------------------------- .csv
def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_csv(path, target_column=-1, header="auto", delimiter=",", dtype=np.float64):
    """Features and targets from a delimited text file, one example per row.

    Parameters
    ----------
    path : str or path-like
    target_column : int, str or None
        The column holding the targets: an index (negative counts from the
        end), a column name from the header, or None for a file of features
        only.
    header : "auto", bool
        Whether the first row names the columns. "auto": it does when any of
        its cells is not a number.
    delimiter : str
        One character.
    dtype : float32 or float64
        Type of X and of real-valued targets.

    Returns
    -------
    X : ndarray of shape (n_features, m), Fortran-ordered
    y : ndarray of shape (m,), or None
        int64 class labels when every target cell is written as an integer
        (``3``, not ``3.0``), else real values of ``dtype``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a row has a different number of cells from the first, a cell is
        not a finite number (naming the line and column), the file has no
        data rows, or ``target_column`` names no column.
    """
    path = _existing_file("path", path)
    dtype = _float_dtype(dtype)
    if header not in ("auto", True, False):
        raise ValueError(f"header: expected 'auto', True or False, got {header!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter: expected one character, got {delimiter!r}")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            for row in reader:
                if row and any(c.strip() for c in row):
                    rows.append((reader.line_num, row))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"path: {path} is not a readable text file ({exc})") from exc
    if not rows:
        raise ValueError(f"path: {path} is empty: expected rows of numbers")
    width = len(rows[0][1])
    names = None
    if header is True or (header == "auto" and not all(_is_number(c) for c in rows[0][1])):
        names = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"path: {path} has a header but no data rows")

    if target_column is None:
        t = None
    elif isinstance(target_column, str):
        if names is None or target_column not in names:
            have = f"the header names {', '.join(map(repr, names))}" if names else "no header"
            raise ValueError(
                f"target_column: {path} has no column named {target_column!r} ({have})"
            )
        t = names.index(target_column)
    elif isinstance(target_column, numbers.Integral) and not isinstance(target_column, bool):
        if not -width <= target_column < width:
            raise ValueError(
                f"target_column: expected an index in [{-width}, {width}) for the "
                f"{width} columns of {path}, got {target_column}"
            )
        t = int(target_column) % width
    else:
        raise TypeError(
            f"target_column: expected an int, a column name or None, got {target_column!r}"
        )
    if t is not None and width < 2:
        raise ValueError(f"path: {path} has 1 column, which leaves no features beside the target")

    values = np.empty((len(rows), width), dtype=np.float64)
    integer_target = t is not None
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"path: {path}, line {line}: {len(row)} cells, expected {width} like "
                f"the first row (ragged rows)"
            )
        try:
            values[r] = [float(c) for c in row]
        except ValueError:
            bad = next(c for c, cell in enumerate(row) if not _is_number(cell))
            raise ValueError(
                f"path: {path}, line {line}, column {bad + 1}: {row[bad]!r} is not a number"
            ) from None
        if integer_target:
            try:
                int(row[t])
            except ValueError:
                integer_target = False
    finite = np.isfinite(values)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        raise ValueError(
            f"path: {path}, line {rows[r][0]}, column {c + 1}: {rows[r][1][c]!r} is "
            f"not a finite number"
        )
    if t is None:
        return _columns(values, dtype), None
    X = _columns(np.delete(values, t, axis=1), dtype)
    y = values[:, t].astype(np.int64) if integer_target else values[:, t].astype(dtype)
    return X, y
