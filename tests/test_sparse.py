"""Sparse X (SciPy CSR/CSC): the first layer's P1 (1) and P1 (13) as loops
over stored entries (:mod:`fnn_numba.sparse`), checked against the
index-level reference, the SciPy form and the dense kernels on X.toarray(),
and every path that takes X (Network and estimators) against the same call
on the dense matrix."""

import types
import warnings

import numba
import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

from fnn_numba import Network, kernels, reference, vectorized  # noqa: E402
from fnn_numba import sparse as fs  # noqa: E402
from fnn_numba.layers import Dense, Dropout, Input  # noqa: E402
from fnn_numba.lbfgs import flat_cost_and_gradient  # noqa: E402

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}


def example_matrix(n0=9, m=12, dtype=np.float64, seed=0):
    """A canonical CSC (n0, m) matrix with empty examples (columns 0 and 5),
    a stored entry that is an explicit zero, and a full column."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n0, m)) * (rng.random((n0, m)) < 0.3)
    dense[:, 0] = 0.0
    dense[:, 5] = 0.0
    dense[:, 7] = rng.normal(size=n0)
    X = sp.csc_matrix(dense.astype(dtype))
    # an explicit zero, stored in example 7: it must add nothing
    X.data[X.indptr[7]] = 0.0
    assert X.has_canonical_format and X.nnz == np.count_nonzero(X.toarray()) + 1
    return X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_z_forward_matches_reference_scipy_and_dense_kernel(dtype):
    X = example_matrix(dtype=dtype)
    n0, m = X.shape
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, n0)).astype(dtype)
    b = rng.normal(size=5).astype(dtype)
    cols = np.array([7, 0, 3, 11, 5, 2], dtype=np.int64)  # a batch in shuffled order
    z = np.zeros((5, cols.size), dtype=dtype, order="F")
    fs.sparse_z_forward(w, b, X.indptr, X.indices, X.data, cols, z)
    ref = reference.sparse_z_reference(w, b, X.indptr, X.indices, X.data)[:, cols]
    vec = vectorized.sparse_z_vectorized(w, b, X)[:, cols]
    dense = np.zeros_like(z)
    kernels.z_forward(w, b, np.asfortranarray(X.toarray()[:, cols]), dense)
    np.testing.assert_allclose(z, ref, **TOL[dtype])
    np.testing.assert_allclose(vec, ref, **TOL[dtype])
    np.testing.assert_allclose(dense, ref, **TOL[dtype])
    # an example with no stored entries is the bias alone
    np.testing.assert_array_equal(z[:, 1], b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_dw_db_matches_reference_scipy_and_dense_kernel(dtype):
    X = example_matrix(dtype=dtype)
    n0, m = X.shape
    rng = np.random.default_rng(2)
    n = 6
    w = rng.normal(size=(n, n0)).astype(dtype)
    cols = np.array([4, 7, 0, 9, 3, 5, 1], dtype=np.int64)
    dz = np.asfortranarray(rng.normal(size=(n, cols.size)).astype(dtype))
    l2 = dtype(0.25)
    dw = np.full((n, n0), np.nan, dtype=dtype)
    db = np.full(n, np.nan, dtype=dtype)
    fs.sparse_dw_db_backward(dz, X.indptr, X.indices, X.data, cols, w, l2, dw, db)
    Xb = X[:, cols]
    ref = reference.sparse_dw_reference(
        dz, Xb.indptr, Xb.indices, Xb.data, n0
    ) + reference.l2_gradient_reference(w, l2)
    vec = vectorized.sparse_dw_vectorized(dz, Xb) + vectorized.l2_gradient_vectorized(w, l2)
    ddw, ddb = np.zeros_like(dw), np.zeros_like(db)
    kernels.dw_db_backward(
        dz,
        np.asfortranarray(Xb.toarray()),
        w,
        l2,
        ddw,
        ddb,
        np.zeros((n, cols.size), dtype=dtype),
        np.zeros((n0, cols.size), dtype=dtype),
    )
    for got in (dw, vec, ddw):
        np.testing.assert_allclose(got, ref, **TOL[dtype])
    np.testing.assert_allclose(db, reference.db_reference(dz), **TOL[dtype])
    np.testing.assert_allclose(ddb, db, **TOL[dtype])


def test_sparse_dw_is_bit_identical_for_any_thread_count():
    X = sp.random(300, 64, density=0.1, random_state=3, format="csc")
    rng = np.random.default_rng(3)
    w = rng.normal(size=(16, 300))
    dz = np.asfortranarray(rng.normal(size=(16, 64)))
    cols = np.arange(64)
    out = []
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            dw, db = np.zeros((16, 300)), np.zeros(16)
            fs.sparse_dw_db_backward(dz, X.indptr, X.indices, X.data, cols, w, 0.1, dw, db)
            out.append((dw, db))
    finally:
        numba.set_num_threads(before)
    for dw, db in out[1:]:
        np.testing.assert_array_equal(dw, out[0][0])
        np.testing.assert_array_equal(db, out[0][1])


def small_net(seed=0, l2=0.01, n0=9):
    return Network(
        [n0, 5, 4, 3],
        ["tanh", "relu", "softmax"],
        cost="categorical_cross_entropy",
        dtype=np.float64,
        seed=seed,
        l2=l2,
    )


@pytest.mark.parametrize("fmt", ["csc", "csr", "coo"])
def test_network_forward_cost_and_gradients_equal_the_dense_ones(fmt):
    X = example_matrix().asformat(fmt)
    Xd = X.toarray()
    y = np.arange(X.shape[1]) % 3
    s = np.linspace(0.5, 2.0, X.shape[1])
    net = small_net()
    np.testing.assert_allclose(net.forward(X), net.forward(Xd), rtol=1e-13, atol=1e-15)
    fa, fd = net.forward(X, return_all=True), net.forward(Xd, return_all=True)
    for a, b in zip(fa.Z + fa.A, fd.Z + fd.A):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    assert net.cost(X, y, s) == pytest.approx(net.cost(Xd, y, s), rel=1e-13)
    np.testing.assert_array_equal(net.predict(X), net.predict(Xd))
    assert net.accuracy(X, y) == net.accuracy(Xd, y)
    G = np.random.default_rng(4).normal(size=(3, X.shape[1]))
    for kwargs in (dict(Y=y), dict(Y=y, sample_weight=s), dict(output_gradient=G)):
        gs, gd = net.gradients(X, **kwargs), net.gradients(Xd, **kwargs)
        for a, b in zip(gs.weights + gs.biases + [gs.inputs], gd.weights + gd.biases + [gd.inputs]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        assert (
            gs.cost == pytest.approx(gd.cost, rel=1e-13) if gd.cost is not None else gs.cost is None
        )


@pytest.mark.parametrize(
    "settings",
    [
        dict(
            optimizer="adam",
            learning_rate=0.01,
            clip_norm=0.5,
            validation_fraction=0.25,
            early_stopping=True,
            patience=1,
        ),
        dict(
            optimizer="nesterov",
            learning_rate=0.05,
            clip_value=0.1,
            lr_schedule="invscaling",
            sample_weight=np.linspace(0.0, 2.0, 12),
        ),
    ],
)
def test_fit_on_sparse_x_follows_the_fit_on_dense_x(settings):
    X = example_matrix()
    y = np.arange(12) % 3
    a, b = small_net(), small_net()
    ha = a.fit(X.tocsr(), y, epochs=4, batch_size=5, **settings)
    hb = b.fit(X.toarray(), y, epochs=4, batch_size=5, **settings)
    np.testing.assert_allclose(a.get_parameters(), b.get_parameters(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ha.cost, hb.cost, rtol=1e-12)
    np.testing.assert_allclose(ha.val_cost, hb.val_cost, rtol=1e-12)
    a.partial_fit(X, y, batch_size=4, optimizer="adam")
    b.partial_fit(X.toarray(), y, batch_size=4, optimizer="adam")
    np.testing.assert_allclose(a.get_parameters(), b.get_parameters(), rtol=1e-12, atol=1e-14)


def test_lbfgs_on_sparse_x_follows_lbfgs_on_dense_x():
    X = example_matrix()
    y = np.arange(12) % 3
    a, b = small_net(), small_net()
    a.fit(X, y, epochs=5, optimizer="lbfgs", validation_data=(X, y))
    b.fit(X.toarray(), y, epochs=5, optimizer="lbfgs", validation_data=(X.toarray(), y))
    np.testing.assert_allclose(a.get_parameters(), b.get_parameters(), rtol=1e-9, atol=1e-12)
    theta = a.get_parameters() * 1.5
    s = np.linspace(0.5, 1.5, 12)
    Js, gs = flat_cost_and_gradient(a, X.tocsr(), y, theta, s)
    Jd, gd = flat_cost_and_gradient(b, X.toarray(), y, theta, s)
    assert Js == pytest.approx(Jd, rel=1e-13)
    np.testing.assert_allclose(gs, gd, rtol=1e-12, atol=1e-15)


def test_fit_on_a_wide_sparse_x_allocates_no_dense_copy():
    n0 = 200_000
    X = sp.random(n0, 40, density=1e-4, random_state=5, format="csc")
    net = Network([n0, 3, 1], ["relu", "sigmoid"], cost="binary_cross_entropy", seed=0)
    net.fit(X, np.arange(40) % 2, epochs=1, batch_size=20)
    buf = net._backend_for(X).buffers(20, "fit")
    # A, Z, dA and the targets of the small layers only: nothing of size n0 x batch
    assert buf.ws.size + buf.x_buf.size < n0


def test_sparse_x_is_refused_where_there_is_no_driver():
    X = example_matrix()
    net = Network([Input(9), Dense(4, "relu"), Dropout(0.5), Dense(3, "softmax")], seed=0)
    with pytest.raises(ValueError, match="X: sparse input needs a network of Dense layers only"):
        net.forward(X)
    gpu = types.SimpleNamespace(device="cuda")
    with pytest.raises(ValueError, match="X: sparse input is not supported on device='cuda'"):
        fs.check_network(gpu)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="X: contains NaN or inf"):
        small_net().forward(bad)
    with pytest.raises(ValueError, match="X: expected 9 rows"):
        small_net().forward(X[:5])
    with pytest.raises(TypeError, match="X: expected a real sparse matrix"):
        small_net().forward(X.astype(np.complex128))


def test_estimators_on_sparse_x_follow_the_dense_fit():
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from fnn_numba import FNNClassifier, FNNRegressor

    rng = np.random.default_rng(6)
    Xd = rng.normal(size=(40, 9)) * (rng.random((40, 9)) < 0.3)
    y = (Xd.sum(axis=1) > 0).astype(int)
    for solver, extra in (("lbfgs", {}), ("adam", dict(early_stopping=True))):
        a = FNNClassifier(
            hidden_layer_sizes=(4,), solver=solver, max_iter=5, random_state=0, **extra
        )
        b = FNNClassifier(
            hidden_layer_sizes=(4,), solver=solver, max_iter=5, random_state=0, **extra
        )
        with pytest.warns(Warning):
            a.fit(sp.csr_array(Xd), y)
        with pytest.warns(Warning):
            b.fit(Xd, y)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            a.predict_proba(sp.csc_matrix(Xd)), b.predict_proba(Xd), rtol=1e-12
        )
    r, s = (
        FNNRegressor(hidden_layer_sizes=(3,), random_state=0),
        FNNRegressor(hidden_layer_sizes=(3,), random_state=0),
    )
    r.partial_fit(sp.csr_matrix(Xd), Xd[:, 0])
    s.partial_fit(Xd, Xd[:, 0])
    np.testing.assert_allclose(r.predict(sp.csr_matrix(Xd)), s.predict(Xd), rtol=1e-12)


def test_no_path_densifies_a_sparse_x(monkeypatch):
    """fit (sgd, lbfgs, a validation split), partial_fit, predict and
    gradients with toarray/todense of SciPy's CSR and CSC refused."""
    pytest.importorskip("sklearn")
    from fnn_numba import FNNRegressor

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse X was densified")

    X = example_matrix()
    Xr = X.T.tocsr()
    y = np.arange(12) % 3
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    with pytest.raises(AssertionError, match="densified"):
        X.toarray()
    net = small_net()
    net.fit(X, y, epochs=2, batch_size=5, validation_fraction=0.25)
    net.fit(Xr.T, y, epochs=2, optimizer="lbfgs")
    net.partial_fit(X, y, batch_size=6)
    net.gradients(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few iterations to converge
        FNNRegressor(hidden_layer_sizes=(3,), max_iter=2, early_stopping=True, random_state=0).fit(
            sp.csc_array(Xr), np.arange(12.0)
        ).predict(Xr)
        FNNRegressor(hidden_layer_sizes=(3,), max_iter=2, solver="lbfgs").fit(Xr, np.arange(12.0))
