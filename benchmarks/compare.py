"""fnn_numba against PyTorch, NumPy and scikit-learn, measured in one run.

    python benchmarks/compare.py --help
    python benchmarks/compare.py --threads 2 --profile --json run.json --output comparison.md
    python benchmarks/compare.py --shapes 784-128-10 --repeats 3 --seconds 0.5

Writes a markdown report: training and inference samples/s of fnn_numba,
PyTorch eager CPU, the vectorised NumPy step and scikit-learn's
``MLPClassifier(solver="sgd")``, ratios first, absolute figures below, then
the peak memory of ``fit``, the JIT cold and warm start, and (with
``--profile``) the time of every kernel of a training step against BLAS.
``--json`` saves the same run as data (:mod:`report` describes the record;
the dated runs live in ``benchmarks/results/``). The workloads are in
:mod:`workloads`, the libraries in :mod:`peers`, the measurements in
:mod:`measure`. Not an asv benchmark: asv finds no benchmark names here.
"""

import argparse
import datetime
import os
import shlex
import subprocess
import sys

if __name__ == "__main__" and not __package__:
    # run as a script: make ``benchmarks`` (and an uninstalled fnn_numba) importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from . import measure, report  # noqa: E402
from .peers import PEERS, cpu_count, log, set_threads  # noqa: E402
from .workloads import (  # noqa: E402
    DTYPES,
    LEARNING_RATE,
    MIN_BATCHES,
    MIN_EXAMPLES,
    SHAPES,
    default_examples,
    parse_shape,
)

PROG = "python benchmarks/compare.py"


def add_cli_arguments(parser):
    """Add the options of the comparison to an argparse parser."""
    batches = ", ".join(str(b) for _, b in SHAPES.values())
    parser.add_argument(
        "--shapes",
        nargs="+",
        default=list(SHAPES),
        metavar="SHAPE",
        help="network shapes n0-n1-...-nL, optionally ':batch' "
        f"(default: {' '.join(SHAPES)}, batches {batches})",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="rounds of measurements (median reported)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="time budget of one timed sample (whole epochs or forward passes)",
    )
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument(
        "--output", metavar="FILE.md", help="write the markdown report here (default: stdout)"
    )
    parser.add_argument(
        "--json",
        metavar="FILE.json",
        help="also save the run as data (such as benchmarks/results/DATE-cpu-2-threads.json)",
    )
    parser.add_argument(
        "--peers",
        nargs="+",
        default=list(PEERS),
        choices=PEERS,
        metavar="PEER",
        help=f"libraries to measure (default: all of {', '.join(PEERS)})",
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=None,
        help=f"training examples per shape (default: max({MIN_EXAMPLES}, {MIN_BATCHES} batches))",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also time every kernel of a training step against BLAS",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument(
        "--startup-runs", type=int, default=3, help="cold/warm JIT start measurements (0 to skip)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for every library (Numba, BLAS, PyTorch; default: the machine's cores)",
    )
    return parser


def git_commit():
    """The short hash of the checkout's HEAD, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=measure.ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def run(args, argv):
    """Measure what ``args`` asks for and return the run record."""
    shapes = [parse_shape(s) for s in args.shapes]
    threads = args.threads or cpu_count()
    set_threads(threads)
    load_start = measure.load_average()
    dtype = DTYPES[args.dtype]
    peers = (
        ["fnn_numba"] + [p for p in args.peers if p != "fnn_numba"]
        if "fnn_numba" in args.peers
        else list(args.peers)
    )
    throughput, skipped, memory, profiles = [], {}, [], []
    for label, sizes, batch in shapes:
        nice = f"{label} ({batch})" if ":" not in label else label
        log(f"{nice}: comparing {', '.join(peers)}")
        res, skip = measure.compare_shape(
            sizes, batch, dtype, peers, args.repeats, args.seconds, args.examples
        )
        throughput.append(report.throughput_entry(nice, sizes, batch, res))
        skipped.update(skip)
        if not args.no_memory and "fnn_numba" in peers:
            m = args.examples or default_examples(batch)
            try:
                mem = measure.fit_peak_memory(sizes, batch, args.dtype, m)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                mem = {"error": str(exc).splitlines()[0]}
            memory.append({"shape": nice, **mem})
    if args.profile:
        # after every throughput measurement, so that the rounds of all shapes
        # run back to back, without the profile's BLAS calls in between
        for label, sizes, batch in shapes:
            nice = f"{label} ({batch})" if ":" not in label else label
            profiles.append(
                {"shape": nice, **measure.kernel_profile(sizes, batch, dtype, args.repeats)}
            )
    startup = measure.jit_start_times(args.dtype, args.startup_runs) if args.startup_runs else None
    return {
        "schema": report.SCHEMA,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "commit": git_commit(),
        "command": " ".join([PROG] + [shlex.quote(a) for a in argv]),
        "dtype": args.dtype,
        "threads": threads,
        "repeats": args.repeats,
        "seconds": args.seconds,
        "learning_rate": LEARNING_RATE,
        "environment": measure.machine_info(),
        "load_average": {"start": load_start, "end": measure.load_average()},
        "throughput": throughput,
        "skipped": skipped,
        "memory": memory or None,
        "startup": report.startup_entry(startup) if startup else None,
        "profiles": profiles or None,
    }


def check(args):
    """One line naming the first bad option, or None."""
    try:
        for s in args.shapes:
            parse_shape(s)
    except ValueError as exc:
        return str(exc)
    if args.repeats < 1:
        return f"--repeats: expected an integer >= 1, got {args.repeats}"
    if not args.seconds > 0:
        return f"--seconds: expected a number > 0, got {args.seconds}"
    if args.examples is not None and args.examples < 1:
        return f"--examples: expected an integer >= 1, got {args.examples}"
    if args.startup_runs < 0:
        return f"--startup-runs: expected an integer >= 0, got {args.startup_runs}"
    if args.threads is not None and args.threads < 1:
        return f"--threads: expected an integer >= 1, got {args.threads}"
    return None


def main(argv=None):
    """Parse ``argv``, run the comparison, write the report; returns the exit
    status (2 for bad options)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_cli_arguments(parser)
    args = parser.parse_args(argv)
    problem = check(args)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    record = run(args, argv)
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=1)
            fh.write("\n")
        log(f"run saved to {args.json}")
    text = report.render_markdown(record)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
        log(f"report written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
