"""One twin test per equation of the registry (:data:`fnn_numba.equations.EQUATIONS`).

For every entry, on the shapes its :class:`~fnn_numba.equations.Case` lists
(full and edge tiles, m = 1, n = 1) and every activation, cost or fused pair
it covers:

- the CPU kernel against the index-level reference and the vectorised NumPy
  form (float64, 1e-12);
- the CUDA kernel in Numba's CUDA simulator against the CPU kernel (1e-10).
  The simulator must be switched on before numba is imported, so, as in
  ``tests/test_cuda_sim.py``, those checks run in a child process (this file
  run as a script with NUMBA_ENABLE_CUDASIM=1) on a few small shapes, and
  each entry's test reads its part of the child's report.

A test id is the entry's label and role ("P1 (13) dW"): the reader looking
for an equation finds its twins in the registry entry and its tests here.
"""

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from fnn_numba import equations
from fnn_numba.equations import EQUATIONS

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
TOL = dict(rtol=1e-12, atol=1e-12)
CUDA_TOL = dict(rtol=1e-10, atol=1e-12)


def _rng(eq):
    return np.random.default_rng(zlib.crc32(eq.id.encode()))


def _trials(eq, dims):
    rng = _rng(eq)
    for variant in eq.variants:
        for d in dims:
            yield f"{variant} {d}", eq.case.draw(rng, d, variant)


def test_registry_is_consistent():
    ids = [eq.id for eq in EQUATIONS]
    assert len(ids) == len(set(ids))
    labels = {eq.label for eq in EQUATIONS}
    assert {
        "P1 (1)",
        "P1 (2)",
        "P1 (9)",
        "P1 (13)",
        "P1 (14)",
        "P1 (17)",
        "P1 (21)",
        "P2 (1)",
        "P2 (2)",
        "P2 (3)",
        "P2 (4)",
        "P2 (5)",
        "P2 (6)",
        "P2 (7)",
        "P2 (8)",
    } <= labels
    # every activation has exactly one forward and one closed-form entry
    for name in equations.ACTIVATIONS:
        assert sum(name in eq.variants for eq in EQUATIONS if eq.role == "A") == 1
        assert sum(name in eq.variants for eq in EQUATIONS if eq.role == "dZ closed form") == 1
    [p13] = equations.find("P1 (13)")
    assert p13.twins() == {
        "cpu": "fnn_numba.kernels.dw_db_backward",
        "cuda": "fnn_numba.gpu_kernels.dw_db_backward_cuda",
        "reference": "fnn_numba.reference.dw_reference",
        "vectorized": "fnn_numba.vectorized.dw_vectorized",
    }
    assert p13.launcher_name == "launch_dw_db_backward"
    # the conv family: its labels, its kernels in conv_kernels, its CUDA twins in gpu_conv
    assert {
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
    } <= labels
    assert [e.role for e in equations.find("CNN (4)")] == ["conv dA", "conv dA flipped"]
    [cnn2] = equations.find("CNN (2)")
    assert cnn2.twins() == {
        "cpu": "fnn_numba.conv_kernels.conv_dw_db",
        "cuda": "fnn_numba.gpu_conv.conv_dw_db_cuda",
        "reference": "fnn_numba.reference.conv_dw_reference",
        "vectorized": "fnn_numba.vectorized.conv_dw_vectorized",
    }
    assert cnn2.launcher_name == "launch_conv_dw_db"
    assert (
        equations.entry("dropout").cuda is None
        and equations.entry("dropout").twins()["cuda"] is None
    )
    # the cost with example weights: J, its seed and its fused delta, each with its own kernel
    assert [(e.role, e.kernel_name) for e in equations.find("weighted")] == [
        ("weighted J", "weighted_mean_of"),
        ("weighted seed", "cost_seed_weighted"),
        ("weighted fused dZ", "output_delta_fused_weighted"),
    ]
    # every layer kind's equations are in the registry
    from fnn_numba import layers

    for cls in (
        layers.Dense,
        layers.Conv2D,
        layers.MaxPool2D,
        layers.AvgPool2D,
        layers.Subsample2D,
        layers.Flatten,
        layers.Dropout,
    ):
        assert set(cls.forward_equations + cls.backward_equations) <= labels, cls
    with pytest.raises(KeyError, match="label"):
        equations.find("P1 (99)")
    with pytest.raises(KeyError, match="role"):
        equations.entry("no such role")


@pytest.mark.parametrize("eq", EQUATIONS, ids=lambda eq: eq.id)
def test_cpu_kernel_matches_reference_and_numpy(eq):
    checked = 0
    for where, trial in _trials(eq, eq.case.dims):
        fast = trial.cpu(eq.kernel)
        np.testing.assert_allclose(
            fast, trial.reference(eq.reference), **TOL, err_msg=f"{eq.id} {where}"
        )
        if eq.vectorized is not None:
            np.testing.assert_allclose(
                fast, trial.vectorized(eq.vectorized), **TOL, err_msg=f"{eq.id} {where} numpy"
            )
        checked += 1
    assert checked == len(eq.variants) * len(eq.case.dims)


