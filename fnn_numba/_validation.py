"""Argument checks shared by the public API. Each raises ValueError or
TypeError naming the argument, what was expected and what came."""

import math
import numbers

import numpy as np
from numba import njit

SUPPORTED_DTYPES = (np.float32, np.float64)


def check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from exc
    if dt.type not in SUPPORTED_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt.type


def check_sizes(sizes):
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise ValueError(f"sizes: expected a list of layer sizes [n0, n1, ..., nL], got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least an input and an output size, got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"sizes: every layer size must be a positive integer, got {sizes!r}")
    return [int(s) for s in sizes]


def check_choice(name, value, choices, aliases=None):
    if isinstance(value, str):
        key = value.lower().replace("-", "_")
        if aliases and key in aliases:
            key = aliases[key]
        if key in choices:
            return key
    valid = sorted(choices) + (sorted(aliases) if aliases else [])
    raise ValueError(f"{name}: expected one of {', '.join(valid)}; got {value!r}")


def check_positive(name, value, integer=False, allow_zero=False):
    # exact int/float first: the abstract-class checks cost a microsecond each,
    # and fit checks about fifteen numbers per call
    cls = type(value)
    if not (cls is int or (cls is float and not integer)):
        ok_type = numbers.Integral if integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, ok_type):
            kind = "an integer" if integer else "a number"
            raise TypeError(f"{name}: expected {kind}, got {value!r}")
    finite = cls is int or math.isfinite(value)  # an int is finite, whatever its size
    if not finite or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite value {bound}, got {value!r}")
    return int(value) if integer else float(value)


# reassociation only, so that the sum vectorises; no-NaN/no-inf flags would
# let LLVM assume away what this checks
@njit(cache=True, fastmath={"reassoc"})
def all_finite(x):
    """True when no element of the 2-D array x is NaN or +-inf. x * 0 is 0
    for a finite x and NaN otherwise, so one vectorised sum answers (about
    4 us for a (64, 128) float32 matrix against 9 us for np.all(np.isfinite))."""
    n, m = x.shape
    acc = x.dtype.type(0)
    for i in range(m):
        for j in range(n):
            acc += x[j, i] * x.dtype.type(0)
    return acc == 0


def as_float_matrix(name, value, dtype, rows=None):
    """A finite 2-D float array of ``dtype`` with ``rows`` rows and m >= 1 columns.

    F-ordered arrays of the right dtype (such as the transpose of a C-ordered
    (m, n) array) are returned without a copy; anything else is copied once.
    """
    arr = np.asarray(value)
    # dtype.kind, not np.issubdtype: a microsecond less per check, on every
    # forward and fit call (b: bool, i/u: integers, f: floats, c: complex)
    kind = arr.dtype.kind
    if kind not in "biufc":
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if kind == "c":
        raise TypeError(f"{name}: expected a real array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array of shape (n, m), columns are examples; got shape {arr.shape}"
        )
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(
            f"{name}: expected {rows} rows (one per input/output node), got shape {arr.shape}"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one example (column), got shape {arr.shape}")
    out = np.asarray(arr, dtype=dtype, order="F")
    if not all_finite(out):
        raise ValueError(f"{name}: contains NaN or inf (in {dtype.__name__})")
    return out
