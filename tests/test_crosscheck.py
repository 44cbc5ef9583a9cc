"""The cross-check: it passes on every activation, cost and fused pair; it
fails, on the right equation's row and only on the rows downstream of it,
when a known slip is planted into a copy of a kernel; its CLI entry; the
symbolic rows; its argument checks.

Planting a slip: inside ``with _with_kernels({name or (name, layer): copy})``
(a private, testing-only context of :mod:`fnn_numba.verify`) the check runs
``copy`` in place of ``fnn_numba.kernels.<name>`` (for that layer). The
copies below are plain Python: the kernel's own loops with one slip each.
"""

import argparse
import importlib.util
import sys

import numpy as np
import pytest
from conftest import ALL_ACTIVATIONS, OUTPUTS, random_network, targets_for

import fnn_numba as fnn
from fnn_numba import conv_kernels as ck
from fnn_numba import equations, kernels, reference, symbolic, verify
from fnn_numba.activations import LEAKY_RELU, SOFTMAX, activation_slope
from fnn_numba.costs import COSTS, loss_slope
from fnn_numba.layers import AvgPool2D, Conv2D, Dense, Flatten, Input, MaxPool2D, Subsample2D
from fnn_numba.verify import (
    KERNEL_NAMES,
    TOLERANCES,
    CrosscheckReport,
    _with_kernels,
    add_cli_arguments,
    cli_main,
    crosscheck,
    default_conv_layers,
)

HAS_SYMPY = importlib.util.find_spec("sympy") is not None


