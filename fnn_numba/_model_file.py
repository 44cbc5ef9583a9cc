"""Reading and checking a model file written by ``Network.save``.

The file is a NumPy ``.npz`` archive (a zip file) holding:

- ``metadata``: the UTF-8 bytes of a JSON object, as a uint8 array, with
  ``format`` = :data:`FORMAT_NAME`, ``version`` = :data:`FORMAT_VERSION` and
  the architecture (``sizes``, ``activations``, ``cost``, ``init``,
  ``dtype``, ``l2``, ``seed``), plus ``epochs_trained``, the shuffling
  generator's ``rng_state`` and, after training, the ``optimizer`` name;
- ``params``: the flat parameter vector [W1, b1, W2, b2, ...];
- after training, ``optimizer_velocity``, ``optimizer_second`` (each of the
  parameters' shape, or empty for an optimizer that keeps no such moment)
  and ``optimizer_steps`` (the step count t, one integer).

:func:`read_model_file` reads it without ever unpickling (the archive is
opened with ``allow_pickle=False``), and turns every way a file can fail to
be a model into one ValueError that names the file and says what it is
instead, never NumPy's advice to load it unsafely.
"""

import json
import numbers
import zipfile

import numpy as np

from .datasets import _existing_file

FORMAT_NAME = "fnn_numba.Network"
FORMAT_VERSION = 1

#: metadata keys every model file holds (``Network.save`` writes them all).
REQUIRED_METADATA = ("sizes", "activations", "cost", "init", "dtype", "l2", "seed")
OPTIMIZER_ARRAYS = ("optimizer_velocity", "optimizer_second", "optimizer_steps")

# Every .npz archive is a zip file: one that holds members starts with a
# local file header, an empty one with the end-of-directory record.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


def _not_a_model(where, why):
    return ValueError(f"{where} is not an fnn_numba model file ({why})")


def _damaged(where, why):
    return ValueError(f"{where} is a damaged fnn_numba model file: {why}")


def _read_archive(path):
    """The metadata (decoded) and the arrays of the archive at ``path``."""
    with open(path, "rb") as fh:
        head = fh.read(len(_NPY_MAGIC))
    if head.startswith(_NPY_MAGIC):
        return None, None, "a single NumPy array (.npy); a model is a .npz archive"
    if not head.startswith(_ZIP_MAGICS):
        # Checked before np.load, which calls any file that is neither a zip
        # archive nor a .npy array "pickled data" and suggests loading it
        # with allow_pickle, an unsafe load of a file of unknown origin.
        return None, None, "a model is a .npz archive, and this file is not one"
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(
                archive, np.lib.npyio.NpzFile
            ):  # pragma: no cover - zip magic checked
                return None, None, "a model is a .npz archive, and this file is not one"
            files = list(archive.files)
            if "metadata" not in files or "params" not in files:
                held = ", ".join(repr(k) for k in files) or "nothing"
                return (
                    None,
                    None,
                    (
                        f"a .npz archive without the arrays 'metadata' and 'params' "
                        f"of a model; it holds {held}"
                    ),
                )
            arrays = {
                key: archive[key]
                for key in ("metadata", "params") + OPTIMIZER_ARRAYS
                if key in files
            }
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        return None, None, f"a damaged or truncated .npz archive: {exc}"
    except ValueError:
        # An array stored as Python objects: unreadable without unpickling,
        # which a model file never needs.
        return None, None, "a .npz archive with an array of Python objects, which no model holds"
    raw = arrays.pop("metadata")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        return (
            None,
            None,
            f"its 'metadata' is a {raw.dtype} array of shape {raw.shape}, not JSON text",
        )
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, None, f"its 'metadata' is not JSON text ({exc})"
    return meta, arrays, None


