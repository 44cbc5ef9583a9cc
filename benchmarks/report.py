"""A comparison run as data, and the tables rendered from it.

``compare.py`` turns its measurements into one *run record* (a dict, saved
as JSON with ``--json``; the dated runs are in ``benchmarks/results/``) and
renders the markdown report from that record alone, so that a saved run can
be rendered again at any time:

    python benchmarks/report.py benchmarks/results/2026-11-24-cpu-2-threads.json

The documentation's performance page renders its tables from the same files
(:func:`rst_tables`, through a directive in ``docs/conf.py``).

A record (``"schema": SCHEMA``) holds ``date``, ``commit``, ``command``,
``dtype``, ``threads``, ``repeats``, ``seconds``, ``learning_rate``,
``environment`` (CPU, cores, SIMD, platform, LLVM target and the versions of
everything measured, BLAS and its kernels), ``load_average`` (``start``,
``end``), ``throughput`` (one entry per shape: ``shape``, ``examples``,
``peers`` mapping each library to ``train`` and ``infer`` samples/s
summaries, and ``ratios``, fnn_numba's median over each peer's), ``skipped``,
``memory``, ``startup`` and ``profiles``; a summary is ``median``, ``min``,
``max`` and, when the run kept them, the per-round ``rounds``. Optional keys
may be null or absent; ``notes`` says where an extracted record came from.
"""

import argparse
import json
import statistics
import sys

SCHEMA = "fnn_numba-benchmark-run/1"
PEER_ORDER = ("fnn_numba", "PyTorch", "NumPy", "scikit-learn")
REQUIRED = ("schema", "date", "command", "dtype", "environment", "throughput")


# --------------------------------------------------------------------------- the record
def summary(values):
    """Median, min, max and the values themselves of a list of figures."""
    values = [float(v) for v in values]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": values,
    }


def ratios(peers):
    """fnn_numba's median over each other peer's, for ``train`` and ``infer``
    (above 1: fnn_numba is faster); empty when fnn_numba did not run."""
    if "fnn_numba" not in peers:
        return {}
    out = {}
    for kind in ("train", "infer"):
        mine = peers["fnn_numba"][kind]["median"]
        out[kind] = {p: mine / fig[kind]["median"] for p, fig in peers.items() if p != "fnn_numba"}
    return out


def throughput_entry(label, sizes, batch, results):
    """One shape of ``record["throughput"]`` from :func:`measure.compare_shape`'s
    result (per-round samples/s of each peer)."""
    peers = {
        p: {
            "train": summary(r["train"]),
            "infer": summary(r["infer"]),
            "epochs_per_sample": r["epochs_per_sample"],
            "calls_per_sample": r["calls_per_sample"],
        }
        for p, r in results.items()
    }
    examples = next(iter(results.values()))["examples"] if results else None
    return {
        "shape": label,
        "sizes": list(sizes),
        "batch": batch,
        "examples": examples,
        "peers": peers,
        "ratios": ratios(peers),
    }


def startup_entry(times):
    """``record["startup"]`` from :func:`measure.jit_start_times`' runs."""
    keys = ("import_seconds", "first_fit_seconds", "process_seconds")
    return {
        kind: {k: summary([r[k] for r in runs]) for k in keys} | {"runs": len(runs)}
        for kind, runs in times.items()
    }


def validate(record, where="record"):
    """Raise ValueError naming ``where`` unless ``record`` is a run record."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(
            f"{where}: expected the keys {', '.join(REQUIRED)}; missing {', '.join(missing)}"
        )
    if record["schema"] != SCHEMA:
        raise ValueError(f"{where}: expected schema {SCHEMA!r}, got {record['schema']!r}")
    for entry in record["throughput"]:
        for peer, fig in entry["peers"].items():
            for kind in ("train", "infer"):
                s = fig[kind]
                if not s["min"] <= s["median"] <= s["max"]:
                    raise ValueError(
                        f"{where}: {entry['shape']} {peer} {kind}: expected "
                        f"min <= median <= max, got {s['min']}, {s['median']}, {s['max']}"
                    )
    return record


def load(path):
    """The run record saved in ``path`` (JSON), validated."""
    with open(path) as fh:
        return validate(json.load(fh), str(path))


# --------------------------------------------------------------------------- formatting
def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_bytes(b):
    if b is None:
        return "n/a"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(b) >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b} B"


def fmt_seconds(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def peer_order(record):
    """The peers that ran, in the report's column order."""
    present = {p for entry in record["throughput"] for p in entry["peers"]}
    return [p for p in PEER_ORDER if p in present]