def data_for(net, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((net.sizes[0], m))
    return X, targets_for(net.cost_name, net.sizes[-1], m, rng)


def failing(report):
    return {r.quantity for r in report.rows if not r.passed}


# ------------------------------------------------------------- it passes
def _cases():
    """Every output each cost allows, the hidden layers cycling through every
    activation: every activation meets every position it can take."""
    cases, c = [], 0
    for cost, outs in OUTPUTS.items():
        for out in outs:
            hidden = ALL_ACTIVATIONS[c % len(ALL_ACTIVATIONS)]
            c += 1
            cases.append((hidden, out, cost))
    return cases


def test_a_batch_long_enough_for_the_dot_product_order_of_p1_13_passes():
    """The dot-product order of P1 (13) (batch >= DW_OUTER_MAX_BATCH, a layer of
    >= DW_DOT_MIN_ROWS units) against the reference, NumPy and finite differences."""
    m = kernels.DW_OUTER_MAX_BATCH
    net = random_network(
        [3, kernels.DW_DOT_MIN_ROWS, 2], ["tanh", "softmax"], "categorical_cross_entropy", seed=4
    )
    X, Y = data_for(net, m)
    report = crosscheck(net, X, Y, symbolic=False)
    assert report.passed, str(report)
    assert set(report.find("dJ/dW[1]").comparisons) == {
        "reference",
        "numpy",
        "finite diff",
        "net.gradients",
    }


@pytest.mark.parametrize("hidden,out,cost", _cases())
def test_every_row_passes_on_a_correct_library(hidden, out, cost):
    net = random_network([3, 5, 4], [hidden, out], cost, seed=2, l2=0.03)
    X, Y = data_for(net, 3)
    report = crosscheck(net, X, Y, symbolic=False)
    assert report.passed, str(report)
    # every equation has its row, and the witnesses it should have
    labels = {r.equation for r in report.rows}
    assert {
        "P1 (1)",
        "P1 (13)",
        "P1 (14)",
        "P1 (17)",
        "P1 (21)",
        "P1 (9)",
        "cost",
        "seed",
        "L2",
    } <= labels
    assert ("fused" in labels) == (
        (out, cost)
        in {("sigmoid", "binary_cross_entropy"), ("softmax", "categorical_cross_entropy")}
    )
    for q in ("dJ/dW[1]", "dJ/db[2]", "dJ/dX"):
        assert set(report.find(q).comparisons) == {
            "reference",
            "numpy",
            "finite diff",
            "net.gradients",
        }
    assert "finite diff" in report.find("da[2]/dz[2] Jacobian").comparisons
    # the rows are in the order they are computed: forward, cost, seed, backward from L
    quantities = [r.quantity for r in report.rows]
    assert (
        quantities.index("Z[1] = W[1] A[0] + b[1]")
        < quantities.index("dJ/dA[2] = (1/m) dL_i/dy_hat")
        < quantities.index("dJ/dW[2]")
        < quantities.index("dJ/dW[1]")
        < quantities.index("dJ/dX = dJ/dA[0]")
    )


def test_the_fast_chain_is_what_net_gradients_runs():
    """The kernel-by-kernel chain reproduces the jitted engine bit for bit,
    so what the report checks is what fit runs."""
    net = random_network(
        [4, 6, 5, 3], ["elu", "tanh", "softmax"], "categorical_cross_entropy", seed=5, l2=0.1
    )
    X, Y = data_for(net, 9)
    report = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    for q in ("dJ/dW[1]", "dJ/dW[3]", "dJ/db[2]", "dJ/dX", "J = "):
        assert report.find(q).comparisons["net.gradients"].max_abs == 0.0


def test_float32_network_is_checked_on_a_float64_copy_and_left_alone():
    net = random_network(
        [3, 4, 2], ["tanh", "sigmoid"], "binary_cross_entropy", seed=1, dtype=np.float32
    )
    before = net.get_parameters()
    X, Y = data_for(net, 4)
    report = crosscheck(net, X.astype(np.float32), Y, symbolic=False)
    assert report.passed, str(report)
    assert any("float32" in n and "float64" in n for n in report.notes)
    assert "float32" in str(report)
    np.testing.assert_array_equal(net.get_parameters(), before)
    assert net.dtype == np.float32


def test_labels_are_accepted_for_categorical_cross_entropy():
    net = random_network([3, 4, 3], ["relu", "softmax"], "categorical_cross_entropy", seed=4)
    X = np.random.default_rng(0).standard_normal((3, 5))
    report = crosscheck(net, X, np.array([0, 2, 1, 1, 0]), symbolic=False, finite_differences=False)
    assert report.passed


def test_l2_argument_overrides_the_network():
    net = random_network([3, 4, 2], ["tanh", "identity"], "squared_error", seed=1, l2=0.0)
    X, Y = data_for(net, 3)
    report = crosscheck(net, X, Y, l2=0.5, symbolic=False)
    assert report.passed, str(report)
    assert "l2 = 0.5" in report.title and report.find("J = (1/m) sum_i L_i + L2 term")
    assert net.l2 == 0.0


# ------------------------------------------------------- it catches slips
SLIP_NET = dict(sizes=[4, 6, 5, 3], cost="squared_error")


def _slip_report(activations, mapping, seed=11, cost="squared_error", sizes=None):
    net = random_network(sizes or SLIP_NET["sizes"], activations, cost, seed=seed, l2=0.02)
    X, Y = data_for(net, 5, seed=seed)
    with _with_kernels(mapping):
        return crosscheck(net, X, Y, symbolic=False)


def _backward_rows_from(report, layer):
    """Quantities of the rows computed from dJ/dZ[layer] on: those of layer
    ``layer`` (but its Jacobian) and every dJ/dZ, dW, db, dA below it."""
    out = set()
    for l in range(layer, 0, -1):
        out |= {
            f"dJ/dZ[{l}] closed form",
            f"dJ/dZ[{l}] = sum_p",
            f"dJ/dW[{l}]",
            f"dJ/db[{l}]",
            "dJ/dX = dJ/dA[0]" if l == 1 else f"dJ/dA[{l - 1}]",
        }
    return {r.quantity for r in report.rows if any(r.quantity.startswith(q) for q in out)}


def dz_backward_softmax_derivative_is_softmax(code, z, a, da, dz):
    """dz_backward with slip (i): softmax's "derivative" taken to be softmax
    itself (as exp's would be): dz = da * a, no cross-sum over p."""
    n, m = z.shape
    for i in range(m):
        for j in range(n):
            if code == SOFTMAX:
                dz[j, i] = da[j, i] * a[j, i]
            else:
                dz[j, i] = da[j, i] * activation_slope(code, z[j, i], a[j, i])


def test_slip_softmax_derivative_returning_softmax():
    report = _slip_report(
        ["tanh", "softmax", "identity"], {"dz_backward": dz_backward_softmax_derivative_is_softmax}
    )
    expected = {"da[2]/dz[2] Jacobian (softmax)"} | _backward_rows_from(report, 2)
    assert failing(report) == expected, str(report)
    assert report.first_failure.quantity == "da[2]/dz[2] Jacobian (softmax)"
    assert report.first_failure.equation == "P1 (17)"
    assert report.find("dJ/dZ[2] closed form").equation == "P2 (8)"
    # every independent witness disagrees with the slipped kernel, not just one
    assert all(not c.passed for c in report.find("dJ/dZ[2] closed form").comparisons.values())


def dz_backward_leaky_slope_differs(code, z, a, da, dz):
    """dz_backward with slip (ii): leaky ReLU's backward slope for z <= 0 is
    0.1 while its forward pass uses 0.01."""
    n, m = z.shape
    if code != LEAKY_RELU:
        kernels.dz_backward(code, z, a, da, dz)
        return
    for i in range(m):
        for j in range(n):
            dz[j, i] = da[j, i] * (1.0 if z[j, i] > 0 else 0.1)


def test_slip_leaky_relu_backward_slope_differs_from_forward():
    report = _slip_report(
        ["leaky_relu", "tanh", "identity"], {"dz_backward": dz_backward_leaky_slope_differs}
    )
    expected = {"da[1]/dz[1] Jacobian (leaky_relu)"} | _backward_rows_from(report, 1)
    assert failing(report) == expected, str(report)
    # the finite-difference Jacobian of the forward kernel is what exposes it
    assert not report.find("da[1]/dz[1] Jacobian").comparisons["finite diff"].passed


def dw_db_backward_transposed(dz, a_prev, w, l2, dw, db, *scratch):
    """dw_db_backward with slip (iii): dW computed as A[l-1] dZ^T, a (K, n)
    matrix, poured into the (n, K) buffer (the transpose where n = K)."""
    n, K = dw.shape
    m = dz.shape[1]
    wrong = np.zeros((K, n))
    for k in range(K):
        for j in range(n):
            s = 0.0
            for i in range(m):
                s += a_prev[k, i] * dz[j, i]
            wrong[k, j] = s
    dw[...] = wrong.reshape(n, K) + l2 * w
    for j in range(n):
        db[j] = sum(dz[j, i] for i in range(m))


def test_slip_dw_transposed():
    # W[2] is square (5 x 5): there the slip is exactly the transpose, found by value
    report = _slip_report(
        ["sigmoid", "relu", "identity"],
        {"dw_db_backward": dw_db_backward_transposed},
        sizes=[4, 5, 5, 3],
    )
    assert failing(report) == {"dJ/dW[1]", "dJ/dW[2]", "dJ/dW[3]"}, str(report)
    assert {r.equation for r in report.rows if not r.passed} == {"P1 (13)"}


def dw_db_backward_without_mean(dz, a_prev, w, l2, dw, db, *scratch):
    """dw_db_backward with slip (iv): the sums over i of dL_i/dz, without the
    1/m of J = (1/m) sum_i L_i (dJ/dZ carries the 1/m, so this is m dJ/dW)."""
    n, K = dw.shape
    m = dz.shape[1]
    for j in range(n):
        for k in range(K):
            dw[j, k] = sum(m * dz[j, i] * a_prev[k, i] for i in range(m)) + l2 * w[j, k]
        db[j] = sum(m * dz[j, i] for i in range(m))


def test_slip_mean_forgotten_in_one_layer():
    report = _slip_report(
        ["tanh", "elu", "identity"], {("dw_db_backward", 2): dw_db_backward_without_mean}
    )
    assert failing(report) == {"dJ/dW[2]", "dJ/db[2]"}, str(report)
    assert report.first_failure.equation == "P1 (13)"


def cost_seed_without_mean(cost_code, a, y, da):
    """cost_seed with the 1/m forgotten: dJ/dA[L] = dL_i/dy_hat."""
    n, m = a.shape
    for i in range(m):
        for j in range(n):
            da[j, i] = loss_slope(cost_code, a[j, i], y[j, i])


def test_slip_mean_forgotten_in_the_seed():
    report = _slip_report(["tanh", "elu", "identity"], {"cost_seed": cost_seed_without_mean})
    expected = {"dJ/dA[3] = (1/m) dL_i/dy_hat"} | _backward_rows_from(report, 3)
    assert failing(report) == expected, str(report)
    assert report.first_failure.equation == "seed"


def output_delta_fused_without_mean(out_code, a, y, dz):
    kernels.output_delta_fused(out_code, a, y, dz)
    dz *= a.shape[1]


def test_slip_in_the_fused_delta_fails_the_fused_row_and_below_only():
    report = _slip_report(
        ["relu", "selu", "softmax"],
        {"output_delta_fused": output_delta_fused_without_mean},
        cost="categorical_cross_entropy",
    )
    # the closed-form rows of layer 3 are the general route (seed, P2 (8)): they still pass
    below = _backward_rows_from(report, 2) | {"dJ/dW[3]", "dJ/db[3]", "dJ/dA[2]"}
    assert failing(report) == {"dJ/dZ[3] fused vs general"} | below, str(report)


def test_a_forward_slip_fails_its_row_first():
    report = _slip_report(
        ["tanh", "sigmoid", "identity"], {("z_forward", 2): z_forward_without_bias}
    )
    assert report.first_failure.quantity == "Z[2] = W[2] A[1] + b[2]"
    assert "Z[1] = W[1] A[0] + b[1]" not in failing(report)
    assert not report.passed


def z_forward_without_bias(w, b, a_prev, z):
    """z_forward with the + b[j] of P1 (1) dropped."""
    kernels.z_forward(w, np.zeros_like(b), a_prev, z)


def test_a_kernel_ignoring_b_fails_p1_1_on_a_freshly_built_network():
    """A new network's biases are all 0, where Z = W A and Z = W A + b agree:
    the check replaces exact zeros (in its copy) so that the slip shows."""
    net = fnn.Network([4, 6, 3], ["tanh", "identity"], "squared_error", seed=0)
    assert all(not b.any() for b in net.biases)
    X, Y = data_for(net, 5)
    assert crosscheck(net, X, Y, symbolic=False).passed
    with _with_kernels({"z_forward": z_forward_without_bias}):
        report = crosscheck(net, X, Y, symbolic=False)
    assert report.first_failure.equation == "P1 (1)"
    assert report.first_failure.quantity == "Z[1] = W[1] A[0] + b[1]"
    assert {"Z[1] = W[1] A[0] + b[1]", "Z[2] = W[2] A[1] + b[2]"} <= failing(report)
    assert any("9 parameters were exactly 0" in n for n in report.notes), report.notes
    with _with_kernels({"z_forward": z_forward_without_bias}):
        quick = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    # without finite differences too, and as the first row: before the fix
    # only the finite differences of dJ/db disagreed
    assert quick.first_failure.quantity == "Z[1] = W[1] A[0] + b[1]", str(quick)
    assert {"Z[1] = W[1] A[0] + b[1]", "Z[2] = W[2] A[1] + b[2]"} <= failing(quick)
    assert all(not b.any() for b in net.biases)  # the network itself is left alone


def test_zero_weights_are_replaced_too_and_a_network_without_zeros_is_checked_as_is():
    net = fnn.Network([3, 4, 2], ["tanh", "identity"], "squared_error", init="zeros", seed=0)
    X, Y = data_for(net, 3)

    def da_prev_backward_zero(w, dz, da_prev):  # dJ/dA[l-1] = 0: right only when W = 0
        da_prev[...] = 0.0

    with _with_kernels({"da_prev_backward": da_prev_backward_zero}):
        report = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    assert {"dJ/dA[1]", "dJ/dX = dJ/dA[0]"} <= failing(report), str(report)
    # a network without zeros is checked at its own parameters
    net = random_network([3, 4, 2], ["tanh", "identity"], "squared_error", seed=3)
    seen = {}

    def z_forward_spy(w, b, a_prev, z):
        seen.setdefault("w", w.copy())
        seen.setdefault("b", b.copy())
        kernels.z_forward(w, b, a_prev, z)

    with _with_kernels({("z_forward", 1): z_forward_spy}):
        report = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    assert report.passed and not any("exactly 0" in n for n in report.notes)
    np.testing.assert_array_equal(seen["w"], net.weights[0])
    np.testing.assert_array_equal(seen["b"], net.biases[0])


# ------------------------------------------------------------------- report
def test_report_table_names_every_row_and_marks_failures():
    report = _slip_report(
        ["tanh", "elu", "identity"], {("dw_db_backward", 2): dw_db_backward_without_mean}
    )
    text = str(report)
    assert text == report.format()
    for r in report.rows:
        assert r.quantity in text
    failing_lines = [line for line in text.splitlines() if line.rstrip().endswith("FAIL")]
    assert len(failing_lines) == 2 and all("P1 (13)" in l or "P1 (14)" in l for l in failing_lines)
    assert "2 FAILED" in text
    assert isinstance(report, CrosscheckReport)
    assert report.failures() == [r for r in report.rows if not r.passed]
    with pytest.raises(KeyError, match="quantity"):
        report.find("no such quantity")


def test_tolerances_are_documented_float64_values():
    assert TOLERANCES["reference"] == (1e-10, 1e-13)
    assert TOLERANCES["finite diff"][0] >= 1e-7

    # a relative slip of 1e-6 in dW is caught by the exact witnesses
    def dw_db_nudged(dz, a_prev, w, l2, dw, db, *scratch):
        kernels.dw_db_backward(dz, a_prev, w, l2, dw, db, *scratch)
        dw *= 1 + 1e-6

    report = _slip_report(["tanh", "tanh", "identity"], {"dw_db_backward": dw_db_nudged})
    row = report.find("dJ/dW[1]")
    assert not row.comparisons["reference"].passed and not row.comparisons["numpy"].passed


# ----------------------------------------------------------------- symbolic
@pytest.mark.skipif(not HAS_SYMPY, reason="needs sympy")
def test_symbolic_rows_cover_every_activation_cost_and_fused_pair():
    rows = symbolic.verify()
    assert all(r.verified for r in rows), symbolic.format_rows(rows)
    text = " ".join(r.statement for r in rows)
    for name in ALL_ACTIVATIONS:
        assert name in text
    for cost in COSTS:
        assert cost in text
    assert {"P2 (2)", "P2 (4)", "P2 (6)", "P2 (8)", "P1 (13)", "P1 (14)", "P1 (21)", "fused"} <= {
        r.equation for r in rows
    }


@pytest.mark.skipif(not HAS_SYMPY, reason="needs sympy")
def test_symbolic_rows_catch_a_kernel_that_departs_from_the_derivative():
    with _with_kernels({"dz_backward": dz_backward_leaky_slope_differs}):
        rows = symbolic.activation_rows(["leaky_relu", "tanh"])
    assert [r.verified for r in rows] == [False, True]
    with _with_kernels({"dz_backward": dz_backward_softmax_derivative_is_softmax}):
        rows = symbolic.activation_rows(["softmax"])
    assert [r.verified for r in rows] == [False, False]
    with _with_kernels({"cost_seed": cost_seed_without_mean}):
        rows = symbolic.cost_rows(["squared_error"])
    assert not rows[0].verified
    # outside the block the real kernels are back
    assert all(r.verified for r in symbolic.activation_rows(["leaky_relu", "softmax"]))


@pytest.mark.skipif(not HAS_SYMPY, reason="needs sympy")
def test_crosscheck_includes_the_networks_symbolic_rows():
    net = random_network([3, 4, 2], ["relu", "sigmoid"], "binary_cross_entropy", seed=0)
    X, Y = data_for(net, 3)
    report = crosscheck(net, X, Y)
    statements = " ".join(r.statement for r in report.symbolic_rows)
    assert (
        "relu" in statements and "binary_cross_entropy" in statements and "tanh" not in statements
    )
    assert any(r.equation == "fused" for r in report.symbolic_rows)
    assert "symbolic (SymPy)" in str(report)
    assert report.passed


def test_missing_sympy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)
    with pytest.raises(ImportError, match="pip install sympy"):
        symbolic.require_sympy()
    net = random_network([3, 4, 2], ["tanh", "identity"], "squared_error", seed=0)
    X, Y = data_for(net, 3)
    with pytest.raises(ImportError, match="pip install sympy"):
        crosscheck(net, X, Y, symbolic=True, finite_differences=False)
    report = crosscheck(net, X, Y, finite_differences=False)
    assert report.symbolic_rows == [] and any("SymPy is not installed" in n for n in report.notes)


