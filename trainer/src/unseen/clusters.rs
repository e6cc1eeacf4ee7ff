//! Clusters of the map (the page's HDBSCAN on the same prepared embeddings, `discovery::map_clusters`: unit
//! length, 50 principal components, smallest cluster 4, 2 core neighbours) over every real glitch at once, and
//! what they say per class: does a class have a cluster of its own, and into how many does it split. `grid`
//! measures other HDBSCAN settings on the same points (how the page's were chosen).

use anyhow::Result;
use std::collections::BTreeMap;

use glitchscope::discovery::{ClusterSelection, Clustering, Embeddings, HdbscanParams, MapOptions, hdbscan, map_clusters, prepare};

use super::real_set::RealGlitch;

pub struct ClassClusters {
    pub class: String,
    pub n: usize,
    /// Share of the cluster holding most of the class that is the class (0 when all are noise).
    pub purity: f64,
    /// Share of the class in that cluster.
    pub recall: f64,
    /// Clusters holding at least one of its glitches.
    pub clusters: usize,
    pub noise: usize,
}

pub struct MapClusters {
    pub n_clusters: usize,
    pub per_class: Vec<ClassClusters>,
    /// Glitch-weighted purity over all clusters: each cluster counts its majority class.
    pub overall_purity: f64,
}

/// The glitches' embeddings prepared as the page prepares a map's (unit length, its principal components).
pub fn prepared_points(glitches: &[RealGlitch]) -> Result<Embeddings> {
    let options = MapOptions::default();
    let data = Embeddings::from_rows(&glitches.iter().map(|g| g.embedding.as_slice()).collect::<Vec<_>>())?;
    Ok(prepare(&data, options.pca_dims, options.seed)?.reduced)
}

/// The page's clusters of `points` (from [`prepared_points`] of `glitches`), per class.
pub fn cluster_classes(glitches: &[RealGlitch], points: &Embeddings) -> Result<MapClusters> {
    Ok(summarise(glitches, &map_clusters(points, &MapOptions::default())?))
}

/// What a clustering of `glitches` says per class.
fn summarise(glitches: &[RealGlitch], clustering: &Clustering) -> MapClusters {
    let mut classes: Vec<&str> = glitches.iter().map(|g| g.class.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    let k = clustering.n_clusters;
    // counts[cluster][class]
    let mut counts = vec![vec![0usize; classes.len()]; k];
    for (g, &l) in glitches.iter().zip(&clustering.labels) {
        if l >= 0 {
            counts[l as usize][classes.binary_search(&g.class.as_str()).unwrap_or(0)] += 1;
        }
    }
    let sizes = clustering.sizes();
    let per_class = classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let n = glitches.iter().filter(|g| g.class == *name).count();
            let best = (0..k).max_by_key(|&l| counts[l][c]);
            let (purity, recall) = match best {
                Some(l) if counts[l][c] > 0 => (counts[l][c] as f64 / sizes[l] as f64, counts[l][c] as f64 / n as f64),
                _ => (0.0, 0.0),
            };
            let noise = glitches.iter().zip(&clustering.labels).filter(|(g, l)| g.class == *name && **l < 0).count();
            ClassClusters { class: name.to_string(), n, purity, recall, clusters: (0..k).filter(|&l| counts[l][c] > 0).count(), noise }
        })
        .collect();
    let clustered: usize = sizes.iter().sum();
    let majority: usize = counts.iter().map(|row| row.iter().copied().max().unwrap_or(0)).sum();
    MapClusters { n_clusters: k, per_class, overall_purity: majority as f64 / clustered.max(1) as f64 }
}

/// One clustering setting of the grid ([`grid`]) and what it gives on the real glitches.
pub struct GridRow {
    pub setting: String,
    pub n_clusters: usize,
    /// Share of the glitches in a cluster (not noise).
    pub clustered: f64,
    pub overall_purity: f64,
    /// Adjusted Rand index against the classes, each noise point a cluster of its own.
    pub ari: f64,
    /// Median over the classes the network never saw of the F1 of the class's main cluster (2PR / (P + R)).
    pub f1_unseen: f64,
    /// The same over the classes it trained on.
    pub f1_trained: f64,
    /// Mean number of clusters a trained class spans.
    pub spans_trained: f64,
}

/// HDBSCAN settings measured against the page's on the same `points` ([`prepared_points`]): smallest cluster,
/// core neighbours, selection.
pub fn grid(glitches: &[RealGlitch], points: &Embeddings, trained: &[String]) -> Result<Vec<GridRow>> {
    let mut rows = Vec::new();
    for mcs in [3usize, 4, 5, 8] {
        for ms in [Some(1usize), Some(2), Some(3), None] {
            for selection in [ClusterSelection::ExcessOfMass, ClusterSelection::Leaf] {
                let params = HdbscanParams { min_cluster_size: mcs, min_samples: ms, allow_single_cluster: false, selection };
                let clustering = hdbscan(points, &params)?;
                let m = summarise(glitches, &clustering);
                let f1 = |c: &ClassClusters| if c.purity + c.recall > 0.0 { 2.0 * c.purity * c.recall / (c.purity + c.recall) } else { 0.0 };
                let (seen, unseen): (Vec<&ClassClusters>, Vec<&ClassClusters>) =
                    m.per_class.iter().filter(|c| c.class != "None_of_the_Above").partition(|c| trained.contains(&c.class));
                let med = |v: &[&ClassClusters]| super::report::median_of(v.iter().map(|c| f1(c)).collect());
                let ms_name = ms.map_or("= smallest".to_string(), |v| v.to_string());
                rows.push(GridRow {
                    setting: format!("smallest {mcs}, core {ms_name}, {}", if selection == ClusterSelection::Leaf { "leaf" } else { "EOM" }),
                    n_clusters: m.n_clusters,
                    clustered: 1.0 - clustering.noise() as f64 / glitches.len().max(1) as f64,
                    overall_purity: m.overall_purity,
                    ari: adjusted_rand(glitches, &clustering),
                    f1_unseen: med(&unseen),
                    f1_trained: med(&seen),
                    spans_trained: if seen.is_empty() { f64::NAN } else { seen.iter().map(|c| c.clusters as f64).sum::<f64>() / seen.len() as f64 },
                });
            }
        }
    }
    Ok(rows)
}

/// Adjusted Rand index of the clustering against the classes; noise points count as clusters of one.
fn adjusted_rand(glitches: &[RealGlitch], clustering: &Clustering) -> f64 {
    let n = glitches.len();
    let mut next = clustering.n_clusters as i64;
    let cluster: Vec<i64> = clustering.labels.iter().map(|&l| if l >= 0 { l as i64 } else { next += 1; next }).collect();
    let mut pairs: BTreeMap<(&str, i64), usize> = BTreeMap::new();
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_cluster: BTreeMap<i64, usize> = BTreeMap::new();
    for (g, &c) in glitches.iter().zip(&cluster) {
        *pairs.entry((g.class.as_str(), c)).or_default() += 1;
        *by_class.entry(g.class.as_str()).or_default() += 1;
        *by_cluster.entry(c).or_default() += 1;
    }
    let c2 = |k: usize| (k * k.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = pairs.values().map(|&k| c2(k)).sum();
    let a: f64 = by_class.values().map(|&k| c2(k)).sum();
    let b: f64 = by_cluster.values().map(|&k| c2(k)).sum();
    let expected = a * b / c2(n).max(1.0);
    let max = 0.5 * (a + b);
    if (max - expected).abs() < 1e-12 { 0.0 } else { (index - expected) / (max - expected) }
}
