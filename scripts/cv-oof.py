#!/usr/bin/env python3
"""Out-of-fold analyses of `glitchscope cv` runs, from their predictions.json (each real glitch's logits, fold and
picture kind): what a post-hoc change to the shipped classifier would do, measured without training anything.

  scripts/cv-oof.py RUN [RUN ...]                  each run: top-1, macro recall, ECE, answers and errors at >= 95 %
  scripts/cv-oof.py --bias None_of_the_Above=-1 RUN  one class's log-odds moved by b before the argmax
  scripts/cv-oof.py --mix 0.05 RUN                  probabilities mixed with a uniform share (a confidence ceiling)
  scripts/cv-oof.py --ensemble RUN RUN ...          the runs' mean logits as one classifier

Temperatures are cross-fitted as `glitchscope cv` does: for each fold, one temperature for single pictures of
unknown duration and one for the other glitches, each NLL-fitted on the other folds' glitches of that kind. An
ensemble of runs cut into folds differently stays out of fold (no network saw the glitches it predicts); its
temperatures are cross-fitted on the first run's folds. ECE: 15 equal-width confidence bins. Standard library only.
"""
import argparse
import json
import math
import os
import sys


def softmax(logits, t):
    m = max(logits)
    e = [math.exp((x - m) / t) for x in logits]
    s = sum(e)
    return [x / s for x in e]


def nll(rows, t):
    return -sum(math.log(max(softmax(l, t)[y], 1e-12)) for l, y in rows) / max(len(rows), 1)


def fit_temperature(rows):
    """Golden-section search of log T in [-3, 3] for the lowest NLL."""
    if not rows:
        return 1.0
    lo, hi = -3.0, 3.0
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(rows, math.exp(a)), nll(rows, math.exp(b))
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(rows, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(rows, math.exp(b))
    return math.exp((lo + hi) / 2)


def cross_fitted(glitches, logits):
    """Probabilities of every glitch under temperatures fitted on the other folds' glitches of its kind."""
    out = [None] * len(glitches)
    for f in sorted({g["fold"] for g in glitches}):
        for kind in (False, True):
            train = [(logits[i], g["y"]) for i, g in enumerate(glitches) if g["fold"] != f and g["single_picture"] == kind]
            t = fit_temperature(train)
            for i, g in enumerate(glitches):
                if g["fold"] == f and g["single_picture"] == kind:
                    out[i] = softmax(logits[i], t)
    return out


def ece(probs, ys, bins=15):
    total, n = 0.0, len(ys)
    for b in range(bins):
        members = [(max(p), p.index(max(p)) == y) for p, y in zip(probs, ys) if min(int(max(p) * bins), bins - 1) == b]
        if members:
            conf = sum(c for c, _ in members) / len(members)
            acc = sum(r for _, r in members) / len(members)
            total += len(members) / n * abs(acc - conf)
    return 100 * total


def report(name, glitches, probs, labels, biased=()):
    ys = [g["y"] for g in glitches]
    pred = [p.index(max(p)) for p in probs]
    right = [a == y for a, y in zip(pred, ys)]
    recalls = [sum(r for r, y in zip(right, ys) if y == c) / ys.count(c) for c in sorted(set(ys))]
    sure = [(max(p), r) for p, r in zip(probs, right) if max(p) >= 0.95]
    sure_acc = 100 * sum(r for _, r in sure) / max(len(sure), 1)
    sure_conf = 100 * sum(c for c, _ in sure) / max(len(sure), 1)
    print(f"{name}: {len(ys)} glitches, top-1 {100 * sum(right) / len(ys):.1f} %, macro recall {100 * sum(recalls) / len(recalls):.1f} %, "
          f"ECE {ece(probs, ys):.1f} %, at >= 95 %: {len(sure)} answers, {sure_acc:.1f} % right (mean confidence {sure_conf:.1f} %), "
          f"{sum(1 for _, r in sure if not r)} wrong")
    by_source = {}
    for g, r in zip(glitches, right):
        by_source.setdefault(g["source"], []).append(r)
    print("  by source: " + ", ".join(f"{s} {100 * sum(v) / len(v):.1f} %" for s, v in sorted(by_source.items())))
    for c in biased:
        own = sum(r for r, y in zip(right, ys) if y == c)
        taken = sum(1 for a, y in zip(pred, ys) if a == c and y != c)
        print(f"  {labels[c]} (log-odds moved): {own}/{ys.count(c)} of its own right; {taken} glitches of other classes called it")
    weak = [f"{labels[c]} {sum(r for r, y in zip(right, ys) if y == c)}/{ys.count(c)}" for c in sorted(set(ys)) if recalls[sorted(set(ys)).index(c)] < 0.9]
    print("  classes under 90 %: " + ", ".join(weak))


def load(run):
    path = os.path.join(run, "predictions.json")
    try:
        with open(path) as f:
            predictions = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"cv-oof.py: {path}: {e} (a finished `glitchscope cv` run has one)")
    # Two glitches of one source may share a key (figure panels named alike): number the repeats.
    out, seen = {}, {}
    for p in predictions:
        k = (p["source"], p["key"])
        seen[k] = seen.get(k, 0) + 1
        out[k + (seen[k],)] = p
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--bias", action="append", default=[], help="CLASS=B: add B to that class's log-odds")
    ap.add_argument("--mix", type=float, default=0.0, help="share of a uniform distribution mixed into the probabilities")
    ap.add_argument("--ensemble", action="store_true", help="the runs' mean logits as one classifier")
    args = ap.parse_args()
    from_card = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "default.json")))["labels"]
    runs = [load(r) for r in args.runs]
    keys = sorted(set.intersection(*[set(r) for r in runs]))
    glitches = [dict(runs[0][k], y=from_card.index(runs[0][k]["class"])) for k in keys]
    bias = [0.0] * len(from_card)
    for b in args.bias:
        cls, value = b.split("=")
        bias[from_card.index(cls)] = float(value)

    biased = [i for i, b in enumerate(bias) if b != 0.0]

    def probs_of(logits):
        shifted = [[x + d for x, d in zip(l, bias)] for l in logits]
        probs = cross_fitted(glitches, shifted)
        return [[(1 - args.mix) * p + args.mix / len(from_card) for p in row] for row in probs]

    per_run = [[r[k]["logits"] for k in keys] for r in runs]
    if args.ensemble:
        mean = [[sum(v) / len(v) for v in zip(*rows)] for rows in zip(*per_run)]
        report("ensemble of " + " + ".join(os.path.basename(r.rstrip("/")) for r in args.runs), glitches, probs_of(mean), from_card, biased)
    else:
        for run, logits in zip(args.runs, per_run):
            report(os.path.basename(run.rstrip("/")), glitches, probs_of(logits), from_card, biased)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # piped into head
        pass