def ratio_rows(record, kind):
    """[shape, "**r** (best peer)", r vs each other peer ...] for ``kind``
    ("train" or "infer")."""
    others = [p for p in peer_order(record) if p != "fnn_numba"]
    rows = []
    for entry in record["throughput"]:
        r = entry.get("ratios", {}).get(kind)
        if r is None:
            continue
        if r:
            best = min(r, key=r.get)  # the fastest peer gives the smallest ratio
            row = [entry["shape"], f"**{r[best]:.2f}** ({best})"]
        else:
            row = [entry["shape"], "n/a"]
        rows.append(row + [f"{r[p]:.2f}" if p in r else "n/a" for p in others])
    return rows


def absolute_rows(record, kind):
    rows = []
    for entry in record["throughput"]:
        row = [entry["shape"]]
        for p in peer_order(record):
            s = entry["peers"].get(p, {}).get(kind)
            row.append(
                f"{fmt_rate(s['median'])} ({fmt_rate(s['min'])}-{fmt_rate(s['max'])})"
                if s
                else "n/a"
            )
        rows.append(row)
    return rows


def memory_rows(record):
    rows = []
    for mem in record.get("memory") or ():
        if "error" in mem:
            rows.append([mem["shape"], "error: " + mem["error"]] + [""] * 5)
            continue
        ideal = (
            mem["params_bytes"] + mem["grads_bytes"] + mem["activations_bytes"] + mem["data_bytes"]
        )
        peak = mem["rss_peak_minus_baseline"]
        traced = mem["traced_fit_peak"] - mem["traced_before_fit"]
        rows.append(
            [
                mem["shape"],
                fmt_bytes(peak),
                fmt_bytes(mem["rss_fit_peak_minus_before_fit"]),
                fmt_bytes(traced),
                f"{fmt_bytes(ideal)} = {fmt_bytes(mem['params_bytes'])} + "
                f"{fmt_bytes(mem['grads_bytes'])} + {fmt_bytes(mem['activations_bytes'])} + "
                f"{fmt_bytes(mem['data_bytes'])}",
                f"{peak / ideal:.2f}" if peak is not None else "n/a",
                fmt_bytes(mem["workspace_bytes"]),
            ]
        )
    return rows


MEMORY_HEADER = [
    "shape (batch)",
    "RSS peak (data + net + fit)",
    "RSS rise during fit",
    "tracemalloc rise during fit",
    "minimum (params + grads + activations + data)",
    "RSS peak / minimum",
    "fit workspace",
]
STARTUP_HEADER = ["start", "import fnn_numba", "first fit + forward", "whole process"]
PROFILE_HEADER = [
    "kernel",
    "layer",
    "n x K x m",
    "time",
    "share",
    "GFLOP/s",
    "BLAS GFLOP/s",
    "kernel / BLAS",
]


def startup_rows(record):
    rows = []
    for kind in ("cold", "warm"):
        fig = record["startup"][kind]
        row = [kind]
        for key in ("import_seconds", "first_fit_seconds", "process_seconds"):
            s = fig[key]
            row.append(f"{s['median']:.2f} s ({s['min']:.2f}-{s['max']:.2f})")
        rows.append(row)
    return rows


