//! Clusters with outliers: HDBSCAN (Campello, Moulavi & Sander 2013), and k-means for a known number of groups.
//!
//! HDBSCAN needs no distance threshold, finds clusters of different densities and leaves points that belong to
//! none as noise (label -1): what a new, rare glitch class looks like. Steps: core distance (distance to the
//! `min_samples`-th nearest point), minimum spanning tree of the mutual-reachability distance
//! max(core_a, core_b, d(a, b)) by Prim's algorithm on the dense graph (O(n^2), no matrix stored), single-linkage
//! hierarchy, condensed tree (splits smaller than `min_cluster_size` are points falling out), and the clusters of
//! greatest total stability ("excess of mass").

use super::embeddings::squared_distance;
use super::neighbours::knn_graph;
use super::rng::SplitMix64;
use super::{DiscoveryError, Embeddings, Result};

/// Label of a point in no cluster.
pub const NOISE: i32 = -1;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HdbscanParams {
    /// Smallest group reported as a cluster.
    pub min_cluster_size: usize,
    /// Neighbours that make a point "core" (smooths density); `None` = `min_cluster_size`.
    pub min_samples: Option<usize>,
    /// Allow the answer "everything is one cluster" (off by default, as in the reference implementation).
    pub allow_single_cluster: bool,
    pub selection: ClusterSelection,
}

impl Default for HdbscanParams {
    fn default() -> Self {
        Self { min_cluster_size: 5, min_samples: None, allow_single_cluster: false, selection: ClusterSelection::ExcessOfMass }
    }
}

/// Which clusters of the hierarchy become the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterSelection {
    /// The most stable clusters (the HDBSCAN default): few, large clusters when the data has a clear top level.
    #[default]
    ExcessOfMass,
    /// The leaves of the cluster tree: many small, homogeneous clusters (finer sub-classes).
    Leaf,
}

/// A flat clustering: `labels[i]` is 0..n_clusters, or `NOISE`. Clusters are numbered in the order of their first
/// point, so the same data always gives the same numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clustering {
    pub labels: Vec<i32>,
    pub n_clusters: usize,
}

impl Clustering {
    /// Number of points in each cluster.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.n_clusters];
        for &l in &self.labels {
            if l >= 0 {
                sizes[l as usize] += 1;
            }
        }
        sizes
    }

    pub fn noise(&self) -> usize {
        self.labels.iter().filter(|&&l| l == NOISE).count()
    }

    /// Renumber clusters by first appearance (internal ids are arbitrary).
    fn canonical(raw: Vec<i64>) -> Self {
        let mut map = std::collections::HashMap::new();
        let labels = raw
            .into_iter()
            .map(|r| {
                if r < 0 {
                    NOISE
                } else {
                    let next = map.len() as i32;
                    *map.entry(r).or_insert(next)
                }
            })
            .collect();
        Self { labels, n_clusters: map.len() }
    }
}

/// HDBSCAN on Euclidean distances between the rows (use normalised, PCA-reduced embeddings: see
/// `discovery::prepare`). Fewer points than `min_cluster_size` are all noise.
pub fn hdbscan(data: &Embeddings, params: &HdbscanParams) -> Result<Clustering> {
    let mcs = params.min_cluster_size;
    if mcs < 2 {
        return Err(DiscoveryError::InvalidParameter { name: "min_cluster_size", message: format!("{mcs} (must be at least 2)") });
    }
    let min_samples = params.min_samples.unwrap_or(mcs);
    if min_samples == 0 {
        return Err(DiscoveryError::InvalidParameter { name: "min_samples", message: "must be at least 1".into() });
    }
    let n = data.len();
    if n < mcs {
        return Ok(Clustering { labels: vec![NOISE; n], n_clusters: 0 });
    }
    // Core distance: to the min_samples-th nearest point, the point itself counted first (as in hdbscan).
    let core: Vec<f32> = if min_samples <= 1 {
        vec![0.0; n]
    } else {
        let k = (min_samples - 1).min(n - 1);
        let g = knn_graph(data, k)?;
        (0..n).map(|i| g.distances(i)[k - 1].sqrt()).collect()
    };
    let edges = mutual_reachability_mst(data, &core);
    let tree = single_linkage(n, edges);
    let condensed = condense(&tree, n, mcs);
    let selected = match params.selection {
        ClusterSelection::ExcessOfMass => select_clusters(&condensed, n, params.allow_single_cluster),
        ClusterSelection::Leaf => leaf_clusters(&condensed, n, params.allow_single_cluster),
    };
    Ok(label_points(&condensed, n, &selected))
}