def test_a_conv_kernel_that_forgets_the_flip_fails_its_twin_check():
    """CNN (4) with the kernel's flip forgotten fails against both references
    (the direct sum and the padded, flipped form) and the NumPy forms."""
    for eq in equations.find("CNN (4)"):

        def unflipped(w, dz, da_prev, H, W, stride, pad, eq=eq):
            eq.kernel(np.ascontiguousarray(w[:, :, ::-1, ::-1]), dz, da_prev, H, W, stride, pad)

        _, trial = next(_trials(eq, [(2, 7, 6, 2, 3, 3, 1, 1, 4)]))
        with pytest.raises(AssertionError):
            np.testing.assert_allclose(trial.cpu(unflipped), trial.reference(eq.reference), **TOL)
        with pytest.raises(AssertionError):
            np.testing.assert_allclose(trial.cpu(unflipped), trial.vectorized(eq.vectorized), **TOL)
        np.testing.assert_allclose(trial.cpu(eq.kernel), trial.reference(eq.reference), **TOL)


def test_a_slipped_kernel_fails_its_twin_check():
    """The comparison can fail: dw_db_backward with dW scaled by 1 + 1e-9."""
    [p13] = equations.find("P1 (13)")

    def nudged(dz, a_prev, w, l2, dw, db, *scratch):
        p13.kernel(dz, a_prev, w, l2, dw, db, *scratch)
        dw *= 1 + 1e-9

    _, trial = next(_trials(p13, [(5, 9, 8)]))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(trial.cpu(nudged), trial.reference(p13.reference), **TOL)


def test_weighted_kernels_that_forget_the_weights_fail_their_twin_checks():
    """The weighted seed and fused delta with 1/m in place of s_i / S (what
    the unweighted kernels compute) fail against the weighted reference and
    NumPy form; so does the plain mean in place of the weighted one."""
    from fnn_numba import kernels

    forgetful = {
        "weighted seed": lambda code, a, y, s, out: kernels.cost_seed(code, a, y, out),
        "weighted fused dZ": lambda code, a, y, s, out: kernels.output_delta_fused(code, a, y, out),
        "weighted J": lambda losses, s: kernels.mean_of(losses),
    }
    for role, slipped in forgetful.items():
        eq = equations.entry(role)
        _, trial = next(_trials(eq, [(4, 3)]))
        np.testing.assert_allclose(trial.cpu(eq.kernel), trial.reference(eq.reference), **TOL)
        for twin in (trial.reference(eq.reference), trial.vectorized(eq.vectorized)):
            with pytest.raises(AssertionError):
                np.testing.assert_allclose(trial.cpu(slipped), twin, **TOL, err_msg=role)


# ------------------------------------------------------------- CUDA simulator
@pytest.fixture(scope="module")
def cuda_report(tmp_path_factory):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    out = tmp_path_factory.mktemp("equations_sim") / "out.txt"
    with open(out, "w+") as f:
        p = subprocess.run(
            [sys.executable, str(HERE)], env=env, stdout=f, stderr=subprocess.STDOUT, timeout=1200
        )
        f.seek(0)
        text = f.read()
    assert p.returncode == 0, text[-5000:]
    report = json.loads(text.strip().splitlines()[-1])
    assert report.pop("simulator") is True
    return report


@pytest.mark.parametrize("eq", [eq for eq in EQUATIONS if eq.cuda], ids=lambda eq: eq.id)
def test_cuda_kernel_matches_cpu_in_the_simulator(eq, cuda_report):
    result = cuda_report[eq.id]
    assert result["failures"] == [], result["failures"]
    assert result["kernel"] == eq.cuda
    assert result["checked"] == len(eq.variants) * len(eq.case.cuda_dims)


def _cuda_checks():
    # the simulator runs each CUDA thread as a Python thread that hands the
    # GIL on at every syncthreads: a short switch interval keeps it moving
    sys.setswitchinterval(1e-5)
    import importlib

    gpu = importlib.import_module("fnn_numba.gpu_kernels")
    # small blocks, so that the tiny shapes still span several blocks and edge tiles
    for name, value in (("THREADS_PER_BLOCK", 8), ("GEMM_THREADS", 2), ("REDUCE_BLOCKS", 3)):
        if hasattr(gpu, name):
            setattr(gpu, name, value)
    report = {}
    for eq in EQUATIONS:
        if not eq.cuda:
            continue
        failures, checked = [], 0
        kernel = eq.cuda_kernel()
        launcher = eq.cuda_launcher()
        for where, trial in _trials(eq, eq.case.cuda_dims):
            got, want = trial.cuda(launcher), trial.cpu(eq.kernel)
            got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
            if got.shape != want.shape or not np.allclose(got, want, **CUDA_TOL):
                err = np.max(np.abs(got - want)) if got.shape == want.shape else "shape"
                failures.append(f"{where}: max abs error {err} (shapes {got.shape} {want.shape})")
            checked += 1
        report[eq.id] = dict(failures=failures, checked=checked, kernel=kernel.__name__)
    from numba import config

    report["simulator"] = bool(config.ENABLE_CUDASIM)
    return report


if __name__ == "__main__":
    assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run by test_equations.py (the simulator)"
    print(json.dumps(_cuda_checks()))
