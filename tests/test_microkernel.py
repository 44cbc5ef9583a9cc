"""The micro-kernel path of P1 (1), (13) and (21) (large sums): against the
index-level reference, the vectorised NumPy forms and finite differences, in
both of each kernel's orientations, with edge tiles in every direction."""

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba import kernels, microkernel, reference, vectorized

# (n, K, m): n <= m and n > m, K <= m and K > m, K <= n and K > n, sizes that are
# no multiple of the panel (8, 16 or 32 rows) or of the 6 columns of a tile
SHAPES = [(64, 150, 131), (150, 64, 131), (131, 70, 119), (37, 300, 101), (200, 41, 130)]
EMPTY = np.zeros((0, 0))


def operands(n, K, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, K)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    a = np.asfortranarray(rng.standard_normal((K, m)).astype(dtype))
    dz = np.asfortranarray(rng.standard_normal((n, m)).astype(dtype))
    return w, b, a, dz


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_panel_path_matches_the_vectorised_forms(shape, dtype):
    n, K, m = shape
    assert microkernel.use_panels(n, K, m)
    w, b, a, dz = operands(n, K, m, dtype)
    z = np.zeros((n, m), dtype, order="F")
    kernels.z_forward(w, b, a, z)
    da = np.zeros((K, m), dtype, order="F")
    kernels.da_prev_backward(w, dz, da)
    dw, db = np.zeros((n, K), dtype), np.zeros(n, dtype)
    e = EMPTY.astype(dtype)
    kernels.dw_db_backward(dz, a, w, dtype(0.25), dw, db, e, e)
    w64, a64, dz64 = w.astype(np.float64), a.astype(np.float64), dz.astype(np.float64)
    tol = 1e-13 if dtype == np.float64 else 2e-6

    def scale(x):
        return np.max(np.abs(x))

    want_z = vectorized.z_vectorized(w64, b.astype(np.float64), a64)
    assert scale(z - want_z) <= tol * scale(want_z)
    want_da = vectorized.da_prev_vectorized(w64, dz64)
    assert scale(da - want_da) <= tol * scale(want_da)
    want_dw = vectorized.dw_vectorized(dz64, a64) + 0.25 * w64
    assert scale(dw - want_dw) <= tol * scale(want_dw)
    np.testing.assert_allclose(
        db, vectorized.db_vectorized(dz64).ravel(), rtol=tol * 10, atol=tol * scale(dz64) * m
    )


def test_panel_path_matches_the_index_level_reference():
    n, K, m = 40, 200, 140
    assert microkernel.use_panels(n, K, m)
    w, b, a, dz = operands(n, K, m, np.float64, seed=1)
    z = np.zeros((n, m), order="F")
    kernels.z_forward(w, b, a, z)
    np.testing.assert_allclose(z, reference.z_reference(w, b, a), rtol=1e-12, atol=1e-12)
    da = np.zeros((K, m), order="F")
    kernels.da_prev_backward(w, dz, da)
    np.testing.assert_allclose(da, reference.da_prev_reference(w, dz), rtol=1e-12, atol=1e-12)
    dw, db = np.zeros((n, K)), np.zeros(n)
    kernels.dw_db_backward(dz, a, w, 0.1, dw, db, EMPTY, EMPTY)
    want_dw = reference.dw_reference(dz, a) + reference.l2_gradient_reference(w, 0.1)
    want_db = reference.db_reference(dz)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, want_db, rtol=1e-12, atol=1e-12)


def test_network_gradients_through_the_panel_path_match_finite_differences():
    # both layers are large enough for the micro-kernel (n K m >= 2^20)
    rng = np.random.default_rng(2)
    net = fnn.Network([64, 128, 64], activations=["tanh", "softmax"], seed=4, l2=0.01)
    X = rng.standard_normal((64, 130))
    y = rng.integers(0, 64, 130)
    assert microkernel.use_panels(128, 64, 130) and microkernel.use_panels(64, 128, 130)
    g = net.gradients(X, y)
    # finite differences on a sample of the parameters (all 16k would take minutes)
    flat = net.flatten_gradients(g)
    params = net.get_parameters()
    picks = rng.choice(params.size, 24, replace=False)
    h = 1e-6
    for q in picks:
        p = params.copy()
        p[q] += h
        net.set_parameters(p)
        up = net.cost(X, y)
        p[q] -= 2 * h
        net.set_parameters(p)
        down = net.cost(X, y)
        net.set_parameters(params)
        assert (up - down) / (2 * h) == pytest.approx(flat[q], rel=1e-5, abs=1e-9)
