//! One map of a set of glitches, as the page builds it: prepare the embeddings once (unit length, PCA), run t-SNE
//! in steps on them, and cluster the same prepared points with HDBSCAN. Kept out of `web.rs` so the steps the
//! browser runs are tested natively and the benchmark measures exactly this code.

use super::{Clustering, DiscoveryError, Embeddings, HdbscanParams, Progress, Result, Tsne, TsneParams, hdbscan, prepare};

/// Settings of a map; the defaults are what the page uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MapOptions {
    /// Principal components kept before t-SNE and HDBSCAN (0: none).
    pub pca_dims: usize,
    pub perplexity: f64,
    pub iterations: usize,
    pub seed: u64,
    /// HDBSCAN's smallest cluster; lowered for tiny sets so a handful of glitches can still form clusters.
    pub min_cluster_size: usize,
    /// HDBSCAN's neighbours that make a point core (`None`: as many as the smallest cluster). 2 = the nearest
    /// other glitch, so that a few glitches of a rare shape next to a dense class are not absorbed by it.
    pub min_samples: Option<usize>,
}

/// Why smallest cluster 4 with 2 core neighbours and not HDBSCAN's usual 5 and 5: on the real glitches of the
/// unseen-class benchmark (`glitchscope unseen --map-grid`, docs/unseen-real.md, 2026-12-08) under the two
/// half-out networks closest to the shipped one (protocol D) it clustered 83 / 81 % of the glitches instead of
/// 70 / 65 %, at the same purity (91.1 / 90.4 % against 91.2 / 90.7 %), with an adjusted Rand index of 0.689 /
/// 0.704 against 0.649 / 0.689, and the classes those networks never saw got a cluster of their own more often
/// (median F1 of a class's main cluster 0.33 / 0.45 against 0.23 / 0.28). The price: a trained class spans 1.6 /
/// 1.5 clusters instead of 1.1 / 0.7 (more of it was noise before).
impl Default for MapOptions {
    fn default() -> Self {
        Self { pca_dims: 50, perplexity: 30.0, iterations: 750, seed: 0, min_cluster_size: 4, min_samples: Some(2) }
    }
}

/// HDBSCAN clusters of prepared points (`discovery::prepare`) with a map's settings: what the page shows and the
/// benchmark measures. The smallest cluster size shrinks for sets under 30 glitches (to n / 6, at least 2).
pub fn map_clusters(reduced: &Embeddings, options: &MapOptions) -> Result<Clustering> {
    let n = reduced.len();
    let min_cluster_size = if n < 30 { (n / 6).clamp(2, options.min_cluster_size.max(2)) } else { options.min_cluster_size };
    let min_samples = options.min_samples.map(|m| m.clamp(1, min_cluster_size));
    hdbscan(reduced, &HdbscanParams { min_cluster_size, min_samples, ..HdbscanParams::default() })
}

/// A map in progress: the prepared points and the t-SNE run on them.
pub struct MapSession {
    reduced: Embeddings,
    tsne: Tsne,
    options: MapOptions,
}

impl MapSession {
    /// Prepare `n * dim` numbers (row-major) for mapping. Errors name the bad row.
    pub fn new(flat: Vec<f32>, dim: usize, options: MapOptions) -> Result<Self> {
        if options.iterations == 0 {
            return Err(DiscoveryError::InvalidParameter { name: "iterations", message: "must be at least 1".into() });
        }
        let data = Embeddings::from_flat(flat, dim)?;
        let prepared = prepare(&data, options.pca_dims, options.seed)?;
        let params = TsneParams {
            perplexity: options.perplexity,
            iterations: options.iterations,
            // The usual 250 of 1000 iterations; shortened with the run so short runs still get past it.
            exaggeration_iterations: (options.iterations / 3).min(250),
            seed: options.seed,
            ..TsneParams::default()
        };
        let tsne = Tsne::new(&prepared.reduced, params)?;
        Ok(Self { reduced: prepared.reduced, tsne, options })
    }

    pub fn len(&self) -> usize {
        self.reduced.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reduced.is_empty()
    }

