#!/usr/bin/env python3
"""How much of a model's error on the real glitches is its class prior.

Training samples the classes evenly (balanced), so a model's probabilities assume every class is equally common;
real glitch populations are not (Blip is 1,821 of the 7,966 O1 glitches, Paired_Doves 27). Logit adjustment
(Menon et al. 2021, "Long-tail learning via logit adjustment") moves the probabilities to a population prior pi:
p'(c) ~ p(c) * pi(c)^tau. This prints top-1, macro recall and per-source top-1 of a labelled real set for a few tau,
with pi the O1 training-set counts of ../shared/docs/gravity-spy.md. A measurement, not a shipped setting.

Usage: glitchscope classify --model CARD ../shared/data/real --out real.csv
       scripts/prior-adjustment.py real.csv
The label of a glitch is the folder its first file sits in, the source the folder above (the layout of
../shared/data/real); glitches of other labels (Unlabeled, O3-only classes) and unreadable ones are left out.
"""
import collections
import csv
import math
import sys

# Gravity Spy O1 training set, glitches per class (../shared/docs/gravity-spy.md, column N).
O1_COUNTS = {
    "1080Lines": 328, "1400Ripples": 81, "Air_Compressor": 58, "Blip": 1821, "Chirp": 60, "Extremely_Loud": 447,
    "Helix": 279, "Koi_Fish": 706, "Light_Modulation": 512, "Low_Frequency_Burst": 621, "Low_Frequency_Lines": 447,
    "No_Glitch": 150, "None_of_the_Above": 81, "Paired_Doves": 27, "Power_Line": 449, "Repeating_Blips": 263,
    "Scattered_Light": 443, "Scratchy": 337, "Tomte": 103, "Violin_Mode": 412, "Wandering_Line": 42, "Whistle": 299,
}


def evaluate(rows, tau):
    total = sum(O1_COUNTS.values())
    hits, n = 0, 0
    per_class = collections.defaultdict(lambda: [0, 0])
    per_source = collections.defaultdict(lambda: [0, 0])
    for row in rows:
        if row.get("error"):
            continue
        parts = row["files"].split(";")[0].replace("\\", "/").split("/")
        label, source = parts[-2], parts[-3] if len(parts) > 2 else "?"
        if label not in O1_COUNTS:
            continue
        score = {c: math.log(max(float(row["p_" + c]), 1e-30)) + tau * math.log(k / total) for c, k in O1_COUNTS.items()}
        ok = max(score, key=score.get) == label
        n += 1
        hits += ok
        for table, key in ((per_class, label), (per_source, source)):
            table[key][0] += ok
            table[key][1] += 1
    if n == 0:
        sys.exit("prior-adjustment.py: no labelled glitch of the 22 O1 classes in the CSV")
    macro = sum(a / b for a, b in per_class.values()) / len(per_class)
    sources = ", ".join(f"{s} {100 * a / b:.1f} %" for s, (a, b) in sorted(per_source.items()))
    return f"tau {tau:<4}  top-1 {100 * hits / n:5.1f} %  macro recall {100 * macro:5.1f} %  ({n} glitches; {sources})"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in O1_COUNTS if "p_" + c not in (rows[0] if rows else {})]
    if missing:
        sys.exit(f"prior-adjustment.py: {sys.argv[1]} has no p_ column for {', '.join(missing)} (a classify --out CSV?)")
    for tau in (0.0, 0.5, 1.0):
        print(evaluate(rows, tau))


if __name__ == "__main__":
    main()
