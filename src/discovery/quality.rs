//! How faithful a map is to the embedding space: measures for tests, benchmarks and the closing report.

use super::embeddings::squared_distance;
use super::neighbours::knn_graph;
use super::{DiscoveryError, Embeddings, Result};

fn check_pair(high: &Embeddings, low: &Embeddings, k: usize) -> Result<()> {
    if high.len() != low.len() {
        return Err(DiscoveryError::InvalidParameter {
            name: "map",
            message: format!("{} map points for {} embeddings", low.len(), high.len()),
        });
    }
    if k == 0 || 2 * k >= high.len() {
        return Err(DiscoveryError::TooFew { what: "a neighbourhood measure with this k", needed: 2 * k + 1, got: high.len() });
    }
    Ok(())
}

/// Trustworthiness (Venna & Kaski 2001) at `k`: 1 when every map neighbour is also a neighbour in the original
/// space; penalises map neighbours by how far down the original ranking they are. Around 0.5 for a random map.
pub fn trustworthiness(high: &Embeddings, low: &Embeddings, k: usize) -> Result<f64> {
    check_pair(high, low, k)?;
    let n = high.len();
    let low_graph = knn_graph(low, k)?;
    let mut penalty = 0.0f64;
    let mut rank = vec![0usize; n];
    let mut order: Vec<(f32, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        order.clear();
        order.extend((0..n).filter(|&j| j != i).map(|j| (squared_distance(high.row(i), high.row(j)), j)));
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (r, &(_, j)) in order.iter().enumerate() {
            rank[j] = r + 1;
        }
        for &j in low_graph.neighbours(i) {
            if rank[j] > k {
                penalty += (rank[j] - k) as f64;
            }
        }
    }
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty)
}

/// Mean share of each point's k nearest neighbours in the original space that are also among its k nearest on the
/// map (1 = all kept; about k/n for a random map).
pub fn knn_overlap(high: &Embeddings, low: &Embeddings, k: usize) -> Result<f64> {
    check_pair(high, low, k)?;
    let (gh, gl) = (knn_graph(high, k)?, knn_graph(low, k)?);
    let shared: usize = (0..high.len()).map(|i| gh.neighbours(i).iter().filter(|j| gl.neighbours(i).contains(j)).count()).sum();
    Ok(shared as f64 / (high.len() * k) as f64)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    #[test]
    fn identity_scores_one_and_a_shuffled_map_scores_low() {
        let (data, _) = gaussian_blobs(1, 200, 2, 1.0, 5).unwrap();
        assert!((trustworthiness(&data, &data, 5).unwrap() - 1.0).abs() < 1e-12);
        assert!((knn_overlap(&data, &data, 5).unwrap() - 1.0).abs() < 1e-12);
        // Reverse the rows: each point gets another point's position.
        let rev: Vec<usize> = (0..data.len()).rev().collect();
        let shuffled = data.select(&rev).unwrap();
        assert!(trustworthiness(&data, &shuffled, 5).unwrap() < 0.7);
        assert!(knn_overlap(&data, &shuffled, 5).unwrap() < 0.2);
        assert!(trustworthiness(&data, &data.select(&[0, 1]).unwrap(), 5).is_err());
    }
}