    /// Run up to `n_iter` more t-SNE iterations.
    pub fn step(&mut self, n_iter: usize) -> Progress {
        self.tsne.step(n_iter)
    }

    pub fn progress(&self) -> Progress {
        self.tsne.progress()
    }

    /// The map so far, `[x0, y0, x1, y1, ...]`.
    pub fn coordinates_flat(&self) -> Vec<f32> {
        self.tsne.coordinates_flat()
    }

    /// HDBSCAN clusters of the prepared embeddings (not of the 2-D map, whose distances t-SNE distorts), by
    /// [`map_clusters`].
    pub fn clusters(&self) -> Result<Clustering> {
        map_clusters(&self.reduced, &self.options)
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    /// Fraction of points whose nearest other point on the map has the same blob.
    fn nearest_same_blob(coords: &[f32], truth: &[usize]) -> f64 {
        let n = truth.len();
        let mut same = 0;
        for i in 0..n {
            let d = |j: usize| (coords[2 * i] - coords[2 * j]).powi(2) + (coords[2 * i + 1] - coords[2 * j + 1]).powi(2);
            let best = (0..n).filter(|&j| j != i).min_by(|&a, &b| d(a).total_cmp(&d(b))).unwrap();
            same += usize::from(truth[best] == truth[i]);
        }
        same as f64 / n as f64
    }

    #[test]
    fn stepped_map_separates_blobs_and_clusters_find_them() {
        let (data, truth) = gaussian_blobs(4, 40, 128, 0.4, 3).unwrap();
        let mut map = MapSession::new(data.into_flat(), 128, MapOptions { iterations: 300, ..MapOptions::default() }).unwrap();
        assert_eq!(map.len(), 160);
        let first = map.step(50);
        assert_eq!((first.iteration, first.total, first.done), (50, 300, false));
        let early = map.coordinates_flat();
        while !map.step(50).done {}
        let coords = map.coordinates_flat();
        assert_eq!(coords.len(), 320);
        assert_ne!(early, coords, "the layout moves between steps");
        assert!(coords.iter().all(|v| v.is_finite()));
        let purity = nearest_same_blob(&coords, &truth);
        assert!(purity > 0.95, "nearest neighbour on the map is in the same blob for {purity}");
        let clusters = map.clusters().unwrap();
        assert_eq!(clusters.n_clusters, 4, "{:?}", clusters.sizes());
        for blob in 0..4 {
            let labels: Vec<i32> = (0..160).filter(|&i| truth[i] == blob && clusters.labels[i] >= 0).map(|i| clusters.labels[i]).collect();
            assert!(labels.len() >= 30 && labels.iter().all(|&l| l == labels[0]), "blob {blob}: {labels:?}");
        }
    }

    #[test]
    fn tiny_sets_work_and_bad_input_is_an_error() {
        // One, two and seven glitches: a map (trivial for one), and clusters without panics.
        for n in [1usize, 2, 7] {
            let (data, _) = gaussian_blobs(1, n, 16, 0.5, 1).unwrap();
            let mut map = MapSession::new(data.into_flat(), 16, MapOptions::default()).unwrap();
            while !map.step(100).done {}
            let coords = map.coordinates_flat();
            assert_eq!(coords.len(), 2 * n);
            assert!(coords.iter().all(|v| v.is_finite()));
            assert_eq!(map.clusters().unwrap().labels.len(), n);
        }
        assert!(MapSession::new(vec![], 4, MapOptions::default()).is_err());
        assert!(MapSession::new(vec![1.0, 2.0, 3.0], 2, MapOptions::default()).is_err());
        let err = MapSession::new(vec![1.0, 0.0, 0.0, 0.0], 2, MapOptions::default()).err().unwrap().to_string();
        assert!(err.contains("embedding 1") && err.contains("zeros"), "{err}");
        assert!(MapSession::new(vec![1.0, f32::NAN], 2, MapOptions::default()).is_err());
        assert!(MapSession::new(vec![1.0, 2.0], 2, MapOptions { iterations: 0, ..MapOptions::default() }).is_err());
    }
}
