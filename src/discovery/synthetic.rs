//! Gaussian blobs with known labels: the ground truth for tests and benchmarks of the discovery steps (clusters
//! should come out pure, a held-out blob should look unfamiliar, a few examples should define a new class).

use super::rng::SplitMix64;
use super::{DiscoveryError, Embeddings, Result};

/// `blobs` groups of `per_blob` points in `dim` dimensions. Centres are random directions at distance 1 from the
/// origin (like normalised embeddings of different classes); points scatter around them with standard deviation
/// `spread / sqrt(dim)` per coordinate, so `spread` is the typical distance from the centre whatever `dim` is.
/// Returns the points (blob after blob) and each point's blob number.
pub fn gaussian_blobs(blobs: usize, per_blob: usize, dim: usize, spread: f32, seed: u64) -> Result<(Embeddings, Vec<usize>)> {
    if blobs == 0 || per_blob == 0 {
        return Err(DiscoveryError::Empty);
    }
    if !(spread.is_finite() && spread >= 0.0) {
        return Err(DiscoveryError::InvalidParameter { name: "spread", message: format!("{spread} is not a distance") });
    }
    let mut rng = SplitMix64::new(seed);
    let sigma = spread as f64 / (dim as f64).sqrt();
    let mut data = Vec::with_capacity(blobs * per_blob * dim);
    let mut labels = Vec::with_capacity(blobs * per_blob);
    for b in 0..blobs {
        let mut centre: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
        let norm = centre.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        centre.iter_mut().for_each(|x| *x /= norm);
        for _ in 0..per_blob {
            data.extend(centre.iter().map(|c| (c + sigma * rng.normal()) as f32));
            labels.push(b);
        }
    }
    Ok((Embeddings::from_flat(data, dim)?, labels))
}
