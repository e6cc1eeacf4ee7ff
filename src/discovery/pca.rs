//! Principal component analysis by randomised subspace (block power) iteration.
//!
//! Why not the covariance matrix: for 1280-d embeddings it has 1.6 M entries and costs n * 1280^2 to build; a block
//! of ~60 random directions refined by a few power iterations costs a few n * 1280 * 60 products and finds the
//! leading components to high accuracy (Halko, Martinsson & Tropp 2011). The small l x l problem at the end is
//! solved exactly with Jacobi rotations.

use super::embeddings::dot;
use super::rng::SplitMix64;
use super::{DiscoveryError, Embeddings, Result};

/// Extra directions beyond the wanted components: they soak up the tail so the leading ones converge fast.
const OVERSAMPLE: usize = 10;
/// Power iterations; each sharpens the separation of the spectrum. Three is plenty for the steep spectra of
/// network features.
const POWER_ITERATIONS: usize = 3;

/// A fitted projection: subtract `mean`, then take dot products with the `components` (rows, unit length, ordered
/// by decreasing variance; the sign of each makes its largest coordinate positive, so results are reproducible).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pca {
    pub dim: usize,
    pub mean: Vec<f32>,
    /// `n_components * dim`, row-major.
    pub components: Vec<f32>,
    /// The variance of the data along each component.
    pub variances: Vec<f32>,
}

impl Pca {
    /// Fit `k` components (fewer when there are fewer points or dimensions).
    pub fn fit(data: &Embeddings, k: usize, seed: u64) -> Result<Self> {
        if k == 0 {
            return Err(DiscoveryError::InvalidParameter { name: "number of PCA components", message: "must be at least 1".into() });
        }
        let (n, d) = (data.len(), data.dim());
        let k = k.min(n).min(d);
        let l = (k + OVERSAMPLE).min(n).min(d);

        let mut mean = vec![0.0f64; d];
        for r in data.rows() {
            mean.iter_mut().zip(r).for_each(|(m, &x)| *m += x as f64);
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
        let mut x = data.as_flat().to_vec();
        for r in x.chunks_exact_mut(d) {
            r.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
        }
        let x = Embeddings::from_flat(x, d)?;

        let mut rng = SplitMix64::new(seed ^ 0x5043_4100);
        let mut z: Vec<Vec<f32>> = (0..l).map(|_| (0..d).map(|_| rng.normal() as f32).collect()).collect();
        let mut y = times(&x, &z);
        orthonormalise(&mut y);
        for _ in 0..POWER_ITERATIONS {
            z = transpose_times(&x, &y);
            orthonormalise(&mut z);
            y = times(&x, &z);
            orthonormalise(&mut y);
        }
        // B = Y^T X (l x d); B B^T = U diag(s^2) U^T gives the right singular vectors V = B^T U / s.
        let b = transpose_times(&x, &y);
        let mut gram = vec![0.0f64; l * l];
        for i in 0..l {
            for j in 0..=i {
                let g = dot(&b[i], &b[j]) as f64;
                gram[i * l + j] = g;
                gram[j * l + i] = g;
            }
        }
        let (eigenvalues, eigenvectors) = symmetric_eigen(&mut gram, l);
        let mut order: Vec<usize> = (0..l).collect();
        order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]).then(a.cmp(&b)));

        let mut components = Vec::with_capacity(k * d);
        let mut variances = Vec::with_capacity(k);
        for &m in order.iter().take(k) {
            let lambda = eigenvalues[m].max(0.0);
            let mut c = vec![0.0f32; d];
            for (j, bj) in b.iter().enumerate() {
                let u = eigenvectors[j * l + m] as f32;
                c.iter_mut().zip(bj).for_each(|(ci, &bv)| *ci += u * bv);
            }
            let norm = dot(&c, &c).sqrt();
            if norm > 0.0 {
                c.iter_mut().for_each(|v| *v /= norm);
            }
            // Fix the sign so the same data always gives the same coordinates.
            let largest = c.iter().copied().fold(0.0f32, |a, v| if v.abs() > a.abs() { v } else { a });
            if largest < 0.0 {
                c.iter_mut().for_each(|v| *v = -*v);
            }
            components.extend_from_slice(&c);
            variances.push((lambda / (n.max(2) - 1) as f64) as f32);
        }
        Ok(Self { dim: d, mean, components, variances })
    }

    pub fn n_components(&self) -> usize {
        self.variances.len()
    }

    /// One vector in component coordinates.
    pub fn project(&self, v: &[f32]) -> Result<Vec<f32>> {
        super::embeddings::check_vector(v, self.dim, 0)?;
        let centred: Vec<f32> = v.iter().zip(&self.mean).map(|(a, m)| a - m).collect();
        Ok(self.components.chunks_exact(self.dim).map(|c| dot(&centred, c)).collect())
    }

    /// Every row in component coordinates.
    pub fn transform(&self, data: &Embeddings) -> Result<Embeddings> {
        if data.dim() != self.dim {
            return Err(DiscoveryError::DimensionMismatch { row: 0, expected: self.dim, got: data.dim() });
        }
        let mut out = Vec::with_capacity(data.len() * self.n_components());
        for r in data.rows() {
            out.extend(self.project(r)?);
        }
        Embeddings::from_flat(out, self.n_components())
    }
}

