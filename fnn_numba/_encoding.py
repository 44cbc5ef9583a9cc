"""Class labels as one-hot target columns: the one encoder of the package.

Categorical cross-entropy compares the softmax output A[L] of shape
(n[L], m) with a target Y of the same shape whose column i is the unit
vector e_{y_i}; this module builds that Y from the m labels y_i.
"""

import numbers

import numpy as np

from ._validation import check_dtype


def one_hot(labels, n_classes=None, dtype=np.float64, *, name="labels", m=None):
    """One-hot columns for integer class labels.

    ``Y[c, i] = 1`` if ``labels[i] == c`` else 0, for c in [0, n_classes)
    and i in [0, m): one column per example, the library's layout.

    Parameters
    ----------
    labels : array_like of shape (m,)
        Integers in [0, n_classes). Floats holding integral values (such as
        ``2.0``) are accepted; booleans are not (they are not class indices).
    n_classes : int, optional
        Number of rows (the output layer's n[L]); default ``max(labels) + 1``.
    dtype : float32 or float64
        Type of the result.
    name : str, keyword-only
        How error messages name ``labels`` (the caller's argument name).
    m : int, keyword-only, optional
        The number of labels expected (the examples of the matching X);
        checked when given.

    Returns
    -------
    Y : ndarray of shape (n_classes, m)
        Fortran-ordered, so that each example's column is contiguous, as the
        network's kernels read it.

    Raises
    ------
    TypeError
        If the labels are not integers or integral floats, or ``dtype`` is
        not float32/float64.
    ValueError
        If the labels are not 1-D, their count differs from ``m``, a value
        lies outside [0, n_classes), or ``n_classes`` is not a positive
        integer (or cannot be inferred from zero labels).

    Examples
    --------
    >>> one_hot([2, 0], n_classes=3).tolist()
    [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]]
    """
    arr = np.asarray(labels)
    if (
        arr.dtype == bool
        or arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating))
    ):
        raise TypeError(f"{name}: expected integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of m labels, got shape {arr.shape}")
    if m is not None and arr.shape[0] != m:
        raise ValueError(f"{name}: expected {m} labels (as many examples as X), got {arr.shape[0]}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: expected integer class labels, got non-integer values")
    dtype = check_dtype(dtype)
    if n_classes is None:
        if arr.size == 0:
            raise ValueError("n_classes: cannot be inferred from zero labels; pass it")
        n_classes = int(arr.max()) + 1
    elif (
        isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1
    ):
        raise ValueError(f"n_classes: expected a positive integer, got {n_classes!r}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name}: class labels must lie in [0, {n_classes}), got values in "
            f"[{arr.min()}, {arr.max()}]"
        )
    Y = np.zeros((int(n_classes), arr.size), dtype=dtype, order="F")
    Y[arr.astype(np.int64), np.arange(arr.size)] = 1
    return Y
