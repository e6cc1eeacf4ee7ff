//! Time of the map and the clustering for 500 and 2,000 glitches (synthetic 1280-d embeddings, 22 classes),
//! one thread, as the browser runs them. A measurement, so ignored by default:
//! `cargo test --release -p glitchscope-trainer --test discovery_timing -- --ignored --nocapture`.

use std::time::Instant;

use glitchscope::discovery::synthetic::gaussian_blobs;
use glitchscope::discovery::{Embeddings, HdbscanParams, Tsne, TsneParams, hdbscan, prepare};

#[test]
#[ignore = "a timing measurement; run with --ignored --nocapture"]
fn map_and_clustering_time_for_500_and_2000_glitches() {
    for n in [500usize, 2000] {
        let (data, truth) = gaussian_blobs(22, n.div_ceil(22), 1280, 0.8, 1).unwrap();
        let rows: Vec<usize> = (0..n).collect();
        let data = data.select(&rows).unwrap();

        let start = Instant::now();
        let prepared = prepare(&data, 50, 0).unwrap();
        let t_prepare = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let mut tsne = Tsne::new(&prepared.reduced, TsneParams::default()).unwrap();
        let t_init = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let mut longest_step = 0.0f64;
        let mut progress = tsne.progress();
        while !progress.done {
            let s = Instant::now();
            progress = tsne.step(25);
            longest_step = longest_step.max(s.elapsed().as_secs_f64());
        }
        let t_map = start.elapsed().as_secs_f64();
        let map = Embeddings::from_flat(tsne.coordinates_flat(), 2).unwrap();
        let start = Instant::now();
        let on_map = hdbscan(&map, &HdbscanParams::default()).unwrap();
        let t_cluster_map = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let on_pca = hdbscan(&prepared.reduced, &HdbscanParams::default()).unwrap();
        let t_cluster_pca = start.elapsed().as_secs_f64();

        println!(
            "n = {n}: normalise + PCA-50 {t_prepare:.3} s, t-SNE setup {t_init:.3} s, 750 iterations {t_map:.3} s (longest step(25) \
             {:.0} ms), HDBSCAN on the map {t_cluster_map:.3} s ({} clusters), on PCA-50 {t_cluster_pca:.3} s ({} clusters); \
             map + clusters {:.2} s",
            longest_step * 1000.0,
            on_map.n_clusters,
            on_pca.n_clusters,
            t_prepare + t_init + t_map + t_cluster_map
        );
        // The blobs are far apart: every clustering must recover all 22.
        assert_eq!(on_pca.n_clusters, 22);
        assert_eq!(on_pca.noise(), 0);
        let same_cluster_same_blob = (1..n).all(|i| (on_pca.labels[i] == on_pca.labels[i - 1]) == (truth[i] == truth[i - 1]));
        assert!(same_cluster_same_blob, "clusters do not follow the blobs");
        assert!(on_map.n_clusters >= 20, "{} clusters on the map", on_map.n_clusters);
    }
}
