"""Compile every CUDA kernel of fnn_numba.gpu ahead of time, without a GPU:
NVVM to PTX for a compute capability, then ``ptxas`` to machine code, with
each kernel's registers, spills and 128-bit shared loads.

    CUDA_HOME=/usr/local/cuda python tests/cuda_ptx.py      # a JSON report

Needs the CUDA toolkit's NVVM (``$CUDA_HOME/nvvm``) and ``ptxas``; no driver.
numba-cuda asks NVRTC for the list of supported architectures and finds
libdevice through it; where the toolkit has NVVM but no NVRTC (a CUDA 13
toolkit without the NVRTC library, say) :func:`use_toolkit_nvvm` answers
both from the toolkit instead.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def use_toolkit_nvvm(cuda_home):
    """Let numba-cuda compile with the toolkit's NVVM when NVRTC is missing."""
    from numba.cuda.cudadrv import libs, nvrtc, nvvm

    try:
        nvrtc.get_supported_ccs()
        return False
    except Exception:
        pass
    libdevice = os.path.join(cuda_home, "nvvm", "libdevice", "libdevice.10.bc")
    nvrtc.get_supported_ccs = lambda: ((7, 5), (8, 0), (8, 6), (8, 9), (9, 0), (10, 0), (12, 0))
    libs.get_libdevice = nvvm.get_libdevice = lambda: libdevice
    return True


def kernel_signatures(dtype):
    """Each kernel's argument types as the backend launches it, for the NumPy
    ``dtype`` (float32 or float64)."""
    from numba import typeof, types

    from fnn_numba.gpu import fused as gf

    f = typeof(np.zeros(1, dtype)).dtype
    mat_f = types.Array(f, 2, "F")
    mat_c = types.Array(f, 2, "C")
    vec = types.Array(f, 1, "C")
    vec64 = types.Array(types.float64, 1, "C")
    ivec = types.Array(types.int64, 1, "C")
    i64, f64, b1 = types.int64, types.float64, types.boolean
    z1 = np.zeros(1, dtype)
    i1 = np.zeros(1, np.int64)
    d1 = np.zeros(1, np.float64)
    pad = np.zeros((1, 1, 1), dtype)
    net = gf.FusedNet(z1, z1, pad, pad, i1, i1, i1, i1, 0, False, 0.0)
    data = gf.FusedBatches(
        np.zeros((1, 1), dtype, order="F"),
        np.zeros((1, 1), dtype, order="F"),
        i1,
        0,
        0,
        0,
        pad,
        z1,
        d1,
        i1,
    )
    opt = gf.FusedOptimizer(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, z1, z1, z1)
    return {
        "z_forward_cuda": (mat_c, vec, mat_f, mat_f),
        "dw_db_backward_cuda": (mat_f, mat_f, mat_c, f, mat_c, vec),
        "da_prev_backward_cuda": (mat_c, mat_f, mat_f),
        "activation_forward_cuda": (i64, mat_f, mat_f),
        "dz_backward_cuda": (i64, mat_f, mat_f, mat_f, mat_f),
        "example_losses_cuda": (i64, i64, b1, mat_f, mat_f, mat_f, vec),
        "cost_seed_cuda": (i64, mat_f, mat_f, mat_f),
        "output_delta_fused_cuda": (i64, mat_f, mat_f, mat_f),
        "copy_matrix_cuda": (mat_f, mat_c),
        "gather_columns_cuda": (mat_f, ivec, i64, i64, mat_f),
        "mean_of_cuda": (vec, vec64, i64),
        "sum_squares_partial_cuda": (vec, ivec, ivec, vec64),
        "l2_penalty_cuda": (vec64, f64, vec64, i64),
        "gradient_norm_cuda": (vec64, vec64),
        "clip_gradient_norm_cuda": (vec, vec64, f64),
        "cost_is_finite_cuda": (vec64, i64, ivec, i64),
        "optimizer_step_cuda": (i64, vec, vec, vec, i64, f64, f64, f64, f64, f64, vec),
        "step_is_finite_cuda": (vec, vec, ivec, i64),
        "optimizer_commit_cuda": (i64, vec, vec, vec, vec, f64, f64, f64, f64, vec, ivec),
        "train_epoch_fused_cuda": (typeof(net), typeof(data), typeof(opt)),
    }


def all_kernels():
    """{name: dispatcher} of every kernel in fnn_numba.gpu."""
    from fnn_numba.gpu import fused, kernels

    return {
        name: getattr(mod, name)
        for mod in (kernels, fused)
        for name in dir(mod)
        if name.endswith("_cuda")
    }


def compile_ptx_all(cc=(9, 0), dtypes=(np.float32, np.float64)):
    """{(kernel name, dtype name): PTX} for every kernel, by NVVM."""
    from numba import cuda

    kernels = all_kernels()
    out = {}
    for dtype in dtypes:
        for name, sig in kernel_signatures(dtype).items():
            ptx, _ = cuda.compile_ptx(kernels[name].py_func, sig, cc=cc)
            out[(name, np.dtype(dtype).name)] = ptx
    return out


def assemble(ptx, arch="sm_90", ptxas=None):
    """ptxas's verdict on one PTX text: (return code, registers, spill
    bytes, stack bytes, stderr)."""
    ptxas = (
        ptxas
        or shutil.which("ptxas")
        or os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "ptxas")
    )
    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as f:
        f.write(ptx)
        f.flush()
        out = subprocess.run(
            [ptxas, f"-arch={arch}", "-v", f.name, "-o", os.devnull], capture_output=True, text=True
        )
    main = out.stderr
    regs = [int(r) for r in re.findall(r"Used (\d+) registers", main)]
    spills = [int(r) for r in re.findall(r"(\d+) bytes spill stores", main)]
    stack = [int(r) for r in re.findall(r"(\d+) bytes stack frame", main)]
    return out.returncode, max(regs or [0]), max(spills or [0]), max(stack or [0]), main[-400:]


def report(cc=(9, 0)):
    """Compile and assemble everything; a dict for JSON."""
    cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    use_toolkit_nvvm(cuda_home)
    from fnn_numba.gpu import fused

    out = {}
    for (name, dtype), ptx in compile_ptx_all(cc).items():
        rc, regs, spills, stack, err = assemble(ptx, f"sm_{cc[0]}{cc[1]}")
        out[f"{name} {dtype}"] = dict(
            rc=rc,
            regs=regs,
            spills=spills,
            stack=stack,
            err=err,
            vector_shared_loads=len(re.findall(r"ld\.shared\.v[24]\.f(32|64)", ptx)),
            scalar_shared_loads=len(re.findall(r"ld\.shared\.f(32|64)", ptx)),
            float64_ops=len(re.findall(r"\.f64\b", ptx)),
        )
    return {"kernels": out, "fused_threads": fused.FUSED_THREADS}


if __name__ == "__main__":
    try:
        result = report()
    except Exception as exc:  # no NVVM here: nothing to check
        result = {"skip": f"cannot compile PTX here: {exc!r}"[:300]}
    print(json.dumps(result))
