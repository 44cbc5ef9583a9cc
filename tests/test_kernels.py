"""What the per-equation twin tests of ``tests/test_equations.py`` (every
kernel against the index-level reference and the vectorised NumPy form, on
the registry's shapes) leave out: that those shapes reach every loop order,
P1 (13) with its L2 share, storage-order copies, dJ/dZ in place, the fused
output route against the general one, and float32."""

import numpy as np
import pytest
from conftest import ALL_ACTIVATIONS, targets_for

from fnn_numba import kernels, reference
from fnn_numba.activations import ACTIVATIONS
from fnn_numba.costs import COSTS
from fnn_numba.equations import GEMM_DIMS

TOL = dict(rtol=1e-12, atol=1e-12)


def F(a):
    return np.asfortranarray(a)


def test_gemm_shapes_run_both_loop_orders():
    """The shapes the twin tests of P1 (13), (14), (21) run reach both loop
    orders of P1 (13), full and edge tiles of each, and every blocking of P1 (21)."""
    dot = [
        (n, m)
        for n, _, m in GEMM_DIMS
        if m >= kernels.DW_OUTER_MAX_BATCH and n >= kernels.DW_DOT_MIN_ROWS
    ]
    assert {n % kernels.TILE for n, _ in dot} >= {0, 1, 3}  # full and edge tiles
    assert any(m < kernels.DW_OUTER_MAX_BATCH for _, _, m in GEMM_DIMS)
    assert max(K for _, K, _ in GEMM_DIMS) > kernels.OUTER_CHUNK
    # P1 (21): several row blocks with a remainder row, several panels with edge columns
    assert any(
        n > kernels.DA_ROWS_BLOCK and n % kernels.TILE and m > kernels.DA_PANEL and m % kernels.TILE
        for n, _, m in GEMM_DIMS
    )


@pytest.mark.parametrize("n,K,m", GEMM_DIMS)
def test_dw_db_backward_adds_the_l2_share(n, K, m, rng):
    """P1 (13) plus lambda W in one pass, on every loop order."""
    dz, a, w = (
        F(rng.standard_normal((n, m))),
        F(rng.standard_normal((K, m))),
        rng.standard_normal((n, K)),
    )
    dw, db = np.zeros((n, K)), np.zeros(n)
    kernels.dw_db_backward(dz, a, w, 0.3, dw, db, np.zeros((n, m)), np.zeros((K, m)))
    np.testing.assert_allclose(dw, reference.dw_reference(dz, a) + 0.3 * w, **TOL)
    np.testing.assert_allclose(db, reference.db_reference(dz), **TOL)


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 70), (70, 3), (33, 65)])
def test_copy_matrix_changes_storage_order_only(rows, cols, rng):
    src = rng.standard_normal((rows, cols))
    for a, order in ((src, "F"), (F(src), "C")):
        dst = np.zeros((rows, cols), order=order)
        kernels.copy_matrix(a, dst)
        np.testing.assert_array_equal(dst, src)


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
@pytest.mark.parametrize("n,m", [(1, 1), (1, 5), (4, 1), (6, 9)])
def test_dz_backward_in_place_gives_the_same_bits(name, n, m, rng):
    """dJ/dZ written over dJ/dA, as the training drivers run it."""
    z = F(rng.standard_normal((n, m)) * 2)
    a = np.zeros_like(z)
    kernels.activation_forward(ACTIVATIONS[name], z, a)
    da = F(rng.standard_normal((n, m)))
    dz = np.zeros_like(z)
    kernels.dz_backward(ACTIVATIONS[name], z, a, da, dz)
    np.testing.assert_allclose(dz, reference.dz_general_reference(name, z, a, da), **TOL)
    in_place = da.copy(order="F")
    kernels.dz_backward(ACTIVATIONS[name], z, a, in_place, in_place)
    np.testing.assert_array_equal(in_place, dz)


@pytest.mark.parametrize(
    "out,cost", [("sigmoid", "binary_cross_entropy"), ("softmax", "categorical_cross_entropy")]
)
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
    general = reference.dz_general_reference(out, z, a, reference.seed_reference(cost, a, y))
    np.testing.assert_allclose(fused, general, rtol=1e-10, atol=1e-13)
    # the fused cost (from logits) equals the general one (from a)
    lf, lg = np.zeros(m), np.zeros(m)
    kernels.example_losses(COSTS[cost], ACTIVATIONS[out], True, z, a, y, lf)
    kernels.example_losses(COSTS[cost], ACTIVATIONS[out], False, z, a, y, lg)
    np.testing.assert_allclose(lf, lg, rtol=1e-10)
    np.testing.assert_allclose(lf, reference.losses_reference(cost, a, y), rtol=1e-10)


def test_float32_kernels_keep_float32(rng):
    n, K, m = 6, 10, 9
    w = rng.standard_normal((n, K)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    a = F(rng.standard_normal((K, m)).astype(np.float32))
    z = np.zeros((n, m), np.float32, order="F")
    kernels.z_forward(w, b, a, z)
    np.testing.assert_allclose(
        z,
        reference.z_reference(w.astype(float), b.astype(float), a.astype(float)),
        rtol=1e-5,
        atol=1e-5,
    )
    out = np.zeros_like(z)
    for name, code in ACTIVATIONS.items():
        kernels.activation_forward(code, z, out)
        assert out.dtype == np.float32
        np.testing.assert_allclose(
            out, reference.a_reference(name, z.astype(float)), rtol=2e-6, atol=2e-6
        )
