//! Class-conditional Mahalanobis distance with one shared covariance (Lee et al. 2018), in the principal
//! components of the references' unit embeddings. The embeddings have 1280 dimensions and the references a few
//! hundred glitches, so the covariance is estimated in `dims` components and shrunk towards a multiple of the
//! identity (Ledoit-Wolf style, fixed weight): rare classes with 3 glitches still get a usable distance.

use anyhow::Result;
use glitchscope::discovery::pca::symmetric_eigen;
use glitchscope::discovery::{Embeddings, Pca};

pub struct Mahalanobis {
    pca: Pca,
    /// Whitening: `dims x dims`, row-major; whitened = W z.
    whiten: Vec<f64>,
    /// Whitened class means.
    means: Vec<Vec<f64>>,
    dims: usize,
}

const SHRINK: f64 = 0.2;

impl Mahalanobis {
    /// `unit`: the references' unit embeddings; `labels[i]` in `0..classes`.
    pub fn fit(unit: &Embeddings, labels: &[usize], classes: usize, dims: usize) -> Result<Self> {
        let pca = Pca::fit(unit, dims, 0)?;
        let k = pca.n_components();
        let z: Vec<Vec<f64>> = unit.rows().map(|r| pca.project(r).map(|v| v.into_iter().map(f64::from).collect())).collect::<Result<_, _>>()?;
        let mut means = vec![vec![0.0f64; k]; classes];
        let mut counts = vec![0usize; classes];
        for (zi, &c) in z.iter().zip(labels) {
            means[c].iter_mut().zip(zi).for_each(|(m, v)| *m += v);
            counts[c] += 1;
        }
        for (m, &n) in means.iter_mut().zip(&counts) {
            if n > 0 {
                m.iter_mut().for_each(|v| *v /= n as f64);
            }
        }
        let mut cov = vec![0.0f64; k * k];
        for (zi, &c) in z.iter().zip(labels) {
            let d: Vec<f64> = zi.iter().zip(&means[c]).map(|(a, b)| a - b).collect();
            for i in 0..k {
                for j in i..k {
                    cov[i * k + j] += d[i] * d[j];
                }
            }
        }
        let n = z.len().max(1) as f64;
        for i in 0..k {
            for j in i..k {
                cov[i * k + j] /= n;
                cov[j * k + i] = cov[i * k + j];
            }
        }
        let trace: f64 = (0..k).map(|i| cov[i * k + i]).sum::<f64>() / k as f64;
        for i in 0..k {
            for j in 0..k {
                cov[i * k + j] *= 1.0 - SHRINK;
            }
            cov[i * k + i] += SHRINK * trace;
        }
        let (values, vectors) = symmetric_eigen(&mut cov, k);
        // W = diag(1 / sqrt(lambda)) V^T: row r of W is eigenvector r (column r of `vectors`) scaled.
        let mut whiten = vec![0.0f64; k * k];
        for r in 0..k {
            let s = 1.0 / values[r].max(1e-12).sqrt();
            for c in 0..k {
                whiten[r * k + c] = vectors[c * k + r] * s;
            }
        }
        let mut out = Self { pca, whiten, means: Vec::new(), dims: k };
        out.means = (0..classes).filter(|&c| counts[c] > 0).map(|c| out.apply(&means[c])).collect();
        Ok(out)
    }

    fn apply(&self, z: &[f64]) -> Vec<f64> {
        let k = self.dims;
        (0..k).map(|r| (0..k).map(|c| self.whiten[r * k + c] * z[c]).sum()).collect()
    }

    /// Squared distance to the nearest class mean, for a unit embedding.
    pub fn score(&self, unit: &[f32]) -> Result<f32> {
        let z: Vec<f64> = self.pca.project(unit)?.into_iter().map(f64::from).collect();
        let w = self.apply(&z);
        let best = self.means.iter().map(|m| m.iter().zip(&w).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()).fold(f64::INFINITY, f64::min);
        Ok(best as f32)
    }
}
