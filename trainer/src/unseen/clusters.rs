//! Clusters of the map (the page's HDBSCAN on the same prepared embeddings: unit length, 50 principal
//! components, smallest cluster 5) over every real glitch at once, and what they say per class: does a class
//! have a cluster of its own, and into how many does it split.

use anyhow::Result;
use glitchscope::discovery::{Embeddings, HdbscanParams, MapOptions, hdbscan, prepare};

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

pub fn cluster_classes(glitches: &[RealGlitch]) -> Result<MapClusters> {
    let options = MapOptions::default();
    let data = Embeddings::from_rows(&glitches.iter().map(|g| g.embedding.as_slice()).collect::<Vec<_>>())?;
    let prepared = prepare(&data, options.pca_dims, options.seed)?;
    let clustering = hdbscan(&prepared.reduced, &HdbscanParams { min_cluster_size: options.min_cluster_size, ..HdbscanParams::default() })?;
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
    Ok(MapClusters { n_clusters: k, per_class, overall_purity: majority as f64 / clustered.max(1) as f64 })
}
