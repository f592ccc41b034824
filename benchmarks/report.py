"""Markdown table from a pytest-benchmark JSON file written by the benchmarks/ suites.

    python -m pytest benchmarks/ --benchmark-enable --benchmark-only --run-heavy --benchmark-json=bench.json
    python benchmarks/report.py bench.json [--threads 2] [--group rbf] > table.md

Columns: group (op, shape, dtype), implementation (gemm / sklearn / scipy cdist / ours
backend, with its thread count), median seconds, ratio to the GEMM baseline with the same thread count
(as stored in extra_info, else recomputed from the gemm row of the JSON) and peak MB
(peak extra resident memory of one call, output included).  Numba first-call (JIT)
times are listed under the table.
"""
from __future__ import annotations

import argparse
import json
import sys

IMPL_ORDER = {"gemm": 0, "sklearn": 1, "scipy": 2, "ours": 3}
BACKEND_ORDER = {None: 0, "native": 0, "numba": 1, "reference": 2}


def _fmt(x, spec):
    return "—" if x is None else format(x, spec)


def _fmt_time(s):
    if s is None:
        return "—"
    return f"{s:.3g}" if s >= 0.001 else f"{s:.2e}"


def rows_from(data, threads=None, group=None):
    rows = []
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        if "impl" not in info:
            continue
        if threads is not None and info.get("n_threads") != threads:
            continue
        if group and group.lower() not in b["group"].lower():
            continue
        rows.append({
            "group": b["group"], "impl": info["impl"], "backend": info.get("backend"),
            "n_threads": info.get("n_threads"), "median": b["stats"]["median"],
            "ratio": info.get("ratio_to_gemm"), "peak": info.get("peak_memory_mb"),
            "spread": info.get("ratio_spread"), "loaded": bool(info.get("load_exceeded")),
            "jit": info.get("jit_s") if info.get("first_call_includes_jit") else None,
            "first": info.get("first_call_s"),
        })
    # ratio from the gemm row with the same thread count when extra_info has none
    gemm = {(r["group"], r["n_threads"]): r["median"] for r in rows if r["impl"] == "gemm"}
    for r in rows:
        if r["ratio"] is None and (r["group"], r["n_threads"]) in gemm:
            r["ratio"] = r["median"] / gemm[(r["group"], r["n_threads"])]
    group_pos = {}
    for r in rows:
        group_pos.setdefault(r["group"], len(group_pos))
    rows.sort(key=lambda r: (group_pos[r["group"]], IMPL_ORDER.get(r["impl"], 9),
                             BACKEND_ORDER.get(r["backend"], 9), r["n_threads"] or 0))
    return rows


def label(r):
    name = {"ours": f"ours {r['backend']}", "scipy": "scipy cdist"}.get(r["impl"], r["impl"])
    return f"{name}, {r['n_threads']}t"


def table(data, threads=None, group=None):
    rows = rows_from(data, threads, group)
    out = ["| group | implementation | median s | ratio to GEMM (spread) | peak MB |",
           "|---|---|---:|---:|---:|"]
    last = None
    for r in rows:
        g = r["group"] if r["group"] != last else ""
        last = r["group"]
        ratio = _fmt(r["ratio"], ".2f")
        if r.get("spread") and r["impl"] != "gemm":
            ratio += f" ({r['spread'][0]:.2f}-{r['spread'][1]:.2f})"
        if r.get("loaded"):
            ratio += " (load > cores: not trustworthy)"
        out.append(f"| {g} | {label(r)} | {_fmt_time(r['median'])} | {ratio} | {_fmt(r['peak'], '.1f')} |")
    jit = [r for r in rows if r["jit"] is not None]
    notes = []
    mi = data.get("machine_info", {})
    cpu = mi.get("cpu", {})
    if mi:
        notes.append(f"Machine: {cpu.get('brand_raw', mi.get('processor', '?'))}, "
                     f"{cpu.get('count', '?')} logical CPUs, Python {mi.get('python_version', '?')}; "
                     f"{data.get('datetime', '')}.")
    ci = data.get("commit_info", {})
    if ci.get("id") and ci["id"] != "unversioned":
        notes.append(f"Commit {ci['id'][:10]}{' (dirty)' if ci.get('dirty') else ''}.")
    loads = [b["extra_info"].get("loadavg_1m") for b in data.get("benchmarks", [])]
    loads = [x for x in loads if x is not None]
    ncpu = cpu.get("count")
    if loads and ncpu and max(loads) > 0.5 * ncpu:
        notes.append(f"Warning: the 1-minute load average reached {max(loads):.1f} on {ncpu} CPUs during the run; "
                     "other processes competed for the cores, so timings (2-thread ones most) are pessimistic.")
    notes.append("Ratio: median over rounds of time / time of the GEMM of the same shape and thread count run right "
                 "before it (interleaved), with the min-max of the per-round ratios. "
                 "Peak MB: peak extra resident memory of one call, output included.")
    for r in jit:
        notes.append(f"Numba first use ({r['group']}, {r['n_threads']}t): first call {r['first']:.3g} s, "
                     f"{r['jit']:.3g} s more than the median (JIT compilation or loading numba's cache).")
    return "\n".join(out) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json_file", help="file written by pytest --benchmark-json=FILE")
    ap.add_argument("--threads", type=int, default=None, help="only rows with this thread count")
    ap.add_argument("--group", default=None, help="only groups containing this text")
    args = ap.parse_args(argv)
    with open(args.json_file) as f:
        data = json.load(f)
    text = table(data, args.threads, args.group)
    if text.count("\n|") < 2:
        print(f"no alignxpert_fast benchmark rows in {args.json_file}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
