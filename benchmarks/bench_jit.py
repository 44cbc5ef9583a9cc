"""asv: the JIT's cold and warm start, each in a fresh process.

One program (``measure.startup_code``): ``import fnn_numba``,
build a 64-32-10 float32 network, ``fit`` one epoch of 256 examples and run
``forward``; what is reported is the time from before the import to the end
(the interpreter's own start-up excluded). Cold: an empty ``NUMBA_CACHE_DIR``,
so every kernel is compiled; warm: the same directory again, so every kernel
is loaded from Numba's cache. The program runs on a snapshot of the
package's sources, so that editing the working tree cannot invalidate the
cache between the two runs. Both are measured once per ``asv run`` (a cold
start takes tens of seconds), in ``setup_cache``.
"""

import json
import os
import subprocess
import sys
import tempfile

from .measure import snapshot_package, startup_code


def _run(code, env, cwd):
    # cwd: ``python -c`` puts the current directory first on sys.path, and a
    # checkout there would shadow the snapshot
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200, cwd=cwd
    )
    if proc.returncode != 0:
        raise RuntimeError(f"start-up program failed:\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return res["import_seconds"] + res["first_fit_seconds"]


class JitStart:
    unit = "seconds"

    def setup_cache(self):
        with tempfile.TemporaryDirectory(prefix="fnn-numba-asv-") as tmp:
            src = snapshot_package(os.path.join(tmp, "src"))
            env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba_cache"))
            env["PYTHONPATH"] = src + (
                os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
            )
            code = startup_code("float32")
            cold = _run(code, env, tmp)
            warm = _run(code, env, tmp)
        return {"cold": cold, "warm": warm}

    setup_cache.timeout = 2400

    def track_cold_start(self, result):
        """import + first fit + forward, every kernel compiled (float32)."""
        return result["cold"]

    def track_warm_start(self, result):
        """import + first fit + forward, every kernel loaded from the cache (float32)."""
        return result["warm"]
