"""Every fast kernel against the index-level reference and the vectorised
NumPy form, float64, on shapes that cover full 4 x 4 tiles, edge tiles,
m = 1 and n = 1."""
import numpy as np
import pytest

from fnn_numba import kernels, reference as R, vectorized as Vec
from fnn_numba.activations import ACTIVATIONS
from fnn_numba.costs import COSTS

from conftest import ALL_ACTIVATIONS, ALL_COSTS, targets_for

SHAPES = [(1, 1, 1), (3, 5, 1), (1, 7, 4), (4, 4, 4), (5, 9, 8), (9, 4, 7), (13, 17, 11)]
TOL = dict(rtol=1e-12, atol=1e-12)
#: P1 (13) switches loop order at kernels.DW_OUTER_MAX_BATCH examples and
#: DW_DOT_MIN_ROWS rows; these shapes run both orders, edge tiles of each,
#: and a run of k longer than one outer-product chunk
GEMM_SHAPES = SHAPES + [(6, 530, 9), (133, 9, 70), (5, 9, 390), (16, 7, 384), (17, 9, 385), (19, 6, 388),
                        (130, 9, 6)]


def F(a):
    return np.asfortranarray(a)


@pytest.mark.parametrize("n,K,m", SHAPES)
def test_z_forward_p1_1(n, K, m, rng):
    w, b, a = rng.standard_normal((n, K)), rng.standard_normal(n), F(rng.standard_normal((K, m)))
    z = np.zeros((n, m), order="F")
    kernels.z_forward(w, b, a, z)
    np.testing.assert_allclose(z, R.z_reference(w, b, a), **TOL)
    np.testing.assert_allclose(z, Vec.z_vectorized(w, b, a), **TOL)


def test_gemm_shapes_run_both_loop_orders():
    dot = [(n, m) for n, _, m in GEMM_SHAPES
           if m >= kernels.DW_OUTER_MAX_BATCH and n >= kernels.DW_DOT_MIN_ROWS]
    assert {n % kernels.TILE for n, _ in dot} >= {0, 1, 3}        # full and edge tiles
    assert any(m < kernels.DW_OUTER_MAX_BATCH for _, _, m in GEMM_SHAPES)
    assert max(K for _, K, _ in GEMM_SHAPES) > kernels.OUTER_CHUNK
    # P1 (21): several row blocks with a remainder row, several panels with edge columns
    assert any(n > kernels.DA_ROWS_BLOCK and n % kernels.TILE and m > kernels.DA_PANEL and m % kernels.TILE
               for n, _, m in GEMM_SHAPES)


@pytest.mark.parametrize("n,K,m", GEMM_SHAPES)
def test_dw_db_backward_p1_13_14(n, K, m, rng):
    dz, a, w = F(rng.standard_normal((n, m))), F(rng.standard_normal((K, m))), rng.standard_normal((n, K))
    dw, db = np.zeros((n, K)), np.zeros(n)
    scratch = np.zeros((n, m)), np.zeros((K, m))
    kernels.dw_db_backward(dz, a, w, 0.0, dw, db, *scratch)
    np.testing.assert_allclose(dw, R.dw_reference(dz, a), **TOL)
    np.testing.assert_allclose(dw, Vec.dw_vectorized(dz, a), **TOL)
    np.testing.assert_allclose(db, R.db_reference(dz), **TOL)
    np.testing.assert_allclose(db, Vec.db_vectorized(dz), **TOL)
    kernels.dw_db_backward(dz, a, w, 0.3, dw, db, *scratch)
    np.testing.assert_allclose(dw, R.dw_reference(dz, a) + 0.3 * w, **TOL)


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 70), (70, 3), (33, 65)])
def test_copy_matrix_changes_storage_order_only(rows, cols, rng):
    src = rng.standard_normal((rows, cols))
    for a, order in ((src, "F"), (F(src), "C")):
        dst = np.zeros((rows, cols), order=order)
        kernels.copy_matrix(a, dst)
        np.testing.assert_array_equal(dst, src)


