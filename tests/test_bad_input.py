"""The catalogue of bad inputs: each gets a clear error and changes nothing."""

import numpy as np
import pytest

import fnn_numba as fnn

GOOD_X = np.random.default_rng(0).standard_normal((4, 6))
GOOD_Y = np.array([0, 1, 2, 0, 1, 2])

CONSTRUCTOR_CASES = [
    (dict(sizes=[4]), ValueError, "sizes"),
    (dict(sizes=[4, 0, 3]), ValueError, "positive integer"),
    (dict(sizes=[4, 2.5, 3]), ValueError, "positive integer"),
    (dict(sizes=[4, -1, 3]), ValueError, "positive integer"),
    (dict(sizes="4,3"), ValueError, "sizes"),
    (dict(sizes=[4, True, 3]), ValueError, "positive integer"),
    (dict(sizes=[4, 3], activations=["softmax", "relu"]), ValueError, "expected 1 names"),
    (dict(sizes=[4, 3], activations="softmax"), ValueError, "activations"),
    (dict(sizes=[4, 3], activations=["swish"]), ValueError, "identity.*sigmoid"),
    (dict(sizes=[4, 3], cost="hinge"), ValueError, "categorical_cross_entropy"),
    (dict(sizes=[4, 3], init="glorot"), ValueError, "xavier"),
    (dict(sizes=[4, 3], activations=["relu"], cost="bce"), ValueError, r"\(0, 1\)"),
    (dict(sizes=[4, 3], activations=["identity"], cost="cce"), ValueError, r"\(0, 1\)"),
    (dict(sizes=[4, 3], dtype=np.int32), TypeError, "float32 or float64"),
    (dict(sizes=[4, 3], dtype="float16"), TypeError, "float32 or float64"),
    (dict(sizes=[4, 3], l2=-1.0), ValueError, "l2"),
    (dict(sizes=[4, 3], l2=float("nan")), ValueError, "l2"),
    (dict(sizes=[4, 3], seed=-3), ValueError, "seed"),
]


@pytest.mark.parametrize("kwargs,error,match", CONSTRUCTOR_CASES)
def test_constructor_rejects(kwargs, error, match):
    with pytest.raises(error, match=match):
        fnn.Network(**kwargs)


X_NAN = GOOD_X.copy()
X_NAN[1, 2] = np.nan
X_INF = GOOD_X.copy()
X_INF[0, 0] = np.inf

CALL_CASES = [
    (X_NAN, GOOD_Y, ValueError, "X: contains NaN"),
    (X_INF, GOOD_Y, ValueError, "X: contains NaN or inf"),
    (GOOD_X[:3], GOOD_Y, ValueError, "X: expected 4 rows"),
    (GOOD_X[0], GOOD_Y, ValueError, "X: expected a 2-D array"),
    (GOOD_X[:, :0], GOOD_Y[:0], ValueError, "at least one example"),
    (GOOD_X, GOOD_Y[:5], ValueError, "Y: expected 6 labels"),
    (GOOD_X, np.array([0, 1, 3, 0, 1, 2]), ValueError, r"labels must lie in \[0, 3\)"),
    (GOOD_X, np.array([0, 1, -1, 0, 1, 2]), ValueError, r"labels must lie in \[0, 3\)"),
    (GOOD_X, np.array([0, 1, 0.5, 0, 1, 2]), ValueError, "integer class labels"),
    (GOOD_X, np.eye(3)[:, [0, 1, 2, 0, 1]], ValueError, "Y: expected 6 columns"),
    (GOOD_X, np.full((3, 6), np.nan), ValueError, "Y: contains NaN"),
    (GOOD_X, np.full((3, 6), 2.0), ValueError, r"targets in \[0, 1\]"),
    (GOOD_X.astype(str), GOOD_Y, TypeError, "X: expected a numeric array"),
    (np.array([[object()] * 6] * 4), GOOD_Y, TypeError, "X: expected a numeric array"),
    (GOOD_X, np.array(["a"] * 6), TypeError, "integer class labels"),
    (GOOD_X + 1j, GOOD_Y, TypeError, "X: expected a real array"),
]


@pytest.mark.parametrize("X,Y,error,match", CALL_CASES)
@pytest.mark.parametrize("method", ["cost", "gradients", "fit"])
def test_calls_reject_and_change_nothing(X, Y, error, match, method):
    net = fnn.Network([4, 5, 3], seed=0)
    before = net.get_parameters()
    with pytest.raises(error, match=match):
        getattr(net, method)(X, Y)
    assert np.array_equal(net.get_parameters(), before)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(epochs=2.5), TypeError, "epochs"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=-4), ValueError, "batch_size"),
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
        (dict(learning_rate="fast"), TypeError, "learning_rate"),
        (dict(validation_data=(GOOD_X,)), ValueError, "validation_data"),
        (
            dict(validation_data=(GOOD_X[:2], GOOD_Y)),
            ValueError,
            r"validation_data\[0\]: expected 4 rows",
        ),
    ],
)
def test_fit_arguments_rejected_and_change_nothing(kwargs, error, match):
    net = fnn.Network([4, 5, 3], seed=0)
    before = net.get_parameters()
    with pytest.raises(error, match=match):
        net.fit(GOOD_X, GOOD_Y, **kwargs)
    assert np.array_equal(net.get_parameters(), before)


def test_forward_and_predict_reject_bad_x():
    net = fnn.Network([4, 3], seed=0)
    for method in (net.forward, net.predict):
        with pytest.raises(ValueError, match="X: expected 4 rows"):
            method(np.zeros((5, 2)))
        with pytest.raises(ValueError, match="X: contains NaN"):
            method(X_NAN)


def test_setting_bad_weights_changes_nothing():
    net = fnn.Network([4, 5, 3], seed=0)
    before = net.get_parameters()
    with pytest.raises(ValueError, match=r"weights\[1\]: expected shape \(3, 5\)"):
        net.weights = [np.zeros((5, 4)), np.zeros((5, 3))]
    with pytest.raises(ValueError, match=r"weights\[1\]: contains NaN"):
        net.weights = [np.ones((5, 4)), np.full((3, 5), np.nan)]
    assert np.array_equal(net.get_parameters(), before)


def test_load_rejects_bad_files(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError):
        fnn.Network.load(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an fnn_numba model file"):
        fnn.Network.load(junk)
    good = tmp_path / "good.npz"
    fnn.Network([3, 2], seed=0).save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError, match="not an fnn_numba model file"):
        fnn.Network.load(truncated)
    other = tmp_path / "other.npz"
    np.savez(other, params=np.zeros(3))
    with pytest.raises(ValueError, match="not a readable|not an fnn_numba"):
        fnn.Network.load(other)
