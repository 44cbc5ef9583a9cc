"""The package's one one-hot encoder (fnn_numba._encoding.one_hot)."""

import numpy as np
import pytest

from fnn_numba import datasets
from fnn_numba._encoding import one_hot


def test_columns_are_unit_vectors_of_the_labels():
    labels = np.array([3, 0, 2, 2, 1])
    Y = one_hot(labels, 4, np.float32)
    assert Y.shape == (4, 5) and Y.dtype == np.float32 and Y.flags.f_contiguous
    np.testing.assert_array_equal(Y, np.eye(4)[:, labels])
    assert one_hot(labels).shape == (4, 5)  # n_classes = max + 1
    assert one_hot(np.array([1.0, 0.0]), 2).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (3, 0)


def test_datasets_exports_the_same_function():
    assert datasets.one_hot is one_hot


@pytest.mark.parametrize(
    "labels, kwargs, exc, message",
    [
        (
            [0, 3],
            dict(n_classes=3),
            ValueError,
            r"labels: class labels must lie in \[0, 3\), got values in \[0, 3\]",
        ),
        (
            [-1, 0],
            dict(n_classes=3),
            ValueError,
            r"class labels must lie in \[0, 3\), got values in \[-1, 0\]",
        ),
        (
            [0, 1],
            dict(n_classes=2, name="Y", m=3),
            ValueError,
            r"Y: expected 3 labels \(as many examples as X\), got 2",
        ),
        (
            [0.5, 1.0],
            {},
            ValueError,
            "labels: expected integer class labels, got non-integer values",
        ),
        ([np.nan, 1.0], {}, ValueError, "non-integer values"),
        (
            [[0], [1]],
            {},
            ValueError,
            r"labels: expected a 1-D array of m labels, got shape \(2, 1\)",
        ),
        ([True, False], {}, TypeError, "labels: expected integer class labels, got dtype bool"),
        (["a", "b"], dict(name="y"), TypeError, "y: expected integer class labels, got dtype <U1"),
        ([0], dict(n_classes=0), ValueError, "n_classes: expected a positive integer, got 0"),
        ([0], dict(n_classes=2.0), ValueError, "n_classes: expected a positive integer, got 2.0"),
        ([], {}, ValueError, "n_classes: cannot be inferred from zero labels"),
        ([0, 1], dict(dtype=np.int32), TypeError, "dtype: expected float32 or float64, got int32"),
    ],
)
def test_bad_labels_name_the_argument(labels, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        one_hot(labels, **kwargs)