/// Columns of X * Z^T, stored as l vectors of length n: `y[j][i] = <x_i, z_j>`.
fn times(x: &Embeddings, z: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut y = vec![vec![0.0f32; x.len()]; z.len()];
    for (i, xi) in x.rows().enumerate() {
        for (yj, zj) in y.iter_mut().zip(z) {
            yj[i] = dot(xi, zj);
        }
    }
    y
}

/// X^T * Y, stored as l vectors of length d: `z[j] = sum_i y[j][i] x_i`.
fn transpose_times(x: &Embeddings, y: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut z = vec![vec![0.0f32; x.dim()]; y.len()];
    for (i, xi) in x.rows().enumerate() {
        for (zj, yj) in z.iter_mut().zip(y) {
            let a = yj[i];
            zj.iter_mut().zip(xi).for_each(|(s, &v)| *s += a * v);
        }
    }
    z
}

/// Modified Gram-Schmidt, twice over ("twice is enough" for orthogonality in floating point). A vector that is
/// (numerically) in the span of the earlier ones becomes zero and stays out of the way.
fn orthonormalise(vs: &mut [Vec<f32>]) {
    for _ in 0..2 {
        for j in 0..vs.len() {
            let (done, rest) = vs.split_at_mut(j);
            let v = &mut rest[0];
            for u in done.iter() {
                let p = dot(v, u);
                v.iter_mut().zip(u).for_each(|(a, &b)| *a -= p * b);
            }
            let norm = dot(v, v).sqrt();
            if norm > 1e-20 {
                v.iter_mut().for_each(|a| *a /= norm);
            } else {
                v.iter_mut().for_each(|a| *a = 0.0);
            }
        }
    }
}

/// Eigen-decomposition of a small symmetric matrix (row-major, overwritten) by cyclic Jacobi rotations.
/// Returns the eigenvalues and the eigenvectors as columns of a row-major matrix.
pub fn symmetric_eigen(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * n + j].powi(2)).sum();
        if off.sqrt() <= 1e-14 * scale || scale == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::rng::SplitMix64;

    /// Exact PCA through the full covariance matrix, for comparison on small dimensions.
    fn exact(data: &Embeddings) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (n, d) = (data.len(), data.dim());
        let mean: Vec<f64> = (0..d).map(|j| data.rows().map(|r| r[j] as f64).sum::<f64>() / n as f64).collect();
        let mut cov = vec![0.0; d * d];
        for r in data.rows() {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += (r[i] as f64 - mean[i]) * (r[j] as f64 - mean[j]) / (n - 1) as f64;
                }
            }
        }
        let (vals, vecs) = symmetric_eigen(&mut cov, d);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
        (order.iter().map(|&m| vals[m]).collect(), order.iter().map(|&m| (0..d).map(|k| vecs[k * d + m]).collect()).collect())
    }

    fn anisotropic(n: usize, d: usize, seed: u64) -> Embeddings {
        let mut rng = SplitMix64::new(seed);
        let scales: Vec<f64> = (0..d).map(|j| 3.0 * 0.6f64.powi(j as i32) + 0.01).collect();
        // A random rotation would be nicer, but mixing two coordinates is enough to make the axes non-trivial.
        let mut data = Vec::new();
        for _ in 0..n {
            let z: Vec<f64> = scales.iter().map(|s| s * rng.normal()).collect();
            for j in 0..d {
                let v = if j + 1 < d { (z[j] + z[(j + 1) % d]) / 2f64.sqrt() } else { z[j] };
                data.push((v + 5.0) as f32);
            }
        }
        Embeddings::from_flat(data, d).unwrap()
    }

    #[test]
    fn matches_exact_pca_on_a_small_problem() {
        let data = anisotropic(400, 24, 3);
        let pca = Pca::fit(&data, 5, 11).unwrap();
        let (vals, vecs) = exact(&data);
        for m in 0..5 {
            let rel = (pca.variances[m] as f64 - vals[m]).abs() / vals[m];
            assert!(rel < 1e-3, "component {m}: variance {} vs exact {}", pca.variances[m], vals[m]);
            let c = &pca.components[m * 24..(m + 1) * 24];
            let cos: f64 = c.iter().zip(&vecs[m]).map(|(&a, b)| a as f64 * b).sum();
            assert!(cos.abs() > 0.999, "component {m} direction off: |cos| = {}", cos.abs());
        }
    }

    #[test]
    fn projection_is_centred_and_deterministic() {
        let data = anisotropic(100, 16, 5);
        let a = Pca::fit(&data, 3, 1).unwrap();
        let b = Pca::fit(&data, 3, 1).unwrap();
        assert_eq!(a, b);
        let t = a.transform(&data).unwrap();
        assert_eq!((t.len(), t.dim()), (100, 3));
        for j in 0..3 {
            let mean: f32 = t.rows().map(|r| r[j]).sum::<f32>() / 100.0;
            assert!(mean.abs() < 1e-3, "coordinate {j} mean {mean}");
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let one = Embeddings::from_flat(vec![1.0, 2.0, 3.0], 3).unwrap();
        let p = Pca::fit(&one, 2, 0).unwrap();
        assert_eq!(p.transform(&one).unwrap().as_flat(), &[0.0]);
        let same = Embeddings::from_flat(vec![1.0; 12], 3).unwrap();
        assert!(Pca::fit(&same, 2, 0).unwrap().transform(&same).unwrap().as_flat().iter().all(|v| *v == 0.0));
        assert!(Pca::fit(&one, 0, 0).is_err());
        assert!(p.project(&[1.0, f32::NAN, 0.0]).is_err());
        assert!(p.project(&[1.0]).is_err());
    }
}