# ---------------------------------------------------------------------- CLI
def _args(argv):
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return parser.parse_args(argv)


def test_cli_defaults_cover_every_activation_and_cost(capsys):
    assert cli_main(_args([])) == 0
    out = capsys.readouterr().out
    for name in ALL_ACTIVATIONS:
        assert f"({name})" in out or f"{name}(Z" in out
    for cost in COSTS:
        assert f"cost {cost}" in out
    for label in (
        "P1 (1)",
        "P1 (13)",
        "P1 (14)",
        "P1 (17)",
        "P1 (21)",
        "P2 (2)",
        "P2 (4)",
        "P2 (6)",
        "P2 (8)",
        "fused",
        "seed",
        "L2",
    ):
        assert label in out
    assert "all passed" in out and "FAIL" not in out
    if HAS_SYMPY:
        assert "symbolic (SymPy)" in out


def test_cli_options(capsys):
    argv = [
        "--sizes",
        "3",
        "4",
        "2",
        "--activations",
        "selu",
        "sigmoid",
        "--cost",
        "bce",
        "-m",
        "2",
        "--dtype",
        "float32",
        "--seed",
        "3",
        "--no-symbolic",
    ]
    assert cli_main(_args(argv)) == 0
    out = capsys.readouterr().out
    assert "network 3-4-2, activations [selu, sigmoid], cost binary_cross_entropy, m = 2" in out
    assert "float32" in out and "symbolic (SymPy)" not in out
    assert "crosscheck: 1 networks" in out


