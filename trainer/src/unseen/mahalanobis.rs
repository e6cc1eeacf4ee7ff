//! Class-conditional Mahalanobis distance with one shared covariance (Lee et al. 2018), in the principal
//! components of the references' unit embeddings (the fold's PCA, shared with its linear head). The embeddings have 1280 dimensions and the references a few
//! hundred glitches, so the covariance is estimated in `dims` components and shrunk towards a multiple of the
//! identity (Ledoit-Wolf style, fixed weight): rare classes with 3 glitches still get a usable distance.

use glitchscope::discovery::pca::symmetric_eigen;

pub struct Mahalanobis {
    /// Whitening: `dims x dims`, row-major; whitened = W z.
    whiten: Vec<f64>,
    /// Whitened class means.
    means: Vec<Vec<f64>>,
    dims: usize,
}

const SHRINK: f64 = 0.2;

impl Mahalanobis {
    /// `z`: the references in the principal components of their unit embeddings (`dims` of them, the caller's
    /// PCA); `labels[i]` in `0..classes`.
    pub fn fit(z: &[Vec<f32>], labels: &[usize], classes: usize, dims: usize) -> Self {
        let k = dims;
        let z: Vec<Vec<f64>> = z.iter().map(|v| v.iter().map(|&x| f64::from(x)).collect()).collect();
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
        let mut out = Self { whiten, means: Vec::new(), dims: k };
        out.means = (0..classes).filter(|&c| counts[c] > 0).map(|c| out.apply(&means[c])).collect();
        out
    }

    fn apply(&self, z: &[f64]) -> Vec<f64> {
        let k = self.dims;
        (0..k).map(|r| (0..k).map(|c| self.whiten[r * k + c] * z[c]).sum()).collect()
    }

    /// Squared distance to the nearest class mean, for a glitch in the same principal components.
    pub fn score(&self, z: &[f32]) -> f32 {
        let z: Vec<f64> = z.iter().map(|&x| f64::from(x)).collect();
        let w = self.apply(&z);
        let best = self.means.iter().map(|m| m.iter().zip(&w).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()).fold(f64::INFINITY, f64::min);
        best as f32
    }
}