@pytest.mark.parametrize("n,K,m", GEMM_SHAPES)
def test_da_prev_backward_p1_21(n, K, m, rng):
    w, dz = rng.standard_normal((n, K)), F(rng.standard_normal((n, m)))
    da = np.zeros((K, m), order="F")
    kernels.da_prev_backward(w, dz, da)
    np.testing.assert_allclose(da, R.da_prev_reference(w, dz), **TOL)
    np.testing.assert_allclose(da, Vec.da_prev_vectorized(w, dz), **TOL)


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
@pytest.mark.parametrize("n,m", [(1, 1), (1, 5), (4, 1), (6, 9)])
def test_activation_forward_and_dz_backward(name, n, m, rng):
    z = F(rng.standard_normal((n, m)) * 2)
    a = np.zeros_like(z)
    kernels.activation_forward(ACTIVATIONS[name], z, a)
    np.testing.assert_allclose(a, R.a_reference(name, z), **TOL)
    np.testing.assert_allclose(a, Vec.a_vectorized(name, z), **TOL)
    da = F(rng.standard_normal((n, m)))
    dz = np.zeros_like(z)
    kernels.dz_backward(ACTIVATIONS[name], z, a, da, dz)
    # the closed form against the general Jacobian rule P1 (17) it was derived from
    np.testing.assert_allclose(dz, R.dz_general_reference(name, z, a, da), **TOL)
    np.testing.assert_allclose(dz, R.dz_closed_form_reference(name, z, a, da), **TOL)
    np.testing.assert_allclose(dz, Vec.dz_vectorized(name, z, a, da), **TOL)
    # in place, as the training drivers run it (dJ/dZ over dJ/dA): the same bits
    in_place = da.copy(order="F")
    kernels.dz_backward(ACTIVATIONS[name], z, a, in_place, in_place)
    np.testing.assert_array_equal(in_place, dz)


@pytest.mark.parametrize("cost", ALL_COSTS)
@pytest.mark.parametrize("n,m", [(1, 1), (3, 1), (1, 6), (5, 7)])
def test_cost_and_seed(cost, n, m, rng):
    y_hat = F(rng.uniform(0.05, 0.95, (n, m)))
    y = F(targets_for(cost, n, m, rng))
    losses = np.zeros(m)
    kernels.example_losses(COSTS[cost], ACTIVATIONS["identity"], False, y_hat, y_hat, y, losses)
    np.testing.assert_allclose(losses, R.losses_reference(cost, y_hat, y), **TOL)
    np.testing.assert_allclose(kernels.mean_of(losses), R.cost_reference(cost, y_hat, y), **TOL)
    np.testing.assert_allclose(kernels.mean_of(losses), Vec.cost_vectorized(cost, y_hat, y), **TOL)
    da = np.zeros_like(y_hat)
    kernels.cost_seed(COSTS[cost], y_hat, y, da)
    np.testing.assert_allclose(da, R.seed_reference(cost, y_hat, y), **TOL)
    np.testing.assert_allclose(da, Vec.seed_vectorized(cost, y_hat, y), **TOL)


@pytest.mark.parametrize("out,cost", [("sigmoid", "binary_cross_entropy"),
                                      ("softmax", "categorical_cross_entropy")])
@pytest.mark.parametrize("n,m", [(1, 1), (4, 3), (7, 9)])
def test_fused_output_equals_general_path(out, cost, n, m, rng):
    if out == "softmax" and n == 1:
        pytest.skip("a one-unit softmax is constant")
    z = F(rng.standard_normal((n, m)) * 3)
    y = F(targets_for(cost, n, m, rng))
    a = np.zeros_like(z)
    kernels.activation_forward(ACTIVATIONS[out], z, a)
    fused = np.zeros_like(z)
    kernels.output_delta_fused(ACTIVATIONS[out], a, y, fused)
    general = R.dz_general_reference(out, z, a, R.seed_reference(cost, a, y))
    np.testing.assert_allclose(fused, general, rtol=1e-10, atol=1e-13)
    # the fused cost (from logits) equals the general one (from a)
    lf, lg = np.zeros(m), np.zeros(m)
    kernels.example_losses(COSTS[cost], ACTIVATIONS[out], True, z, a, y, lf)
    kernels.example_losses(COSTS[cost], ACTIVATIONS[out], False, z, a, y, lg)
    np.testing.assert_allclose(lf, lg, rtol=1e-10)
    np.testing.assert_allclose(lf, R.losses_reference(cost, a, y), rtol=1e-10)


def test_float32_kernels_keep_float32(rng):
    n, K, m = 6, 10, 9
    w = rng.standard_normal((n, K)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    a = F(rng.standard_normal((K, m)).astype(np.float32))
    z = np.zeros((n, m), np.float32, order="F")
    kernels.z_forward(w, b, a, z)
    np.testing.assert_allclose(z, R.z_reference(w.astype(float), b.astype(float), a.astype(float)),
                               rtol=1e-5, atol=1e-5)
    out = np.zeros_like(z)
    for name, code in ACTIVATIONS.items():
        kernels.activation_forward(code, z, out)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, R.a_reference(name, z.astype(float)), rtol=2e-6, atol=2e-6)
