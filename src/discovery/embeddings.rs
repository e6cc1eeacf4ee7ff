//! `Embeddings`: n vectors of one dimension in one row-major buffer, checked once so later steps need not.

use super::{DiscoveryError, Result};

/// n embeddings of `dim` numbers each, row-major, all finite. Never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// From one flat buffer of `n * dim` numbers (row-major).
    pub fn from_flat(data: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(DiscoveryError::ZeroDimension);
        }
        if data.is_empty() {
            return Err(DiscoveryError::Empty);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(DiscoveryError::Ragged { len: data.len(), dim });
        }
        if let Some(at) = data.iter().position(|v| !v.is_finite()) {
            return Err(DiscoveryError::NonFinite { row: at / dim, col: at % dim });
        }
        Ok(Self { dim, data })
    }

    /// From one vector per embedding; all must have the length of the first.
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self> {
        let first = rows.first().ok_or(DiscoveryError::Empty)?;
        let dim = first.as_ref().len();
        let mut data = Vec::with_capacity(rows.len() * dim);
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != dim {
                return Err(DiscoveryError::DimensionMismatch { row, expected: dim, got: r.len() });
            }
            data.extend_from_slice(r);
        }
        Self::from_flat(data, dim)
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Always false (an `Embeddings` holds at least one row); here for the usual pairing with `len`.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    pub fn as_flat(&self) -> &[f32] {
        &self.data
    }

    pub fn into_flat(self) -> Vec<f32> {
        self.data
    }

    /// The rows with the given indices, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        let mut data = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            if i >= self.len() {
                return Err(DiscoveryError::InvalidParameter {
                    name: "row index",
                    message: format!("{i} is out of range for {} embeddings", self.len()),
                });
            }
            data.extend_from_slice(self.row(i));
        }
        Self::from_flat(data, self.dim)
    }

    /// Every row scaled to length 1; an all-zero row is an error, since it has no direction.
    pub fn normalised(&self) -> Result<Self> {
        let mut data = self.data.clone();
        for (row, r) in data.chunks_exact_mut(self.dim).enumerate() {
            normalise_in_place(r).ok_or(DiscoveryError::ZeroVector { row })?;
        }
        Ok(Self { dim: self.dim, data })
    }
}

/// Check one query vector against an expected dimension (the row number is for the message).
pub(crate) fn check_vector(v: &[f32], dim: usize, row: usize) -> Result<()> {
    if v.len() != dim {
        return Err(DiscoveryError::DimensionMismatch { row, expected: dim, got: v.len() });
    }
    if let Some(col) = v.iter().position(|x| !x.is_finite()) {
        return Err(DiscoveryError::NonFinite { row, col });
    }
    Ok(())
}

/// Scale to length 1 in place; `None` (and nothing changed) for a zero vector.
pub(crate) fn normalise_in_place(v: &mut [f32]) -> Option<()> {
    let norm = dot(v, v).sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(())
}

/// A unit-length copy of `v`, checked against `dim`.
pub(crate) fn normalised_vector(v: &[f32], dim: usize, row: usize) -> Result<Vec<f32>> {
    check_vector(v, dim, row)?;
    let mut out = v.to_vec();
    normalise_in_place(&mut out).ok_or(DiscoveryError::ZeroVector { row })?;
    Ok(out)
}

/// Dot product with eight accumulators so the compiler vectorises it (native and wasm simd alike).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

/// Squared Euclidean distance, vectorised like `dot`.
#[inline]
pub(crate) fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn rejects_empty_ragged_and_non_finite_input() {
        assert_eq!(Embeddings::from_flat(vec![], 3), Err(DiscoveryError::Empty));
        assert_eq!(Embeddings::from_flat(vec![1.0], 0), Err(DiscoveryError::ZeroDimension));
        assert_eq!(Embeddings::from_flat(vec![1.0; 5], 2), Err(DiscoveryError::Ragged { len: 5, dim: 2 }));
        assert_eq!(
            Embeddings::from_flat(vec![1.0, 2.0, 3.0, f32::NAN], 2),
            Err(DiscoveryError::NonFinite { row: 1, col: 1 })
        );
        let rows: Vec<Vec<f32>> = vec![vec![1.0, 2.0], vec![1.0]];
        assert_eq!(
            Embeddings::from_rows(&rows),
            Err(DiscoveryError::DimensionMismatch { row: 1, expected: 2, got: 1 })
        );
        let none: Vec<Vec<f32>> = vec![];
        assert_eq!(Embeddings::from_rows(&none), Err(DiscoveryError::Empty));
    }

    #[test]
    fn normalising_gives_unit_rows_and_refuses_zero_rows() {
        let e = Embeddings::from_rows(&[vec![3.0, 4.0], vec![0.0, -2.0]]).unwrap();
        let n = e.normalised().unwrap();
        assert_eq!(n.row(0), &[0.6, 0.8]);
        assert_eq!(n.row(1), &[0.0, -1.0]);
        let z = Embeddings::from_rows(&[vec![1.0, 0.0], vec![0.0, 0.0]]).unwrap();
        assert_eq!(z.normalised(), Err(DiscoveryError::ZeroVector { row: 1 }));
    }

    #[test]
    fn dot_and_distance_match_the_plain_sums() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..19).map(|i| (i as f32).sin()).collect();
        let plain_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let plain_d2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((dot(&a, &b) - plain_dot).abs() < 1e-4);
        assert!((squared_distance(&a, &b) - plain_d2).abs() < 1e-3);
    }
}
