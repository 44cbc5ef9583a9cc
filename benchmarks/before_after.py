"""Before/after timing of the asv ``Network`` workloads for two checkouts, one
process per tree and round (asv cannot run this suite against commits older
than its own modules). Run interleaved, for example::

    for r in 1 2 3 4 5; do for t in /path/to/old/checkout /path/to/this/checkout; do
        PYTHONPATH=$t python benchmarks/before_after.py > ab-$r-$(basename $t).json; done; done

Prints one JSON object: the fnn_numba imported, and per (operation, shape,
dtype) the median of 7 samples of seconds per call. (Not an asv benchmark:
it runs only as a script.)
"""

import importlib.util
import json
import os
import time

import numpy as np

CASES = (
    ("64-32-10", [64, 32, 10], 32, np.float32, 200),
    ("64-32-10", [64, 32, 10], 32, np.float64, 200),
    ("784-128-10", [784, 128, 10], 64, np.float32, 20),
    ("784-128-10", [784, 128, 10], 64, np.float64, 20),
)


def main():
    # workloads.py by path: the checkout timed is the one on PYTHONPATH, whose
    # benchmarks/ may predate workloads.py
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("workloads", os.path.join(here, "workloads.py"))
    wl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wl)
    import fnn_numba

    out = {"path": fnn_numba.__file__}
    for shape, sizes, batch, dt, number in CASES:
        w = wl.NetworkWorkload(sizes, batch, dt, n_batches=4)
        for name, fn in (("train_step", w.train_step), ("epoch", w.epoch), ("forward", w.forward)):
            fn()
            samples = []
            for _ in range(7):
                t = time.perf_counter()
                for _ in range(number):
                    fn()
                samples.append((time.perf_counter() - t) / number)
            out[f"{name} {shape} {np.dtype(dt).name}"] = sorted(samples)[3]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