def profile_rows(prof):
    total = sum(r["seconds"] for r in prof["rows"])
    rows = []
    for r in prof["rows"]:
        shape = "x".join(map(str, r["shape"])) if r.get("shape") else ""
        gemm = r.get("gflops") is not None
        rows.append(
            [
                r["kernel"],
                r["layer"] or "all",
                shape,
                fmt_seconds(r["seconds"]),
                f"{100 * r['seconds'] / total:.1f}%",
                f"{r['gflops']:.1f}" if gemm else "",
                f"{r['blas_gflops']:.1f}" if gemm else "",
                f"{r['gflops'] / r['blas_gflops']:.2f}" if gemm else "",
            ]
        )
    return rows


def footnotes(record):
    """The machine, versions, command and load of a run, one line each."""
    env = record["environment"]
    lines = [
        f"[1] Machine: {env['cpu']}, {env['cores']} cores"
        + (f" ({env['simd']})" if env.get("simd") else "")
        + f"; {env['platform']}; "
        f"LLVM target {env.get('llvm_target', '?')}.",
        f"[2] Versions: fnn_numba {env['fnn_numba']}, Python {env['python']}, NumPy {env['numpy']}, "
        f"Numba {env['numba']} ({env['numba_threads']} threads, {env['numba_threading_layer']} layer), "
        f"PyTorch {env.get('torch') or 'not installed'}"
        + (f" ({env['torch_threads']} threads)" if env.get("torch_threads") else "")
        + f", scikit-learn {env.get('scikit-learn') or 'not installed'}; BLAS: "
        f"{env.get('blas', '?')}; OPENBLAS_CORETYPE={env['openblas_coretype_env']}.",
        f"[3] Command: `{record['command']}`; {record['repeats']} rounds, each sample >= "
        f"{record['seconds']} s; synthetic data (examples per shape above); learning rate "
        f"{record['learning_rate']}; {record['date']}"
        + (f", commit {record['commit']}" if record.get("commit") else "")
        + ".",
    ]
    sizes = {e["shape"]: e["examples"] for e in record["throughput"] if e.get("examples")}
    if sizes:
        lines.append(
            "[4] Training set sizes: " + ", ".join(f"{k}: {v}" for k, v in sizes.items()) + "."
        )
    load = record.get("load_average") or {}
    if load.get("start") is not None:
        lines.append(
            f"[5] 1-minute load average at the start / end of the run: {load['start']:.1f} / "
            f"{load['end']:.1f} on {env['cores']} cores (a load above the core count means "
            f"other processes competed for the CPU during the measurements)."
        )
    return lines


# --------------------------------------------------------------------------- markdown
def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def render_markdown(record):
    """The markdown report of a run record: ratios first, absolute figures,
    then memory, JIT start and the profile where the run measured them."""
    order = peer_order(record)
    others = [p for p in order if p != "fnn_numba"]
    ratio_header = ["shape (batch)", "vs best peer"] + [f"vs {p}" for p in others]
    out = [f"## fnn_numba against its peers ({record['dtype']}, CPU)", ""]
    if record["throughput"]:
        out += [
            "Ratios of samples/s, fnn_numba / peer (above 1: fnn_numba is faster), "
            "from medians measured side by side in one run.",
            "",
            "**Training** (mini-batch SGD, relu hidden, softmax + categorical cross-entropy):",
            "",
        ]
        out += md_table(ratio_header, ratio_rows(record, "train"))
        out += ["", "**Inference** (forward pass over the whole data set):", ""]
        out += md_table(ratio_header, ratio_rows(record, "infer"))
        out += [
            "",
            f"Absolute training throughput, samples/s: median of {record['repeats']} rounds "
            "(range):",
            "",
        ]
        out += md_table(["shape (batch)"] + order, absolute_rows(record, "train"))
        out += ["", "Absolute inference throughput, samples/s: median (range):", ""]
        out += md_table(["shape (batch)"] + order, absolute_rows(record, "infer"))
        out.append("")
    if record.get("skipped"):
        out += [
            "Skipped peers: "
            + "; ".join(f"{p}: {why}" for p, why in sorted(record["skipped"].items())),
            "",
        ]
    if record.get("memory"):
        out += [
            "**Peak memory of `Network.fit`** (fresh process, JIT warmed on a tiny network first). "
            "RSS: the kernel's high-water mark VmHWM, reset at the baseline (before the data is "
            "made) and again just before `fit`. tracemalloc: Python and NumPy allocations during "
            "`fit` only. Minimum: parameters + gradients + one batch of activations (sum of n[l] "
            "times the batch) + the data.",
            "",
        ]
        out += md_table(MEMORY_HEADER, memory_rows(record)) + [""]
    if record.get("startup"):
        runs = record["startup"]["cold"].get("runs", "?")
        out += [
            f"**JIT start** (fresh process: `import fnn_numba`, then a first `fit` of one epoch "
            f"(256 examples, 64-32-10) and `forward`; cold: empty `NUMBA_CACHE_DIR`, every kernel "
            f"compiled; warm: the same cache again). Median of {runs} runs (range):",
            "",
        ]
        out += md_table(STARTUP_HEADER, startup_rows(record)) + [""]
    if record.get("profiles"):
        out += [
            "**Where a training step's time goes** (each kernel call timed alone from Python at the "
            "step's sizes, median; GEMM-shaped kernels beside NumPy `matmul` (BLAS) of the same "
            "(n, K, m) in the same run):",
            "",
        ]
        for prof in record["profiles"]:
            total = sum(r["seconds"] for r in prof["rows"])
            out += [
                f"{prof['shape']}: one step through the jitted driver {fmt_seconds(prof['step_seconds'])}; "
                f"sum of the calls below {fmt_seconds(total)} (each includes "
                f"~{fmt_seconds(prof['dispatch_seconds'])} of dispatch from Python).",
                "",
            ]
            out += md_table(PROFILE_HEADER, profile_rows(prof)) + [""]
    out += ["---"] + footnotes(record)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- reStructuredText
