#!/usr/bin/env python3
"""docs/profile.md from the profiles scripts/profile.sh collects (issue 13): our backbone operation by operation,
natively (trainer/examples/bench_native profile) and in headless Chromium (bench/bench-ort-web.mjs --profile).

    python3 bench/profile_report.py --run "LABEL=FILE" ... --out docs/profile.md [--meta key=value ...]

A native FILE is one profile (its LABEL is used as is); a browser FILE holds one profile per batch, each
labelled "LABEL, batch B". The first run's operations order the per-operation table.
"""
import argparse
import json
from collections import OrderedDict


def by_op(rows):
    """op -> (calls, ms, macs), in the network's order of first appearance."""
    out = OrderedDict()
    for r in rows:
        calls, ms, macs = out.get(r["op"], (0, 0.0, 0.0))
        out[r["op"]] = (calls + 1, ms + r["ms"], macs + r["macs"])
    return out


def kind(op):
    """Coarser groups: pointwise (1x1) convolutions, depthwise ones, the stem, element-wise operations."""
    if op.startswith(("expand", "project", "head")):
        return "pointwise 1x1 (expand, project, head)"
    if op.startswith("depthwise"):
        return "depthwise kxk (with its relu6 where fused)"
    if op.startswith("conv"):
        return "stem conv 3x3 s2"
    return "element-wise (relu6, residual add, pool)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", required=True, help="LABEL=FILE")
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()

    runs = OrderedDict()
    size = None
    for spec in a.run:
        label, path = spec.split("=", 1)
        d = json.load(open(path))
        if "profiles" in d:
            size = (d["height"], d["width"])
            for p in d["profiles"]:
                runs[f"{label}, batch {p['batch']}"] = (p["images"], p["rows"], 1)
        else:
            runs[label] = (d["images"], d["rows"], d.get("threads"))

    # op -> (calls, MMACs per image), over every run (the fused operations appear only in some)
    ops = OrderedDict()
    for images, rows, _ in runs.values():
        for op, (calls, _, macs) in by_op(rows).items():
            ops.setdefault(op, (calls, macs / images))
    lines = ["# Where the time goes: our backbone operation by operation", ""]
    lines += [
        "Made by `scripts/profile.sh` (issue 13). Every operation of EfficientNet-Lite0 (batch norms folded, as",
        "inference runs it) timed alone: `EfficientNet::profile` (src/model/efficientnet/profile.rs) syncs the",
        "device after each one. The same code runs natively (`bench_native profile`, Burn flex backend, rayon) and",
        "in headless Chromium (`GlitchClassifier.profileBackbone`, flex in wasm with SIMD128, one thread). Input:",
        f"the default model's {size[0]}x{size[1]} (HxW) views, 4 per glitch; each time is the median over" if size else "the default model's views, 4 per glitch; each time is the median over",
        "the timed passes.",
        "",
    ]
    lines += [f"- {m.replace('=', ': ', 1)}" for m in a.meta] + [""]

    lines += ["## By kind of operation, ms per image", ""]
    header = "| operation | calls | MMACs per image | " + " | ".join(runs) + " |"
    lines += [header, "|---|---:|---:|" + "---:|" * len(runs)]
    totals = {label: 0.0 for label in runs}
    groups = OrderedDict()
    for label, (images, rows, _) in runs.items():
        for op, (calls, ms, macs) in by_op(rows).items():
            g = groups.setdefault(kind(op), {"macs": 0.0, "calls": 0})
            g.setdefault(label, 0.0)
            g[label] += ms / images
            if label == next(iter(runs)):
                g["macs"] += macs / images
                g["calls"] += calls
            totals[label] += ms / images
    for name, g in groups.items():
        cells = []
        for label in runs:
            ms = g.get(label, 0.0)
            share = 100 * ms / totals[label] if totals[label] else 0
            gmacs = g["macs"] / 1e9 / (ms / 1e3) if ms > 0 and g["macs"] > 0 else None
            cells.append(f"{ms:.2f} ({share:.0f} %" + (f", {gmacs:.1f} GMAC/s)" if gmacs else ")"))
        lines.append(f"| {name} | {g['calls']} | {g['macs'] / 1e6:.1f} | " + " | ".join(cells) + " |")
    lines.append("| **total** | | " + f"{sum(g['macs'] for g in groups.values()) / 1e6:.1f} | "
                 + " | ".join(f"**{totals[l]:.2f}**" for l in runs) + " |")
    lines.append("")

    lines += ["## Every kind of operation, ms per image", ""]
    lines += ["| operation | calls | MMACs per image | " + " | ".join(runs) + " |", "|---|---:|---:|" + "---:|" * len(runs)]
    per_run = {label: by_op(rows) for label, (images, rows, _) in runs.items()}
    for op, (calls, macs) in ops.items():
        cells = []
        for label, (images, _, _) in runs.items():
            if op not in per_run[label]:
                cells.append("–")
                continue
            ms = per_run[label][op][1] / images
            gmacs = macs / 1e9 / (ms / 1e3) if ms > 0 and macs > 0 else None
            cells.append(f"{ms:.2f}" + (f" ({gmacs:.1f} GMAC/s)" if gmacs else ""))
        lines.append(f"| {op} | {calls} | {macs / 1e6:.1f} | " + " | ".join(cells) + " |")
    lines.append("")

    label = [l for l in runs if l.endswith("batch 16")][-1] if any(l.endswith("batch 16") for l in runs) else list(runs)[-1]
    lines += [f"## The ten slowest operations ({label}), ms per image", ""]
    images, rows, _ = runs[label]
    lines += ["| layer | operation | input [n, c, h, w] | ms per image | GMAC/s |", "|---|---|---|---:|---:|"]
    for r in sorted(rows, key=lambda r: -r["ms"])[:10]:
        g = f"{r['macs'] / 1e9 / (r['ms'] / 1e3):.1f}" if r["ms"] > 0 and r["macs"] > 0 else ""
        lines.append(f"| {r['layer']} | {r['op']} | {r['input']} | {r['ms'] / images:.2f} | {g} |")
    lines.append("")
    open(a.out, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
