#!/usr/bin/env python3
"""Cluster purity of labelled glitches in the embedding map (the paper's Fig. 2: each class its own cluster).

Reads the clusters.csv that `glitchscope cluster` writes (key, label, ..., cluster) and prints, over the
glitches that HDBSCAN put in a cluster (not outliers): purity = share of glitches whose label is their
cluster's majority label, the outlier share, and the number of clusters.
Usage: scripts/map-purity.py CLUSTERS_CSV [EXCLUDED_LABEL ...]   (e.g. Fast_Scattering Unlabeled)
"""
import collections
import csv
import sys

excluded = set(sys.argv[2:])
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["label"] and r["label"] not in excluded]
clustered = [r for r in rows if r["cluster"] != "-1"]
by_cluster = collections.defaultdict(collections.Counter)
for r in clustered:
    by_cluster[r["cluster"]][r["label"]] += 1
majority = sum(c.most_common(1)[0][1] for c in by_cluster.values())
print(f"{len(rows)} labelled glitches, {len(by_cluster)} clusters, outliers {100 * (1 - len(clustered) / len(rows)):.1f} %, "
      f"purity {100 * majority / max(1, len(clustered)):.1f} %")