def rst_list_table(header, rows, title=""):
    """A ``list-table`` directive (lines) for the Sphinx pages."""

    def cell(text):
        return str(text).replace("`", "``") if str(text) else "\\ "

    lines = [f".. list-table:: {title}".rstrip(), "   :header-rows: 1", ""]
    for row in [header] + rows:
        lines.append(f"   * - {cell(row[0])}")
        lines += [f"     - {cell(c)}" for c in row[1:]]
    return lines + [""]


def rst_tables(record, parts=("train", "infer")):
    """The tables of a run for the documentation, as reStructuredText lines:
    ``train`` and ``infer`` (ratios), ``train-absolute``, ``infer-absolute``,
    ``memory``, ``startup``; then the footnotes."""
    order = peer_order(record)
    others = [p for p in order if p != "fnn_numba"]
    ratio_header = ["shape (batch)", "vs best peer"] + [f"vs {p}" for p in others]
    makers = {
        "train": ("Training: fnn_numba / peer", ratio_header, lambda: ratio_rows(record, "train")),
        "infer": ("Inference: fnn_numba / peer", ratio_header, lambda: ratio_rows(record, "infer")),
        "train-absolute": (
            "Training samples/s, median (range)",
            ["shape (batch)"] + order,
            lambda: absolute_rows(record, "train"),
        ),
        "infer-absolute": (
            "Inference samples/s, median (range)",
            ["shape (batch)"] + order,
            lambda: absolute_rows(record, "infer"),
        ),
        "memory": ("Peak memory of fit", MEMORY_HEADER, lambda: memory_rows(record)),
        "startup": ("JIT start: median (range)", STARTUP_HEADER, lambda: startup_rows(record)),
    }
    lines = []
    for part in parts:
        if part not in makers:
            raise ValueError(f"parts: expected names among {', '.join(makers)}, got {part!r}")
        title, header, rows = makers[part]
        lines += rst_list_table(header, rows(), title)
    lines += ["| " + line.replace("`", "``") for line in footnotes(record)]
    return lines + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/report.py",
        description="Render a saved comparison run (JSON) as markdown.",
    )
    parser.add_argument("record", metavar="RUN.json")
    parser.add_argument("--output", metavar="FILE.md", help="write here (default: stdout)")
    args = parser.parse_args(argv)
    try:
        text = render_markdown(load(args.record))
    except (OSError, ValueError, KeyError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
