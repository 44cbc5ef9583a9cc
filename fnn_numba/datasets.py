"""Real data sets that ship offline, in the library's layout.

The loaders wrap the data sets bundled with scikit-learn (an optional
dependency: ``pip install "fnn-numba[data]"``) and return X of shape (n0, m),
columns are examples, scaled to [0, 1] per feature, with integer labels.
"""
import numpy as np

LOADERS = ("digits", "iris", "breast_cancer", "wine")


def load(name, test_fraction=0.25, seed=0, dtype=np.float64):
    """(X_train, y_train, X_test, y_test, n_classes) for a bundled data set.

    X arrays have shape (n_features, m) (F-ordered, no copy needed by the
    network); the split is stratified-free but seeded; features are min-max
    scaled with the training split's range.
    """
    if name not in LOADERS:
        raise ValueError(f"name: expected one of {', '.join(LOADERS)}, got {name!r}")
    try:
        from sklearn import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('the bundled data sets need scikit-learn: pip install "fnn-numba[data]"') from exc
    bunch = getattr(datasets, f"load_{name}")()
    data, target = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(target))
    n_test = int(round(test_fraction * len(target)))
    test, train = order[:n_test], order[n_test:]
    lo = data[train].min(axis=0)
    span = data[train].max(axis=0) - lo
    span[span == 0] = 1.0
    scaled = ((data - lo) / span).astype(dtype)
    return (scaled[train].T, target[train], scaled[test].T, target[test], int(target.max()) + 1)
