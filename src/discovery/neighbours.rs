//! Nearest neighbours, exactly, by brute force: for at most a few thousand glitches a linear scan over vectorised
//! dot products beats building an index, and it is exact and deterministic.
//! - `NeighbourIndex`: cosine similarity search (similarity search in the page and the CLI).
//! - `knn_graph`: the k nearest of every point by Euclidean distance (input of t-SNE, HDBSCAN and map quality).

use super::embeddings::{check_vector, dot, normalised_vector, squared_distance};
use super::{DiscoveryError, Embeddings, Result};

/// One neighbour: its row in the searched set and its cosine similarity to the query (1 = same direction).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Neighbour {
    pub index: usize,
    pub similarity: f32,
}

/// The k smallest (key, index) pairs seen so far, sorted; ties go to the lower index so results never depend on
/// the order candidates arrive in.
#[derive(Clone)]
pub(crate) struct TopK {
    k: usize,
    items: Vec<(f32, usize)>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self { k, items: Vec::with_capacity(k + 1) }
    }

    #[inline]
    pub(crate) fn push(&mut self, key: f32, index: usize) {
        if self.k == 0 {
            return;
        }
        if self.items.len() == self.k {
            let &(wk, wi) = &self.items[self.k - 1];
            if key > wk || (key == wk && index > wi) {
                return;
            }
        }
        let at = self.items.partition_point(|&(k2, i2)| k2 < key || (k2 == key && i2 < index));
        self.items.insert(at, (key, index));
        self.items.truncate(self.k);
    }

    pub(crate) fn into_sorted(self) -> Vec<(f32, usize)> {
        self.items
    }
}

/// Cosine-similarity search over a fixed set of embeddings (normalised once, at construction).
#[derive(Debug, Clone)]
pub struct NeighbourIndex {
    unit: Embeddings,
}

impl NeighbourIndex {
    /// Index these embeddings; an all-zero row is an error (it has no direction).
    pub fn new(data: &Embeddings) -> Result<Self> {
        Ok(Self { unit: data.normalised()? })
    }

    pub fn len(&self) -> usize {
        self.unit.len()
    }

    pub fn is_empty(&self) -> bool {
        self.unit.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.unit.dim()
    }

    /// The indexed rows, each of length 1.
    pub fn unit_rows(&self) -> &Embeddings {
        &self.unit
    }

    /// The `k` most similar rows to `query` (best first), leaving out row `exclude` if given.
    /// Fewer come back when the set is smaller.
    pub fn search(&self, query: &[f32], k: usize, exclude: Option<usize>) -> Result<Vec<Neighbour>> {
        let q = normalised_vector(query, self.dim(), 0)?;
        let mut top = TopK::new(k);
        for (i, r) in self.unit.rows().enumerate() {
            if Some(i) != exclude {
                // Negated so that "smallest key" means "most similar".
                top.push(-dot(&q, r), i);
            }
        }
        Ok(top.into_sorted().into_iter().map(|(s, index)| Neighbour { index, similarity: (-s).clamp(-1.0, 1.0) }).collect())
    }

    /// The `k` nearest neighbours of row `row` among the other rows.
    pub fn neighbours_of(&self, row: usize, k: usize) -> Result<Vec<Neighbour>> {
        if row >= self.len() {
            return Err(DiscoveryError::InvalidParameter { name: "row", message: format!("{row} is out of range for {} embeddings", self.len()) });
        }
        let q = self.unit.row(row).to_vec();
        self.search(&q, k, Some(row))
    }

    /// Cosine similarity of `query` to every indexed row, in row order.
    pub fn similarities(&self, query: &[f32]) -> Result<Vec<f32>> {
        check_vector(query, self.dim(), 0)?;
        let q = normalised_vector(query, self.dim(), 0)?;
        Ok(self.unit.rows().map(|r| dot(&q, r).clamp(-1.0, 1.0)).collect())
    }
}

/// The k nearest other points of every point, by Euclidean distance: `indices[i*k..(i+1)*k]` and the matching
/// squared distances, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnGraph {
    pub k: usize,
    pub indices: Vec<usize>,
    pub squared_distances: Vec<f32>,
}

impl KnnGraph {
    pub fn neighbours(&self, i: usize) -> &[usize] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    pub fn distances(&self, i: usize) -> &[f32] {
        &self.squared_distances[i * self.k..(i + 1) * self.k]
    }
}

/// Exact k-nearest-neighbour graph; every pair is measured once (n^2/2 distances).
pub fn knn_graph(data: &Embeddings, k: usize) -> Result<KnnGraph> {
    let n = data.len();
    if k == 0 {
        return Err(DiscoveryError::InvalidParameter { name: "number of neighbours", message: "must be at least 1".into() });
    }
    if k >= n {
        return Err(DiscoveryError::TooFew { what: "a neighbour graph with this many neighbours", needed: k + 1, got: n });
    }
    let mut tops = vec![TopK::new(k); n];
    for i in 0..n {
        let ri = data.row(i);
        for j in i + 1..n {
            let d = squared_distance(ri, data.row(j));
            tops[i].push(d, j);
            tops[j].push(d, i);
        }
    }
    let mut indices = Vec::with_capacity(n * k);
    let mut squared_distances = Vec::with_capacity(n * k);
    for t in tops {
        for (d, j) in t.into_sorted() {
            indices.push(j);
            squared_distances.push(d);
        }
    }
    Ok(KnnGraph { k, indices, squared_distances })
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    #[test]
    fn search_finds_the_most_similar_rows_in_order() {
        let data = Embeddings::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0], vec![-1.0, 0.1]]).unwrap();
        let index = NeighbourIndex::new(&data).unwrap();
        let found = index.search(&[2.0, 0.1], 3, None).unwrap();
        assert_eq!(found.iter().map(|n| n.index).collect::<Vec<_>>(), vec![0, 2, 1]);
        assert!(found[0].similarity > found[1].similarity && found[1].similarity > found[2].similarity);
        let of0 = index.neighbours_of(0, 10).unwrap();
        assert_eq!(of0.len(), 3, "all other rows, not itself");
        assert!(of0.iter().all(|n| n.index != 0));
        assert!(index.search(&[f32::NAN, 0.0], 1, None).is_err());
        assert!(index.search(&[0.0, 0.0], 1, None).is_err());
        assert!(index.search(&[1.0], 1, None).is_err());
        assert!(index.neighbours_of(4, 1).is_err());
    }

    #[test]
    fn knn_graph_matches_a_full_sort() {
        let (data, _) = gaussian_blobs(3, 20, 8, 0.5, 2).unwrap();
        let g = knn_graph(&data, 5).unwrap();
        for i in 0..data.len() {
            let mut all: Vec<(f32, usize)> =
                (0..data.len()).filter(|&j| j != i).map(|j| (squared_distance(data.row(i), data.row(j)), j)).collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            assert_eq!(g.neighbours(i), all.iter().take(5).map(|p| p.1).collect::<Vec<_>>().as_slice());
        }
        assert!(knn_graph(&data, 60).is_err());
        assert!(knn_graph(&data, 0).is_err());
    }
}