/// Minimum spanning tree edges (a, b, distance), sorted by distance.
fn mutual_reachability_mst(data: &Embeddings, core: &[f32]) -> Vec<(usize, usize, f64)> {
    let n = data.len();
    let mut in_tree = vec![false; n];
    let mut best = vec![f64::INFINITY; n];
    let mut from = vec![0usize; n];
    let mut edges = Vec::with_capacity(n - 1);
    let mut current = 0;
    in_tree[0] = true;
    for _ in 1..n {
        let row = data.row(current);
        let mut next = usize::MAX;
        let mut next_d = f64::INFINITY;
        for j in 0..n {
            if in_tree[j] {
                continue;
            }
            let d = (squared_distance(row, data.row(j)) as f64).sqrt();
            let mr = d.max(core[current] as f64).max(core[j] as f64);
            if mr < best[j] {
                best[j] = mr;
                from[j] = current;
            }
            if best[j] < next_d {
                next_d = best[j];
                next = j;
            }
        }
        in_tree[next] = true;
        edges.push((from[next], next, next_d));
        current = next;
    }
    edges.sort_by(|a, b| a.2.total_cmp(&b.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    edges
}

/// Merge node of the single-linkage hierarchy; points are nodes 0..n, merges n..2n-1.
struct Merge {
    left: usize,
    right: usize,
    distance: f64,
    size: usize,
}

fn single_linkage(n: usize, edges: Vec<(usize, usize, f64)>) -> Vec<Merge> {
    let mut parent: Vec<usize> = (0..2 * n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut size = vec![1usize; 2 * n];
    let mut merges = Vec::with_capacity(n - 1);
    for (a, b, d) in edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        let node = n + merges.len();
        parent[ra] = node;
        parent[rb] = node;
        size[node] = size[ra] + size[rb];
        merges.push(Merge { left: ra, right: rb, distance: d, size: size[node] });
    }
    merges
}

/// One row of the condensed tree: `child` (a point < n, or a cluster id >= n) leaves `parent` at density
/// `lambda` = 1 / distance, carrying `size` points.
struct Condensed {
    parent: usize,
    child: usize,
    lambda: f64,
    size: usize,
}

/// Distances below this count as this (duplicates would give infinite density).
const MIN_DISTANCE: f64 = 1e-9;

fn condense(merges: &[Merge], n: usize, mcs: usize) -> Vec<Condensed> {
    let node_size = |x: usize| if x < n { 1 } else { merges[x - n].size };
    let mut out = Vec::new();
    let root = n + merges.len() - 1;
    // Cluster ids start at n (the root cluster); the stack holds (hierarchy node, its cluster).
    let mut next_cluster = n + 1;
    let mut stack = vec![(root, n)];
    let fall_out = |node: usize, cluster: usize, lambda: f64, out: &mut Vec<Condensed>| {
        let mut todo = vec![node];
        while let Some(x) = todo.pop() {
            if x < n {
                out.push(Condensed { parent: cluster, child: x, lambda, size: 1 });
            } else {
                todo.push(merges[x - n].left);
                todo.push(merges[x - n].right);
            }
        }
    };
    while let Some((node, cluster)) = stack.pop() {
        if node < n {
            continue;
        }
        let m = &merges[node - n];
        let lambda = 1.0 / m.distance.max(MIN_DISTANCE);
        let (l, r) = (m.left, m.right);
        let (big_l, big_r) = (node_size(l) >= mcs, node_size(r) >= mcs);
        match (big_l, big_r) {
            (true, true) => {
                for child in [l, r] {
                    let id = next_cluster;
                    next_cluster += 1;
                    out.push(Condensed { parent: cluster, child: id, lambda, size: node_size(child) });
                    stack.push((child, id));
                }
            }
            (true, false) => {
                fall_out(r, cluster, lambda, &mut out);
                stack.push((l, cluster));
            }
            (false, true) => {
                fall_out(l, cluster, lambda, &mut out);
                stack.push((r, cluster));
            }
            (false, false) => {
                fall_out(l, cluster, lambda, &mut out);
                fall_out(r, cluster, lambda, &mut out);
            }
        }
    }
    out
}

/// Excess-of-mass selection: keep a cluster when its own stability beats the best its sub-clusters can do.
fn select_clusters(condensed: &[Condensed], n: usize, allow_single_cluster: bool) -> Vec<bool> {
    let n_clusters = condensed.iter().map(|c| c.parent.max(if c.child >= n { c.child } else { 0 })).max().map_or(1, |m| m + 1 - n);
    let mut birth = vec![0.0f64; n_clusters];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n_clusters];
    for c in condensed.iter().filter(|c| c.child >= n) {
        birth[c.child - n] = c.lambda;
        children[c.parent - n].push(c.child - n);
    }
    let mut stability = vec![0.0f64; n_clusters];
    for c in condensed {
        stability[c.parent - n] += (c.lambda - birth[c.parent - n]) * c.size as f64;
    }
    let mut selected = vec![false; n_clusters];
    let mut best = stability.clone();
    // Children always have larger ids than their parent, so going down the ids visits children first.
    for id in (0..n_clusters).rev() {
        let from_children: f64 = children[id].iter().map(|&c| best[c]).sum();
        let is_root = id == 0;
        if children[id].is_empty() {
            selected[id] = !is_root || allow_single_cluster;
        } else if stability[id] >= from_children && (!is_root || allow_single_cluster) {
            selected[id] = true;
            best[id] = stability[id];
            let mut todo = children[id].clone();
            while let Some(c) = todo.pop() {
                selected[c] = false;
                todo.extend(children[c].iter().copied());
            }
        } else {
            best[id] = from_children;
        }
    }
    selected
}

/// Leaf selection: every cluster without sub-clusters (the root only when it has none and a single cluster is
/// allowed).
fn leaf_clusters(condensed: &[Condensed], n: usize, allow_single_cluster: bool) -> Vec<bool> {
    let n_clusters = condensed.iter().map(|c| c.parent.max(if c.child >= n { c.child } else { 0 })).max().map_or(1, |m| m + 1 - n);
    let mut has_children = vec![false; n_clusters];
    for c in condensed.iter().filter(|c| c.child >= n) {
        has_children[c.parent - n] = true;
    }
    (0..n_clusters).map(|id| !has_children[id] && (id != 0 || allow_single_cluster)).collect()
}

/// Each point belongs to the selected cluster among the ancestors of the cluster it fell out of, if any.
fn label_points(condensed: &[Condensed], n: usize, selected: &[bool]) -> Clustering {
    let mut parent_of_cluster = vec![usize::MAX; selected.len()];
    let mut raw = vec![-1i64; n];
    for c in condensed {
        if c.child >= n {
            parent_of_cluster[c.child - n] = c.parent - n;
        }
    }
    for c in condensed.iter().filter(|c| c.child < n) {
        let mut cluster = c.parent - n;
        loop {
            if selected[cluster] {
                raw[c.child] = cluster as i64;
                break;
            }
            match parent_of_cluster[cluster] {
                usize::MAX => break,
                p => cluster = p,
            }
        }
    }
    Clustering::canonical(raw)
}

/// k-means (Lloyd's algorithm, k-means++ seeding): every point in one of `k` clusters, no noise. For when the
/// number of groups is known; HDBSCAN is the default.
pub fn kmeans(data: &Embeddings, k: usize, seed: u64, max_iterations: usize) -> Result<Clustering> {
    let n = data.len();
    if k == 0 {
        return Err(DiscoveryError::InvalidParameter { name: "number of clusters", message: "must be at least 1".into() });
    }
    if k > n {
        return Err(DiscoveryError::TooFew { what: "k-means with this many clusters", needed: k, got: n });
    }
    let d = data.dim();
    let mut rng = SplitMix64::new(seed);
    let mut centres: Vec<f32> = data.row(rng.below(n)).to_vec();
    let mut nearest = vec![f32::INFINITY; n];
    for c in 1..k {
        let last = &centres[(c - 1) * d..c * d];
        for (i, best) in nearest.iter_mut().enumerate() {
            *best = best.min(squared_distance(data.row(i), last));
        }
        let total: f64 = nearest.iter().map(|&v| v as f64).sum();
        let pick = if total > 0.0 {
            let mut target = rng.uniform() * total;
            let mut chosen = n - 1;
            for (i, &v) in nearest.iter().enumerate() {
                target -= v as f64;
                if target <= 0.0 && v > 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        } else {
            rng.below(n)
        };
        centres.extend_from_slice(data.row(pick));
    }
    let mut labels = vec![0usize; n];
    for iteration in 0..max_iterations.max(1) {
        let mut changed = false;
        for (i, label) in labels.iter_mut().enumerate() {
            let best = (0..k)
                .map(|c| (squared_distance(data.row(i), &centres[c * d..(c + 1) * d]), c))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map_or(0, |p| p.1);
            if best != *label {
                *label = best;
                changed = true;
            }
        }
        if !changed && iteration > 0 {
            break;
        }
        let mut sums = vec![0.0f64; k * d];
        let mut counts = vec![0usize; k];
        for (i, &c) in labels.iter().enumerate() {
            counts[c] += 1;
            sums[c * d..(c + 1) * d].iter_mut().zip(data.row(i)).for_each(|(s, &v)| *s += v as f64);
        }
        for c in 0..k {
            // An empty cluster keeps its centre (rare with k-means++ seeding).
            if counts[c] > 0 {
                for j in 0..d {
                    centres[c * d + j] = (sums[c * d + j] / counts[c] as f64) as f32;
                }
            }
        }
    }
    Ok(Clustering::canonical(labels.into_iter().map(|l| l as i64).collect()))
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    /// Share of clustered points whose cluster's majority blob is their own.
    pub(crate) fn purity(labels: &[i32], truth: &[usize]) -> f64 {
        let mut counts: std::collections::HashMap<(i32, usize), usize> = Default::default();
        for (&l, &t) in labels.iter().zip(truth) {
            if l >= 0 {
                *counts.entry((l, t)).or_default() += 1;
            }
        }
        let clustered = labels.iter().filter(|&&l| l >= 0).count();
        let mut majority: std::collections::HashMap<i32, usize> = Default::default();
        for (&(l, _), &c) in &counts {
            let m = majority.entry(l).or_default();
            *m = (*m).max(c);
        }
        majority.values().sum::<usize>() as f64 / clustered.max(1) as f64
    }

    #[test]
    fn hdbscan_finds_blobs_and_marks_far_points_as_noise() {
        let (blobs, truth) = gaussian_blobs(4, 50, 16, 0.3, 7).unwrap();
        // Six lone points far from everything.
        let mut flat = blobs.as_flat().to_vec();
        let mut truth = truth;
        let mut rng = SplitMix64::new(99);
        for t in 0..6 {
            flat.extend((0..16).map(|_| (3.0 * rng.normal()) as f32));
            truth.push(100 + t);
        }
        let data = Embeddings::from_flat(flat, 16).unwrap();
        let c = hdbscan(&data, &HdbscanParams::default()).unwrap();
        assert_eq!(c.n_clusters, 4, "sizes {:?}, noise {}", c.sizes(), c.noise());
        assert!(purity(&c.labels, &truth) > 0.99);
        assert!(c.labels[200..].iter().all(|&l| l == NOISE), "lone points should be noise: {:?}", &c.labels[200..]);
        assert!(c.noise() < 6 + 10, "too much noise: {}", c.noise());
        assert_eq!(c.labels[0], 0, "clusters numbered by first point");
    }

    #[test]
    fn hdbscan_handles_small_and_degenerate_sets() {
        let one = Embeddings::from_flat(vec![1.0, 2.0], 2).unwrap();
        assert_eq!(hdbscan(&one, &HdbscanParams::default()).unwrap(), Clustering { labels: vec![NOISE], n_clusters: 0 });
        let same = Embeddings::from_flat(vec![0.3; 40], 2).unwrap();
        let c = hdbscan(&same, &HdbscanParams { allow_single_cluster: true, ..Default::default() }).unwrap();
        assert_eq!(c.labels.len(), 20);
        assert!(hdbscan(&one, &HdbscanParams { min_cluster_size: 1, ..Default::default() }).is_err());
    }

    #[test]
    fn hdbscan_is_deterministic_and_order_independent_up_to_numbering() {
        let (data, truth) = gaussian_blobs(3, 40, 8, 0.3, 3).unwrap();
        let a = hdbscan(&data, &HdbscanParams::default()).unwrap();
        assert_eq!(a, hdbscan(&data, &HdbscanParams::default()).unwrap());
        let rev: Vec<usize> = (0..data.len()).rev().collect();
        let b = hdbscan(&data.select(&rev).unwrap(), &HdbscanParams::default()).unwrap();
        let rev_truth: Vec<usize> = rev.iter().map(|&i| truth[i]).collect();
        assert_eq!(a.n_clusters, b.n_clusters);
        assert!(purity(&b.labels, &rev_truth) > 0.99);
    }

    #[test]
    fn leaf_selection_splits_blobs_of_blobs() {
        // Two far groups, each of three close blobs: excess of mass picks the two groups, leaf the six blobs.
        let (centres, group) = gaussian_blobs(2, 3, 16, 0.35, 5).unwrap();
        let mut rng = SplitMix64::new(6);
        let (mut flat, mut sub) = (Vec::new(), Vec::new());
        for (b, c) in centres.rows().enumerate() {
            for _ in 0..40 {
                flat.extend(c.iter().map(|&v| v * 3.0 + (0.15 * rng.normal()) as f32));
                sub.push(b);
            }
        }
        let data = Embeddings::from_flat(flat, 16).unwrap();
        let groups: Vec<usize> = sub.iter().map(|&b| group[b]).collect();
        let eom = hdbscan(&data, &HdbscanParams { min_cluster_size: 10, ..Default::default() }).unwrap();
        let leaf = hdbscan(&data, &HdbscanParams { min_cluster_size: 10, selection: ClusterSelection::Leaf, ..Default::default() }).unwrap();
        assert_eq!(eom.n_clusters, 2, "eom sizes {:?}", eom.sizes());
        assert!(purity(&eom.labels, &groups) > 0.99);
        assert_eq!(leaf.n_clusters, 6, "leaf sizes {:?}", leaf.sizes());
        assert!(purity(&leaf.labels, &sub) > 0.99);
    }

    #[test]
    fn kmeans_recovers_blobs() {
        let (data, truth) = gaussian_blobs(5, 30, 12, 0.3, 4).unwrap();
        let c = kmeans(&data, 5, 1, 100).unwrap();
        assert_eq!(c.n_clusters, 5);
        assert!(purity(&c.labels, &truth) > 0.95);
        assert!(kmeans(&data, 0, 1, 10).is_err());
        assert!(kmeans(&data, 1000, 1, 10).is_err());
        assert_eq!(c, kmeans(&data, 5, 1, 100).unwrap());
    }
}