def test_cli_exits_non_zero_when_a_row_fails(capsys):
    argv = [
        "--sizes",
        "3",
        "4",
        "2",
        "--activations",
        "tanh",
        "identity",
        "-m",
        "3",
        "--no-symbolic",
    ]
    with _with_kernels({("dw_db_backward", 1): dw_db_backward_without_mean}):
        assert cli_main(_args(argv)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "2 FAILED" in out


@pytest.mark.parametrize(
    "argv,word",
    [
        (["--sizes", "3", "4", "2", "--activations", "relu"], "--activations"),
        (
            ["--sizes", "3", "4", "2", "--activations", "relu", "relu", "--cost", "bce"],
            "activations",
        ),
        (["--activations", "swish", "relu", "relu", "relu"], "--activations"),
        (["--cost", "hinge"], "--cost"),
        (["-m", "0"], "--examples"),
        (["--sizes", "3"], "sizes"),
    ],
)
def test_cli_bad_options_exit_2_naming_the_option(argv, word, capsys):
    assert cli_main(_args(argv + ["--no-symbolic"])) == 2
    assert word in capsys.readouterr().err


def test_the_package_exports_the_function_and_the_cli_delegates_to_its_module():
    from fnn_numba import cli

    assert fnn.crosscheck is crosscheck and crosscheck.__module__ == "fnn_numba.verify"
    # no attributes hang off the function, and no public keyword plants kernels
    assert not {"cli_main", "add_cli_arguments", "main"} & set(vars(crosscheck))
    assert (
        "kernels"
        not in crosscheck.__code__.co_varnames[
            : crosscheck.__code__.co_argcount + crosscheck.__code__.co_kwonlyargcount
        ]
    )
    assert cli.DELEGATED["crosscheck"][0] == "fnn_numba.verify"
    assert verify.cli_main is cli_main and verify.add_cli_arguments is add_cli_arguments


# ---------------------------------------------------------------- bad input
def _small():
    net = random_network([3, 4, 2], ["tanh", "identity"], "squared_error", seed=0)
    return (net,) + data_for(net, 3)


@pytest.mark.parametrize(
    "mapping,exc",
    [
        ({"z_forwards": kernels.z_forward}, ValueError),
        ({("z_forward", 3): kernels.z_forward}, ValueError),  # the network has 2 layers
        ({("z_forward", True): kernels.z_forward}, ValueError),
        ({("z_forward", 0): kernels.z_forward}, ValueError),
        ({"z_forward": 3}, TypeError),
        ([kernels.z_forward], TypeError),
    ],
)
def test_bad_substitutes_name_the_kernels(mapping, exc):
    net, X, Y = _small()
    with pytest.raises(exc, match="kernels"):
        with _with_kernels(mapping):
            crosscheck(net, X, Y)


@pytest.mark.parametrize(
    "kwargs,exc,word",
    [
        (dict(l2=-1.0), ValueError, "l2"),
        (dict(fd_step=0.0), ValueError, "fd_step"),
        (dict(symbolic="yes"), TypeError, "symbolic"),
        (dict(finite_differences=1), TypeError, "finite_differences"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, exc, word):
    net, X, Y = _small()
    with pytest.raises(exc, match=word):
        crosscheck(net, X, Y, **kwargs)


def test_bad_network_and_data():
    net, X, Y = _small()
    with pytest.raises(TypeError, match="net"):
        crosscheck("network", X, Y)
    with pytest.raises(ValueError, match="X"):
        crosscheck(net, X[:2], Y)
    with pytest.raises(ValueError, match="Y"):
        crosscheck(net, X, Y[:, :2])


def test_every_kernel_name_can_be_substituted():
    """A dense network calls every kernel of fnn_numba.kernels (but the fused
    delta, which its cost does not take, and the weighted cost's kernels), a
    fused one with example weights the weighted cost's kernels, the default
    convolutional network every kernel of fnn_numba.conv_kernels: every name
    of the registry."""
    calls = []

    def spy(name):
        module = ck if hasattr(ck, name) and not hasattr(kernels, name) else kernels

        def run(*args):
            calls.append(name)
            return getattr(module, name)(*args)

        return run

    net, X, Y = _small()
    with _with_kernels({name: spy(name) for name in KERNEL_NAMES}):
        report = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    assert report.passed
    dense_names = {name for name in KERNEL_NAMES if hasattr(kernels, name)}
    assert set(calls) == dense_names - {"output_delta_fused"} - WEIGHTED_KERNELS
    calls.clear()
    # the weighted cost's kernels: a fused pair with example weights calls them, not the unweighted ones
    net, X, Y, s = _weighted_case(["tanh", "softmax"], "categorical_cross_entropy", sizes=[3, 4, 3])
    with _with_kernels({name: spy(name) for name in KERNEL_NAMES}):
        report = crosscheck(net, X, Y, symbolic=False, finite_differences=False, sample_weight=s)
    assert report.passed, str(report)
    assert WEIGHTED_KERNELS <= set(calls)
    assert not {"mean_of", "cost_seed", "output_delta_fused"} & set(calls)
    calls.clear()
    net, X, Y = _conv_net(default_conv_layers(), m=3)
    with _with_kernels({name: spy(name) for name in KERNEL_NAMES}):
        report = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    assert report.passed, str(report)
    assert set(calls) >= set(KERNEL_NAMES) - dense_names
    assert set(KERNEL_NAMES) - dense_names == {name for name in KERNEL_NAMES if hasattr(ck, name)}


# ------------------------------------------------------- example weights
#: the kernels of the weighted cost J = sum_i s_i L_i / sum_i s_i
WEIGHTED_KERNELS = {"weighted_mean_of", "cost_seed_weighted", "output_delta_fused_weighted"}
WEIGHTED_SEED_ROW = "dJ/dA[3] = (s_i/S) dL_i/dy_hat"


def _weighted_case(activations, cost, sizes=(4, 6, 5, 3), seed=11, m=5):
    """A network, a batch and uneven example weights, one of them 0."""
    net = random_network(list(sizes), activations, cost, seed=seed, l2=0.02)
    X, Y = data_for(net, m, seed=seed)
    s = np.random.default_rng(seed + 7).uniform(0.2, 3.0, m)
    s[1] = 0.0
    return net, X, Y, s


@pytest.mark.parametrize(
    "activations,cost",
    [
        (["tanh", "elu", "identity"], "squared_error"),
        (["relu", "selu", "softmax"], "categorical_cross_entropy"),
        (["sigmoid", "tanh", "sigmoid"], "binary_cross_entropy"),
        (["elu", "tanh", "exp"], "poisson"),
    ],
)
def test_the_weighted_rows_pass_on_a_correct_library(activations, cost):
    net, X, Y, s = _weighted_case(activations, cost)
    report = crosscheck(net, X, Y, symbolic=False, sample_weight=s)
    assert report.passed, str(report)
    assert "weighted by sample_weight" in report.title
    # the weighted entries replace J, the seed and the fused delta
    labels = [r.equation for r in report.rows]
    assert "seed" not in labels and "P1 (9)" not in labels
    weighted = [r.quantity for r in report.rows if r.equation == "weighted"]
    fused = activations[-1] in ("softmax", "sigmoid")
    assert weighted == ["J = sum s_i L_i / S + L2 term", WEIGHTED_SEED_ROW] + (
        ["dJ/dZ[3] fused vs general (s_i/S)"] if fused else []
    )
    assert set(report.find("J = sum s_i").comparisons) == {"reference", "numpy", "net.gradients"}
    assert set(report.find(WEIGHTED_SEED_ROW).comparisons) == {"reference", "numpy", "finite diff"}
    for q in ("dJ/dW[1]", "dJ/db[3]", "dJ/dX"):
        assert set(report.find(q).comparisons) == {
            "reference",
            "numpy",
            "finite diff",
            "net.gradients",
        }
    # the same batch without weights has no weighted row
    plain = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    assert plain.passed and "weighted" not in {r.equation for r in plain.rows}


def cost_seed_weighted_as_mean(cost_code, a, y, s, da):
    """cost_seed_weighted with the weights forgotten: every column scaled by
    1/m (S taken as m, every s_i as 1)."""
    kernels.cost_seed(cost_code, a, y, da)


def test_slip_weights_forgotten_in_the_seed_fails_the_weighted_seed_and_below():
    net, X, Y, s = _weighted_case(["tanh", "elu", "identity"], "squared_error")
    with _with_kernels({"cost_seed_weighted": cost_seed_weighted_as_mean}):
        report = crosscheck(net, X, Y, symbolic=False, sample_weight=s)
        plain = crosscheck(net, X, Y, symbolic=False)
    assert failing(report) == {WEIGHTED_SEED_ROW} | _backward_rows_from(report, 3), str(report)
    assert report.first_failure.equation == "weighted"
    # the dW rows fail on every witness: the finite differences are of the weighted J
    assert all(not c.passed for c in report.find("dJ/dW[1]").comparisons.values())
    # only the weighted path calls the slipped kernel
    assert plain.passed, str(plain)


def output_delta_fused_weighted_as_mean(out_code, a, y, s, dz):
    kernels.output_delta_fused(out_code, a, y, dz)


def test_slip_weights_forgotten_in_the_fused_delta_fails_the_weighted_fused_row_and_below():
    net, X, Y, s = _weighted_case(["relu", "selu", "softmax"], "categorical_cross_entropy")
    with _with_kernels({"output_delta_fused_weighted": output_delta_fused_weighted_as_mean}):
        report = crosscheck(net, X, Y, symbolic=False, sample_weight=s)
    # the closed-form rows of layer 3 are the general route (the weighted seed, P2 (8)): they pass
    below = _backward_rows_from(report, 2) | {"dJ/dW[3]", "dJ/db[3]", "dJ/dA[2]"}
    assert failing(report) == {"dJ/dZ[3] fused vs general (s_i/S)"} | below, str(report)


def weighted_mean_of_as_mean(values, s):
    return kernels.mean_of(values)


def test_slip_weights_forgotten_in_the_cost_fails_the_weighted_j_row():
    net, X, Y, s = _weighted_case(["tanh", "elu", "identity"], "squared_error")
    with _with_kernels({"weighted_mean_of": weighted_mean_of_as_mean}):
        report = crosscheck(net, X, Y, symbolic=False, finite_differences=False, sample_weight=s)
    assert failing(report) == {"J = sum s_i L_i / S + L2 term"}, str(report)
    assert all(not c.passed for c in report.first_failure.comparisons.values())


@pytest.mark.parametrize(
    "weights,exc,word",
    [
        ([1.0, 2.0], ValueError, "shape"),
        (np.ones((1, 3)), ValueError, "shape"),
        ([1.0, -1.0, 2.0], ValueError, ">= 0"),
        ([1.0, np.nan, 2.0], ValueError, "NaN"),
        ([0.0, 0.0, 0.0], ValueError, "all zero"),
        (["a", "b", "c"], TypeError, "real numbers"),
    ],
)
def test_bad_sample_weight_names_itself(weights, exc, word):
    net, X, Y = _small()
    with pytest.raises(exc, match=f"sample_weight.*{word}"):
        crosscheck(net, X, Y, symbolic=False, sample_weight=weights)


# ----------------------------------------------------- reference additions
def test_fused_references_equal_the_general_ones_and_the_kernels(rng):
    for out, cost in (
        ("sigmoid", "binary_cross_entropy"),
        ("softmax", "categorical_cross_entropy"),
    ):
        z = np.asfortranarray(rng.standard_normal((3, 6)) * 3)
        a = reference.a_reference(out, z)
        y = np.asfortranarray(targets_for(cost, 3, 6, rng))
        np.testing.assert_allclose(
            reference.fused_losses_reference(out, z, y),
            reference.losses_reference(cost, a, y),
            rtol=1e-12,
        )
        general = reference.dz_general_reference(out, z, a, reference.seed_reference(cost, a, y))
        np.testing.assert_allclose(
            reference.fused_delta_reference(out, a, y), general, rtol=1e-10, atol=1e-15
        )
        dz = np.zeros_like(z)
        kernels.output_delta_fused(fnn.ACTIVATIONS[out], a, y, dz)
        np.testing.assert_allclose(
            dz, reference.fused_delta_reference(out, a, y), rtol=1e-12, atol=1e-16
        )
    with pytest.raises(ValueError, match="fused"):
        reference.fused_losses_reference("tanh", z, y)


def test_l2_gradient_reference(rng):
    w = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(reference.l2_gradient_reference(w, 0.25), 0.25 * w)


# ------------------------------------------------- convolution and pooling
def _conv_net(layers, m=4, seed=0, cost="categorical_cross_entropy", l2=0.02):
    """A network of ``layers`` with random parameters that give O(1) z's
    (weights scaled by their fan-in, so that a softmax over many inputs does
    not saturate), and a batch."""
    net = fnn.Network(layers, cost=cost, seed=seed, l2=l2)
    rng = np.random.default_rng(seed + 1000)
    net.weights = [
        rng.standard_normal(w.shape) * 1.2 / np.sqrt(np.prod(w.shape[1:])) for w in net.weights
    ]
    net.biases = [rng.standard_normal(b.shape) * 0.3 for b in net.biases]
    X, Y = data_for(net, m, seed=seed)
    return net, X, Y


#: every conv-family entry of the registry, by role
CONV_ROLES = {e.role for e in equations.EQUATIONS if e.kernel_module == "fnn_numba.conv_kernels"}


def test_the_default_conv_network_has_a_passing_row_for_every_conv_equation():
    net, X, Y = _conv_net(default_conv_layers())
    report = crosscheck(net, X, Y, symbolic=False)
    assert report.passed, str(report)
    quantities = {
        e.row_quantity(l=l, L=net.n_layers, head=h)
        for e in equations.EQUATIONS
        if e.role in CONV_ROLES
        for l in range(1, net.n_layers + 1)
        for h in ("", "dJ/dX = ")
    }
    rows = {r.quantity for r in report.rows}
    # every conv-family equation has its row, under its label
    assert {e.label for e in equations.EQUATIONS if e.role in CONV_ROLES} <= {
        r.equation for r in report.rows
    }
    # forward: 2 conv, max pool, avg pool, subsample, mask, dropout, flatten; backward: unflatten,
    # dropout, subsample dbeta, db, dA, avg pool, 2 x conv dW, db, direct and flipped dA, max pool
    assert len(rows & quantities) == 23, sorted(rows & quantities)
    for q in ("dJ/dW[1] (conv)", "dJ/db[3] (conv)", "dJ/dbeta[5]", "dJ/db[5] (subsample)"):
        assert set(report.find(q).comparisons) == {
            "reference",
            "numpy",
            "finite diff",
            "net.gradients",
        }
    for q in ("dJ/dX = dJ/dA[0] (conv, direct sum)", "dJ/dX = dJ/dA[0] (conv, flipped)"):
        assert set(report.find(q).comparisons) == {
            "reference",
            "numpy",
            "finite diff",
            "net.gradients",
        }
    for q in (
        "dJ/dA[1] (max pool)",
        "dJ/dA[3] (avg pool)",
        "dJ/dA[4] (subsample)",
        "dJ/dA[5] = mask",
        "dJ/dA[6] (unflatten)",
        "dJ/dA[2] (conv, flipped)",
    ):
        assert "finite diff" in report.find(q).comparisons
    assert any("dropout runs as in training" in n for n in report.notes)
    assert "conv 3@3x2 s2 p1 elu" in report.title
    # the rows are in the order they are computed: forward, cost, backward from L
    order = [r.quantity for r in report.rows]
    assert (
        order.index("Z[1] = W[1] (*) A[0] + b[1]")
        < order.index("A[2] = maxpool(A[1])")
        < order.index("dJ/dW[8]")
        < order.index("dJ/dbeta[5] (subsample)")
        < order.index("dJ/dW[1] (conv)")
    )


@pytest.mark.parametrize(
    "layers",
    [
        # relu then max pooling: ties at 0 in the windows, left out of the finite differences only
        [Input((1, 8, 8)), Conv2D(4, 3, padding=1), MaxPool2D(2), Flatten(), Dense(10, "softmax")],
        # stride 2 without padding, even maps, an average pool whose window is the whole map, squared error
        [
            Input((2, 6, 6)),
            Conv2D(3, 2, stride=2, activation="sigmoid"),
            AvgPool2D(3),
            Flatten(),
            Dense(2, "identity"),
        ],
        # a conv output layer and a subsample layer first; no dense layer at all
        [
            Input((3, 7, 5)),
            Subsample2D(2, activation="tanh"),
            Conv2D(2, (2, 1), padding=1, activation="identity"),
        ],
    ],
    ids=["relu-maxpool-ties", "stride2-avgpool", "conv-output"],
)
def test_conv_networks_pass(layers):
    cost = "categorical_cross_entropy" if layers[-1].activation == "softmax" else "squared_error"
    net, X, Y = _conv_net(layers, m=3, cost=cost)
    report = crosscheck(net, X, Y, symbolic=False)
    assert report.passed, str(report)
    if isinstance(layers[2], MaxPool2D):
        assert any("max pool" in n and "leave them out" in n for n in report.notes), report.notes


def test_the_conv_chain_is_what_net_gradients_runs():
    net, X, Y = _conv_net(default_conv_layers(), m=5)
    report = crosscheck(net, X, Y, symbolic=False, finite_differences=False)
    for q in (
        "dJ/dW[1] (conv)",
        "dJ/db[3] (conv)",
        "dJ/dbeta[5]",
        "dJ/dW[8]",
        "dJ/dX",
        "J = ",
        "A[8]",
    ):
        assert report.find(q).comparisons["net.gradients"].max_abs == 0.0, q


def _conv_slip_report(mapping, layers=None, m=4):
    net, X, Y = _conv_net(layers or default_conv_layers(), m=m)
    with _with_kernels(mapping):
        return crosscheck(net, X, Y, symbolic=False)


def conv_forward_without_bias(w, b, a_prev, z, H, W, stride, pad):
    """conv_forward with the + b[f] of CNN (1) dropped."""
    ck.conv_forward(w, np.zeros_like(b), a_prev, z, H, W, stride, pad)


def test_slip_conv_forward_without_bias_fails_cnn_1_first():
    report = _conv_slip_report({("conv_forward", 3): conv_forward_without_bias})
    assert report.first_failure.equation == "CNN (1)"
    assert report.first_failure.quantity == "Z[3] = W[3] (*) A[2] + b[3]"
    # the layers before it are untouched
    assert {"Z[1] = W[1] (*) A[0] + b[1]", "A[2] = maxpool(A[1])"}.isdisjoint(failing(report))
    assert all(not c.passed for c in report.first_failure.comparisons.values())


def conv_dw_db_kernel_flipped(dz, a_prev, w, l2, dw, db, H, W, stride, pad):
    """conv_dw_db with CNN (2) mis-indexed: dw[f,c,u,v] stored at
    [f, c, KH-1-u, KW-1-v] (the flip belongs to CNN (4), not here)."""
    ck.conv_dw_db(dz, a_prev, w, l2, dw, db, H, W, stride, pad)
    dw[...] = dw[:, :, ::-1, ::-1].copy()


def test_slip_conv_dw_mis_indexed_fails_cnn_2_only():
    report = _conv_slip_report({"conv_dw_db": conv_dw_db_kernel_flipped})
    # the L2 row reads the L2 share of the same kernel (dJ/dZ = 0), flipped too
    assert failing(report) == {
        "dJ/dW[1] (conv)",
        "dJ/dW[3] (conv)",
        "l2 W[l] = d/dW[l] of the L2 term",
    }, str(report)
    assert {r.equation for r in report.rows if not r.passed} == {"CNN (2)", "L2"}
    assert not report.find("dJ/dW[3] (conv)").comparisons["finite diff"].passed


def conv_da_prev_not_flipped(w, dz, da_prev, H, W, stride, pad):
    """conv_da_prev with the kernel's flip forgotten: the padded form read
    with w[f, c, u', v'] in place of w[f, c, KH-1-u', KW-1-v']."""
    ck.conv_da_prev(np.ascontiguousarray(w[:, :, ::-1, ::-1]), dz, da_prev, H, W, stride, pad)


def test_slip_conv_da_prev_not_flipped_fails_cnn_4_and_below():
    report = _conv_slip_report({("conv_da_prev", 3): conv_da_prev_not_flipped})
    assert report.first_failure.quantity == "dJ/dA[2] (conv, direct sum)", str(report)
    assert {
        "dJ/dA[2] (conv, direct sum)",
        "dJ/dA[2] (conv, flipped)",
        "dJ/dA[1] (max pool)",
        "dJ/dW[1] (conv)",
    } <= failing(report)
    # everything computed before it still passes
    assert {"dJ/dW[3] (conv)", "dJ/db[3] (conv)", "dJ/dbeta[5] (subsample)"}.isdisjoint(
        failing(report)
    )


def maxpool_backward_to_the_corner(a_prev, da, da_prev, C, H, W, P, Q):
    """maxpool_backward with POOL (2)'s argmax forgotten: every window's
    gradient goes to its top-left entry."""
    da_prev[...] = 0.0
    OH, OW = H // P, W // Q
    for i in range(da.shape[1]):
        for c in range(C):
            for x in range(OH):
                for y in range(OW):
                    da_prev[(c * H + x * P) * W + y * Q, i] = da[(c * OH + x) * OW + y, i]


def test_slip_maxpool_gradient_to_the_wrong_entry_fails_pool_2():
    report = _conv_slip_report({"maxpool_backward": maxpool_backward_to_the_corner})
    assert report.first_failure.equation == "POOL (2)"
    assert report.first_failure.quantity == "dJ/dA[1] (max pool)"
    assert failing(report) >= {"dJ/dA[1] (max pool)", "dJ/dW[1] (conv)"}


def subsample_dbeta_without_mean(dz, a_prev, beta, l2, dbeta, db, C, H, W, P, Q):
    """subsample_dbeta_db with SUB (2)'s window sum in place of its mean."""
    ck.subsample_dbeta_db(dz, a_prev, beta, l2, dbeta, db, C, H, W, P, Q)
    dbeta[...] = (dbeta - l2 * beta) * (P * Q) + l2 * beta


def test_slip_subsample_dbeta_fails_sub_2_only():
    report = _conv_slip_report({"subsample_dbeta_db": subsample_dbeta_without_mean})
    assert failing(report) == {"dJ/dbeta[5] (subsample)"}, str(report)


def dropout_mask_unscaled(rate, key, counter, layer, mask):
    """dropout_mask without the 1 / (1 - rate) of inverted dropout."""
    ck.dropout_mask(rate, key, counter, layer, mask)
    mask *= 1.0 - rate


def test_slip_dropout_mask_fails_drop_1_first():
    report = _conv_slip_report({"dropout_mask": dropout_mask_unscaled})
    assert report.first_failure.equation == "DROP (1)"
    assert report.first_failure.quantity.startswith("mask[6]")
    # net.gradients draws its own masks with the real kernel: the output disagrees with it
    assert not report.find("A[8]").comparisons["net.gradients"].passed


def test_cli_checks_a_conv_network(capsys):
    argv = [
        "--layers",
        "conv2x3s2p1,avgpool2,flatten",
        "--input-shape",
        "2,7,6",
        "--dense",
        "4",
        "3",
        "--activations",
        "elu",
        "tanh",
        "softmax",
        "--cost",
        "cce",
        "-m",
        "2",
        "--no-symbolic",
    ]
    assert cli_main(_args(argv)) == 0
    out = capsys.readouterr().out
    assert (
        "network 2x7x6 -> conv 2@3x3 s2 p1 elu -> avgpool 2x2 -> flatten -> dense 4 tanh -> dense 3 softmax"
        in out
    )
    for label in ("CNN (1)", "CNN (2)", "CNN (3)", "CNN (4)", "POOL (3)", "POOL (4)", "FLATTEN"):
        assert label in out
    assert "crosscheck: 1 networks" in out and "all passed" in out
    with _with_kernels({"conv_dw_db": conv_dw_db_kernel_flipped}):
        assert cli_main(_args(argv)) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_weighted_checks_the_weighted_rows_and_catches_a_slip(capsys):
    """--weighted: the conv network with dropout (the engine witness in
    training mode with the weights) and the weighted rows."""
    argv = [
        "--layers",
        "conv2x3p1,dropout0.25,flatten",
        "--input-shape",
        "1,5,4",
        "--dense",
        "3",
        "--activations",
        "tanh",
        "softmax",
        "--cost",
        "cce",
        "-m",
        "3",
        "--no-symbolic",
        "--weighted",
    ]
    assert cli_main(_args(argv)) == 0
    out = capsys.readouterr().out
    assert "weighted by sample_weight" in out and "all passed" in out
    assert "J = sum s_i L_i / S" in out and "fused vs general (s_i/S)" in out
    with _with_kernels({"output_delta_fused_weighted": output_delta_fused_weighted_as_mean}):
        assert cli_main(_args(argv)) == 1
    assert "fused vs general (s_i/S)" in capsys.readouterr().out


def test_cli_default_includes_the_conv_network(capsys):
    assert cli_main(_args(["--no-symbolic"])) == 0
    out = capsys.readouterr().out
    assert "crosscheck: 5 networks" in out
    for label in (
        "CNN (1)",
        "CNN (2)",
        "CNN (3)",
        "CNN (4)",
        "POOL (1)",
        "POOL (2)",
        "POOL (3)",
        "POOL (4)",
        "SUB (1)",
        "SUB (2)",
        "SUB (3)",
        "SUB (4)",
        "FLATTEN",
        "DROP (1)",
        "DROP (2)",
    ):
        assert f"\n{label}" in out, label


def test_a_network_ending_without_activation_is_refused_naming_the_layer():
    net = fnn.Network([Input((1, 4, 4)), Conv2D(2, 3), MaxPool2D(2)], cost="squared_error")
    with pytest.raises(ValueError, match=r"net: the output layer \(layer 2 \(MaxPool2D\)\)"):
        crosscheck(net, np.ones((16, 2)), np.ones((2, 2)))


def test_maps_are_accepted_as_c_h_w_m_arrays():
    net, X, Y = _conv_net(
        [
            Input((2, 5, 4)),
            Conv2D(2, 3, padding=1, activation="tanh"),
            Flatten(),
            Dense(3, "softmax"),
        ],
        m=3,
    )
    report = crosscheck(net, X.reshape(2, 5, 4, 3), Y, symbolic=False, finite_differences=False)
    assert report.passed and report.find("dJ/dX").shape == (40, 3)


@pytest.mark.parametrize(
    "argv,word",
    [
        (["--layers", "conv2x9"], "--layers"),  # a kernel larger than the 8x8 input
        (["--layers", "pool2"], "--layers"),
        (["--input-shape", "1,8,8"], "--input-shape"),
        (["--dense", "3"], "--dense"),
        (["--layers", "conv2x3", "--sizes", "3", "2"], "--sizes"),
        (["--layers", "conv2x3,flatten", "--activations", "tanh"], "--activations"),
        (["--layers", "conv2x3,flatten", "--activations", "softmax", "softmax"], "--activations"),
    ],
)
def test_cli_bad_conv_options_exit_2_naming_the_option(argv, word, capsys):
    assert cli_main(_args(argv + ["--no-symbolic"])) == 2
    assert word in capsys.readouterr().err


def test_the_seed_step_shrinks_near_a_saturated_output(monkeypatch):
    """A sigmoid output within ~1e-6 of 1 under binary cross-entropy: a
    fixed step 1e-6 reaches across log(1 - a); the step scaled by the
    distance to a = 1 measures the seed."""
    net = random_network([3, 4, 2], ["tanh", "sigmoid"], "binary_cross_entropy", seed=3)
    net.biases = [net.biases[0], np.array([14.0, -13.0])]
    X, Y = data_for(net, 3)
    a = net.forward(X)
    assert np.min(np.minimum(a, 1 - a)) < 1e-5
    report = crosscheck(net, X, Y, symbolic=False)
    assert report.find("dJ/dA[2] = (1/m)").comparisons["finite diff"].passed, str(report)
    monkeypatch.setattr(verify, "_seed_step_scale", lambda cost, a: np.maximum(1.0, np.abs(a)))
    fixed = crosscheck(net, X, Y, symbolic=False)
    assert not fixed.find("dJ/dA[2] = (1/m)").comparisons["finite diff"].passed
