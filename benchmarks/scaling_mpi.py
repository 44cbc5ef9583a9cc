"""Strong and weak scaling of fnn_numba.distributed.fit_distributed, and the
communication model that extrapolates it to 8-64 machines.

    python benchmarks/scaling_mpi.py                  # launches P = 1, 2 and prints both tables
    python benchmarks/scaling_mpi.py --ranks 1 2 4 --steps 5 --json scaling.json
    python benchmarks/scaling_mpi.py --model-only scaling.json   # the model from saved measurements

Each rank runs one Numba thread (NUMBA_NUM_THREADS=1), so P ranks use P cores
and the measurement asks what the data-parallel scheme buys, not how threads
and processes share a core. float32, softmax + categorical cross-entropy,
relu hidden layers, plain SGD; inputs are random (the speed does not depend
on them).

- weak scaling: every rank has the listed batch b; the global batch is P b.
  Ideal: the step time stays flat, throughput grows P-fold.
- strong scaling: the global batch is the listed b, split b / P per rank.
  Ideal: the step time falls P-fold.

The model (see docs/distributed.rst): a step costs the local compute
T_c(b_local), measured here on one rank, plus one allreduce of the
parameter bytes S = 4 n_params:
    ring:               2 (P-1)/P * S / B  +  2 (P-1) * alpha
    recursive doubling: log2(P) * (S / B + alpha)
(MPI libraries pick the cheaper by message size; the model takes the min.)
Compute and communication do not overlap in fit_distributed (the Allreduce
starts after the whole backward pass), so the model adds them.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: the first entry measures the fixed per-step cost (Python, kernel calls, the collective)
OVERHEAD_SHAPE = ([2, 2, 2], 1)
SHAPES = [
    ([64, 32, 10], 32),
    ([784, 128, 10], 64),
    ([784, 512, 512, 10], 256),
    ([2048, 2048, 2048, 10], 1024),
]
#: networks the model is evaluated for: (name, bandwidth bytes/s, latency s)
NETWORKS = [("10 GbE", 1.25e9, 25e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]
MODEL_P = [8, 16, 32, 64]


def n_parameters(sizes):
    return sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1))


# ------------------------------------------------------------------ worker
def _steps_for(sizes, b, requested):
    # the largest shape takes about a second per step on one core: fewer steps
    flops = 6.0 * n_parameters(sizes) * b
    return max(2, min(requested, int(4e10 // flops) + 2))


def worker(args):
    from mpi4py import MPI

    import fnn_numba as fnn
    from fnn_numba.distributed import fit_distributed

    comm = MPI.COMM_WORLD
    rank, P = comm.Get_rank(), comm.Get_size()
    rows = []
    for sizes, b in [OVERHEAD_SHAPE] + SHAPES:
        if args.shapes and f"{'-'.join(map(str, sizes))}" not in args.shapes + ["2-2-2"]:
            continue
        steps = _steps_for(sizes, b, args.steps)
        steps = steps * 10 if sizes == OVERHEAD_SHAPE[0] else steps
        for mode in ("weak", "strong") if sizes != OVERHEAD_SHAPE[0] else ("weak",):
            b_local = b if mode == "weak" else max(1, b // P)
            m_local = b_local * steps
            rng = np.random.default_rng(100 + rank)
            X = np.asfortranarray(rng.standard_normal((sizes[0], m_local)).astype(np.float32))
            y = rng.integers(0, sizes[-1], m_local)
            net = fnn.Network(sizes, dtype=np.float32, seed=0)
            # one step first: compilation and first-touch of the buffers stay out of the timing
            fit_distributed(
                net,
                X[:, :b_local],
                y[:b_local],
                comm,
                epochs=1,
                batch_size=b_local,
                learning_rate=1e-3,
                shuffle=False,
            )
            comm.Barrier()
            repeats = args.repeats if steps > 2 else 2
            hist = fit_distributed(
                net,
                X,
                y,
                comm,
                epochs=repeats,
                batch_size=b_local,
                learning_rate=1e-3,
                shuffle=False,
            )
            # an epoch lasts as long as its slowest rank; of the repeats, the
            # fastest is the one least disturbed by other processes on the machine
            epoch_s = np.array(hist.epoch_seconds) / steps
            reduce_s = np.array(hist.allreduce_seconds) / steps
            comm.Allreduce(MPI.IN_PLACE, epoch_s, op=MPI.MAX)
            comm.Allreduce(MPI.IN_PLACE, reduce_s, op=MPI.MAX)
            best = int(np.argmin(epoch_s))
            rows.append(
                dict(
                    shape="-".join(map(str, sizes)),
                    batch=b,
                    mode=mode,
                    P=P,
                    local_batch=b_local,
                    steps=steps,
                    repeats=repeats,
                    step_s=float(epoch_s[best]),
                    allreduce_s=float(reduce_s[best]),
                    median_step_s=float(np.median(epoch_s)),
                    samples_per_s=P * b_local / float(epoch_s[best]),
                    n_params=n_parameters(sizes),
                )
            )
        # the bare collective on the parameter buffer, for the model's alpha and B here
        buf = np.zeros(n_parameters(sizes) + 2, dtype=np.float32)
        reps = 5 if buf.nbytes > 1e7 else 100
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        times = []
        for _ in range(reps):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        bare = comm.allreduce(float(np.median(times)), op=MPI.MAX)
        for row in rows:
            if row["shape"] == "-".join(map(str, sizes)) and row["P"] == P:
                row["bare_allreduce_s"] = bare
    if rank == 0:
        Path(args.out).write_text(json.dumps(rows, indent=1))


# ------------------------------------------------------------------ driver
def launch(P, args):
    mpiexec = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else "mpiexec"
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1])] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [
            mpiexec,
            "-n",
            str(P),
            sys.executable,
            __file__,
            "--worker",
            "--out",
            str(out),
            "--steps",
            str(args.steps),
            "--repeats",
            str(args.repeats),
        ] + (["--shapes", *args.shapes] if args.shapes else [])
        subprocess.run(cmd, env=env, check=True)
        return json.loads(out.read_text())


def measured_table(rows):
    base = {(r["shape"], r["mode"]): r for r in rows if r["P"] == 1}
    lines = [
        "| shape, batch b | P | scaling | local batch | step (ms) | of which allreduce (ms) "
        "| bare allreduce, median (ms) | samples/s | speedup | efficiency |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["n_params"], r["mode"], r["P"])):
        if r["shape"] == "2-2-2":
            continue
        one = base.get((r["shape"], r["mode"]))
        if one is None:
            speed = float("nan")
        elif r["mode"] == "strong":
            speed = one["step_s"] / r["step_s"]
        else:
            speed = r["samples_per_s"] / one["samples_per_s"]
        eff = speed / r["P"]
        lines.append(
            f"| {r['shape']} b{r['batch']} | {r['P']} | {r['mode']} | {r['local_batch']} | "
            f"{1e3 * r['step_s']:.3f} | {1e3 * r['allreduce_s']:.3f} | "
            f"{1e3 * r.get('bare_allreduce_s', float('nan')):.3f} | "
            f"{r['samples_per_s']:,.0f} | {speed:.2f} | {eff:.0%} |"
        )
    return "\n".join(lines)


def allreduce_model(nbytes, P, bandwidth, latency):
    if P == 1:
        return 0.0
    ring = 2 * (P - 1) / P * nbytes / bandwidth + 2 * (P - 1) * latency
    doubling = math.ceil(math.log2(P)) * (nbytes / bandwidth + latency)
    return min(ring, doubling)


def model_table(rows, cores_per_machine=1):
    """Per shape and network, for P = 8..64 machines: the modelled allreduce
    time T_ar, the weak-scaling efficiency T_c(b) / (T_c(b) + T_ar) and the
    strong-scaling speedup T_c(64 b) / (T_c(64 b / P) + T_ar) of a global
    batch of 64 b.

    T_c(b) = T_fixed + b t_example / cores: the per-step cost that does not
    shrink with cores or batch (Python, the calls into the kernels, measured
    on a 2-2-2 network with b = 1) plus the compute per example measured on
    one rank, divided by ``cores_per_machine`` for a machine that many times
    faster (ideal threading; small layers fall short of it)."""
    one = {r["shape"]: r for r in rows if r["P"] == 1 and r["mode"] == "weak"}
    fixed = one.get("2-2-2", {}).get("step_s", 0.0)
    lines = [
        f"\nmachine = {cores_per_machine} x the measured rank; T_fixed = {1e6 * fixed:.1f} us; "
        f"cells: T_ar (ms) / weak efficiency / strong speedup (global batch 64 b)\n",
        "| shape, b | S (MB) | network | T_c(b) (ms) | "
        + " | ".join(f"P = {P}" for P in MODEL_P)
        + " |",
        "|---" * (4 + len(MODEL_P)) + "|",
    ]
    for sizes, b in SHAPES:
        shape = "-".join(map(str, sizes))
        if shape not in one:
            continue
        r = one[shape]
        t_example = max(r["step_s"] - r["allreduce_s"] - fixed, 0.0) / r["local_batch"]
        t_example /= cores_per_machine
        nbytes = 4 * r["n_params"]
        t_c = fixed + t_example * b
        for name, bandwidth, latency in NETWORKS:
            cells = []
            for P in MODEL_P:
                t_ar = allreduce_model(nbytes, P, bandwidth, latency)
                weak = t_c / (t_c + t_ar)
                strong = (fixed + t_example * 64 * b) / (fixed + t_example * 64 * b / P + t_ar)
                cells.append(f"{1e3 * t_ar:.3g} / {weak:.0%} / {strong:.1f}x")
            lines.append(
                f"| {shape} b{b} | {nbytes / 1e6:.3g} | {name} | {1e3 * t_c:.3g} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--steps", type=int, default=20, help="timed steps per measurement (at most)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="epochs per measurement; the fastest counts (2 for the largest shape)",
    )
    parser.add_argument("--shapes", nargs="*", help="only these shapes, e.g. 64-32-10")
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument(
        "--model-only", metavar="JSON", help="print the model from saved measurements"
    )
    parser.add_argument("--cores-per-machine", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.model_only:
        rows = json.loads(Path(args.model_only).read_text())
    else:
        rows = [row for P in args.ranks for row in launch(P, args)]
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    print(measured_table(rows))
    for cores in args.cores_per_machine:
        print(model_table(rows, cores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