def _check_optimizer(where, meta, arrays, params):
    """The optimizer state as a dict, or None when the model was never trained."""
    name = meta.get("optimizer")
    present = [k for k in OPTIMIZER_ARRAYS if k in arrays]
    if name is None:
        if present:
            raise _damaged(where, f"it holds {', '.join(present)} but names no optimizer")
        return None
    if not isinstance(name, str):
        raise _damaged(where, f"its optimizer name is {name!r}, expected a string")
    missing = [k for k in OPTIMIZER_ARRAYS if k not in arrays]
    if missing:
        raise _damaged(where, f"the {name} optimizer's state lacks {', '.join(missing)}")
    state = dict(name=name)
    for key in ("optimizer_velocity", "optimizer_second"):
        arr = arrays[key]
        if arr.shape not in (params.shape, (0,)) or not np.issubdtype(arr.dtype, np.floating):
            raise _damaged(
                where,
                f"{key} is a {arr.dtype} array of shape {arr.shape}; expected "
                f"{params.dtype} of shape {params.shape} (or empty)",
            )
        if not np.all(np.isfinite(arr)):
            raise _damaged(where, f"{key} holds NaN or inf")
        state[key.replace("optimizer_", "")] = arr.astype(params.dtype)
    steps = arrays["optimizer_steps"]
    if steps.size != 1 or not np.issubdtype(steps.dtype, np.integer) or steps.reshape(-1)[0] < 0:
        raise _damaged(where, f"optimizer_steps is {steps!r}; expected one non-negative integer")
    state["steps"] = steps.astype(np.int64).reshape(1)
    return state


def read_model_file(path, *, name="path"):
    """Read and check a model file written by ``Network.save``.

    Parameters
    ----------
    path : str or path-like
    name : str, keyword-only
        How error messages name the argument (the caller's name for it, such
        as the command line's MODEL).

    Returns
    -------
    dict
        ``metadata``: the JSON header as a dict (format, version, sizes,
        activations, cost, init, dtype, l2, seed and, where written,
        epochs_trained, rng_state, optimizer); ``params``: the flat parameter
        vector [W1, b1, W2, b2, ...], 1-D, finite, of the header's dtype;
        ``optimizer``: None for a model never trained, else a dict with
        ``name``, ``velocity`` and ``second`` (each of ``params``' shape, or
        empty) and ``steps`` (int64 array of one element, the step count t).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a directory.
    ValueError
        "path: X is not an fnn_numba model file (why)" for any other file
        (text, a .npy array, another .npz archive, a damaged archive);
        "path: X has format version v" for a model of another format
        version; "path: X is a damaged fnn_numba model file: ..." for a model
        whose header lacks a key or whose parameters or optimizer state hold
        NaN or inf, or have the wrong dtype or shape.

    The archive is opened with ``allow_pickle=False``: a model file never
    holds Python objects, and none is ever unpickled.
    """
    path = _existing_file(name, path)
    where = f"{name}: {path}"
    meta, arrays, why = _read_archive(path)
    if why is not None:
        raise _not_a_model(where, why)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise _not_a_model(where, f"its header names the format {found!r}, not {FORMAT_NAME!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{where} has format version {meta.get('version')!r}; this fnn_numba "
            f"reads version {FORMAT_VERSION}"
        )
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    if missing:
        raise _damaged(where, f"its header lacks {', '.join(missing)}")
    if meta["dtype"] not in ("float32", "float64"):
        raise _damaged(
            where, f"its header gives the dtype {meta['dtype']!r}, expected float32 or float64"
        )
    epochs = meta.get("epochs_trained", 0)
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise _damaged(
            where, f"its header gives epochs_trained {epochs!r}, expected a non-negative integer"
        )
    params = arrays["params"]
    if params.ndim != 1 or params.dtype != np.dtype(meta["dtype"]):
        raise _damaged(
            where,
            f"'params' is a {params.dtype} array of shape {params.shape}; expected a "
            f"1-D {meta['dtype']} vector",
        )
    bad = np.flatnonzero(~np.isfinite(params))
    if bad.size:
        # The weights setter refuses NaN and inf too: a network holding them
        # predicts NaN for every input and cannot be trained further.
        raise _damaged(
            where,
            f"{bad.size} of its {params.size} parameters are NaN or inf "
            f"(the first at index {bad[0]})",
        )
    optimizer = _check_optimizer(where, meta, arrays, params)
    return dict(metadata=meta, params=params, optimizer=optimizer)
