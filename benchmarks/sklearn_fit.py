"""fit wall time: FNNClassifier/FNNRegressor against scikit-learn's MLPs.

    python benchmarks/sklearn_fit.py                      # every case, 3 rounds
    python benchmarks/sklearn_fit.py --quick --rounds 1   # a smoke run (small sizes)
    python benchmarks/sklearn_fit.py --cases digits lbfgs --output table.md

Each case fits the same estimator settings (parameters under scikit-learn's
names, the same random_state, a fixed number of epochs: ``tol=0`` and
``n_iter_no_change=inf`` so both run exactly ``max_iter``) with
MLPClassifier/MLPRegressor and with fnn_numba's drop-in. Every fit runs in a
fresh process of its own, so neither side inherits the other's threads,
caches or memory; rounds are interleaved (round r runs every case and both
sides, in an order that alternates between rounds), so a slow spell of the
machine hits both sides alike. The fnn_numba process first fits a tiny copy
of the problem, so that the timed fit excludes loading the kernels from
Numba's cache (that one-off cost is reported as "first fit").

Reported per case: median fit seconds of each side, the ratio, and the
score (accuracy or R^2 on held-out data) each side reached, so a speed-up
at a worse fit shows. Not an asv benchmark (it defines no benchmark names).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

#: case -> (estimator kind, data, estimator settings); sizes for a full run
CASES = {
    "digits": ("classifier", "digits", dict(hidden_layer_sizes=(100,), solver="adam", max_iter=50)),
    "synthetic784": (
        "classifier",
        "synthetic784",
        dict(hidden_layer_sizes=(100,), solver="adam", max_iter=10),
    ),
    "synthetic784_regression": (
        "regressor",
        "synthetic784_regression",
        dict(hidden_layer_sizes=(100,), solver="adam", max_iter=10),
    ),
    "lbfgs": (
        "classifier",
        "digits",
        dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=200),
    ),
}
#: --quick: the same cases on smaller data and fewer epochs
QUICK = {
    "digits": dict(max_iter=5),
    "synthetic784": dict(max_iter=2),
    "synthetic784_regression": dict(max_iter=2),
    "lbfgs": dict(max_iter=20),
}


def load(data, quick):
    """(X_train, X_test, y_train, y_test), float64, features scaled to O(1)."""
    import numpy as np
    from sklearn.datasets import load_digits, make_classification, make_regression
    from sklearn.model_selection import train_test_split

    if data == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    elif data == "synthetic784":
        X, y = make_classification(
            n_samples=2000 if quick else 20000,
            n_features=784,
            n_informative=60,
            n_classes=10,
            random_state=0,
        )
    else:
        X, y = make_regression(
            n_samples=2000 if quick else 20000,
            n_features=784,
            n_informative=60,
            noise=1.0,
            random_state=0,
        )
        y = (y - y.mean()) / y.std()
    X = np.asarray(X, dtype=np.float64)
    return train_test_split(X, y, test_size=0.2, random_state=0)


def child(case, side, quick):
    """One timed fit in this process; prints a JSON line."""
    import warnings

    import numpy as np

    kind, data, settings = CASES[case]
    settings = dict(
        settings, random_state=0, tol=0.0, n_iter_no_change=np.inf, **(QUICK[case] if quick else {})
    )
    Xtr, Xte, ytr, yte = load(data, quick)
    if side == "sklearn":
        from sklearn.neural_network import MLPClassifier as C
        from sklearn.neural_network import MLPRegressor as R
    else:
        from fnn_numba import FNNClassifier as C
        from fnn_numba import FNNRegressor as R
    make = (lambda **kw: C(**kw)) if kind == "classifier" else (lambda **kw: R(**kw))
    first = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if side == "fnn_numba":
            t0 = time.perf_counter()
            make(**dict(settings, max_iter=1)).fit(Xtr[:64], ytr[:64])
            first = time.perf_counter() - t0
        est = make(**settings)
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        seconds = time.perf_counter() - t0
    print(
        json.dumps(
            dict(
                case=case,
                side=side,
                seconds=seconds,
                first_fit=first,
                score=float(est.score(Xte, yte)),
                n_iter=int(est.n_iter_),
            )
        )
    )


def run_child(case, side, quick, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", case, side] + (
        ["--quick"] if quick else []
    )
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{case}/{side} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(results, cases):
    lines = [
        "| case | scikit-learn fit (s) | fnn_numba fit (s) | speed-up | "
        "scikit-learn score | fnn_numba score | epochs / iterations | fnn_numba first fit (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        sk = [r for r in results if r["case"] == case and r["side"] == "sklearn"]
        fn = [r for r in results if r["case"] == case and r["side"] == "fnn_numba"]
        t_sk = statistics.median(r["seconds"] for r in sk)
        t_fn = statistics.median(r["seconds"] for r in fn)
        lines.append(
            f"| {case} | {t_sk:.3f} | {t_fn:.3f} | {t_sk / t_fn:.2f}x | "
            f"{statistics.median(r['score'] for r in sk):.4f} | "
            f"{statistics.median(r['score'] for r in fn):.4f} | "
            f"{sk[0]['n_iter']} / {fn[0]['n_iter']} | "
            f"{statistics.median(r['first_fit'] for r in fn):.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="small data and few epochs")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per fit process")
    parser.add_argument("--output", help="also write the markdown table here")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.quick)
        return 0
    if args.rounds < 1:
        parser.error(f"--rounds: expected a positive integer, got {args.rounds}")
    results = []
    for r in range(args.rounds):
        sides = ("sklearn", "fnn_numba") if r % 2 == 0 else ("fnn_numba", "sklearn")
        for case in args.cases:
            for side in sides:
                res = run_child(case, side, args.quick, args.timeout)
                print(
                    f"round {r + 1} {case:>24} {side:>9}: {res['seconds']:.3f} s, "
                    f"score {res['score']:.4f}",
                    flush=True,
                )
                results.append(res)
    text = table(results, args.cases)
    threads = os.environ.get("NUMBA_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    header = (
        f"fit wall time, median of {args.rounds} interleaved round(s), one process per fit "
        f"(threads: {threads}{', --quick sizes' if args.quick else ''})\n\n"
    )
    print("\n" + header + text)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(header + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
