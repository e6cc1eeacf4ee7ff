#!/usr/bin/env python3
"""Markdown table of the transfer-learning experiment (scripts/tl-experiment.sh) from its run directories.

Per run: validation top-1 on all validation glitches, on the real ones (every source whose folder name does not
start with "synth") and on the synthetic ones, from the run's model card (the exported best epoch). A run that was
stopped before export is reported from its history.csv (best validation top-1 so far, all glitches only) and marked.
"""
import argparse
import csv
import json
import os
import platform


def describe(name):
    init, mode, limit = name.split("-")
    layers = {"all": "all layers", "frozen": "head only (frozen backbone)"}.get(mode, mode.replace("last", "last ") + " blocks + head")
    return init, layers, {"full": "all"}.get(limit, limit)


def from_card(run):
    card = json.load(open(os.path.join(run, "model.json")))
    valid = card["metrics"]["valid"]
    real = [(v["n"], v["top1"]) for s, v in valid["per_source"].items() if not s.startswith("synth")]
    synth = [(v["n"], v["top1"]) for s, v in valid["per_source"].items() if s.startswith("synth")]

    def pooled(parts):
        n = sum(p[0] for p in parts)
        return (sum(p[0] * p[1] for p in parts) / n, n) if n else (None, 0)

    t = card["training"]
    train_glitches = sum(t["data"]["glitches"]["train"].values())
    seconds = t["seconds"].get("this_process")
    return {
        "all": (valid["top1"], valid["n"]), "real": pooled(real), "synth": pooled(synth),
        "top5": valid["top5"], "best": t["best_epoch"], "epochs": t["epochs_run"], "train": train_glitches,
        "seconds": seconds, "views_per_s": t.get("train_views_per_s_mean"), "note": "",
    }


def from_history(run):
    path = os.path.join(run, "history.csv")
    rows = [r for r in csv.DictReader(open(path))] if os.path.exists(path) else []
    rows = [r for r in rows if r.get("valid_top1")]
    if not rows:
        return None
    best = max(rows, key=lambda r: float(r["valid_top1"]))
    return {
        "all": (float(best["valid_top1"]), None), "real": (None, 0), "synth": (None, 0), "top5": None,
        "best": int(best["epoch"]), "epochs": len(rows), "train": None,
        "seconds": sum(float(r["seconds"] or 0) for r in rows),
        "views_per_s": sum(float(r["train_views_per_s"] or 0) for r in rows) / len(rows),
        "note": "stopped before export: from history.csv",
    }


def pct(v):
    return "–" if v is None else f"{v:.1f} %"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--device", required=True)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--extra", default="", help="the extra train flags every run had")
    a = ap.parse_args()
    print(f"Transfer learning vs training from scratch (EfficientNet-Lite0, {a.epochs} epochs each, patience off, "
          f"seed 1, device {a.device}, {a.jobs} run(s) at once on it"
          + (f", every run with `{a.extra}`" if a.extra else "") + "; made by scripts/tl-experiment.sh).\n")
    print("| initialisation | trained layers | training glitches per class | train glitches | valid top-1 (all) "
          "| valid top-1 (real) | valid top-1 (synthetic) | valid top-5 (all) | best epoch / run | time | views/s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for run in a.runs:
        name = os.path.basename(run.rstrip("/"))
        init, layers, limit = describe(name)
        r = None
        if os.path.exists(os.path.join(run, "model.json")):
            r = from_card(run)
        else:
            r = from_history(run)
        if r is None:
            print(f"| {init} | {layers} | {limit} | – | no epoch finished | | | | | | |")
            continue
        all_, real, synth = r["all"], r["real"], r["synth"]
        real_s = pct(real[0]) + (f" (n={real[1]})" if real[1] else "")
        synth_s = pct(synth[0]) + (f" (n={synth[1]})" if synth[1] else "")
        all_s = pct(all_[0]) + (f" (n={all_[1]})" if all_[1] else "")
        secs = "–" if r["seconds"] is None else f"{r['seconds']:.0f} s"
        vps = "–" if not r["views_per_s"] else f"{r['views_per_s']:.0f}"
        mark = " ¹" if r["note"] else ""
        train = "–" if r["train"] is None else str(r["train"])
        print(f"| {init} | {layers} | {limit} | {train} | {all_s}{mark} | {real_s} | {synth_s} | {pct(r['top5'])} "
              f"| {r['best']} / {r['epochs']} | {secs} | {vps} |")
        if r["note"]:
            notes.append(r["note"])
    if notes:
        print("\n¹ stopped before export (time limit): best validation top-1 over the epochs it finished, from history.csv.")
    print(f"\nHost: {platform.node() or 'unknown'}; 'time' is the run's own wall time (shared device when several run at once).")


main()
