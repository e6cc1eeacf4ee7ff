//! Discovery: what the embeddings say beyond the 22 classes.
//!
//! The network's pooled features (`inference::Prediction::embedding`, 1280 numbers per glitch) put glitches of one
//! class close together and an unseen class in a place of its own. This module turns that into:
//! - a 2-D map (`tsne`, Barnes-Hut t-SNE run in steps so a Web Worker can report progress),
//! - clusters with outliers (`cluster`: HDBSCAN, and k-means when the number of groups is known),
//! - an unfamiliar-glitch score calibrated into a percentile (`novelty`),
//! - few-shot classes from a handful of examples, shareable as JSON (`prototypes`),
//! - nearest neighbours by cosine similarity (`neighbours`) among a set and in a shipped `reference` set.
//!
//! Everything is pure Rust, single-threaded and deterministic from a seed, with no file system, so the same code
//! runs natively and in wasm. Similarities are cosine similarities of L2-normalised embeddings throughout.

pub mod cluster;
pub mod embeddings;
pub mod few_shot_batch;
pub mod few_shot_head;
pub mod map;
pub mod neighbour_vote;
pub mod neighbours;
pub mod novelty;
pub mod pca;
pub mod prototypes;
pub mod quality;
pub mod reference;
pub mod reference_head;
mod rng;
pub mod synthetic;
pub mod tsne;

pub use cluster::{ClusterSelection, Clustering, HdbscanParams, NOISE, hdbscan, kmeans};
pub use embeddings::Embeddings;
pub use few_shot_batch::{RankedClass, Rescored, rescore_with_few_shot};
pub use few_shot_head::rescore_with_few_shot_head;
pub use map::{MapOptions, MapSession, map_clusters};
pub use neighbour_vote::NeighbourVote;
pub use neighbours::{KnnGraph, Neighbour, NeighbourIndex, knn_graph};
pub use novelty::{DoubtCalibration, NoveltyCalibration, NoveltyMethod, NoveltyScorer, Unfamiliarity};
pub use pca::Pca;
pub use prototypes::{DEFAULT_TEMPERATURE, FewShotClass, FewShotSet, Prototypes, combine_with_few_shot};
pub use quality::{knn_overlap, trustworthiness};
pub use reference::{Precision, ReferenceMatch, ReferenceSet};
pub use reference_head::ReferenceHead;
pub use tsne::{Progress, Tsne, TsneParams};

/// Why a discovery step could not run. Every message names the offending row or parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("no embeddings given")]
    Empty,
    #[error("embeddings have dimension 0")]
    ZeroDimension,
    #[error("embedding {row} has {got} numbers, expected {expected}")]
    DimensionMismatch { row: usize, expected: usize, got: usize },
    #[error("{len} numbers do not split into rows of {dim}")]
    Ragged { len: usize, dim: usize },
    #[error("embedding {row} has a value that is not a finite number (NaN or infinity) at position {col}")]
    NonFinite { row: usize, col: usize },
    #[error("embedding {row} is all zeros, so it has no direction to compare")]
    ZeroVector { row: usize },
    #[error("{what} needs at least {needed} embeddings, got {got}")]
    TooFew { what: &'static str, needed: usize, got: usize },
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },
    #[error("{source_name}: {message}")]
    Format { source_name: String, message: String },
}

pub type Result<T> = std::result::Result<T, DiscoveryError>;

/// The usual preparation before mapping or clustering: L2-normalise (so distances are cosine distances), then
/// project on the first `pca_dims` principal components (1280 -> ~50 keeps the structure and makes neighbour
/// searches 25x cheaper). `pca_dims` of 0, or not below the dimension, skips the PCA.
pub struct Prepared {
    /// The input, each row scaled to length 1.
    pub normalised: Embeddings,
    /// The normalised rows in PCA coordinates (or `normalised` again when no PCA ran).
    pub reduced: Embeddings,
    /// The fitted PCA, to project more glitches the same way.
    pub pca: Option<Pca>,
}

pub fn prepare(data: &Embeddings, pca_dims: usize, seed: u64) -> Result<Prepared> {
    let normalised = data.normalised()?;
    if pca_dims == 0 || pca_dims >= normalised.dim() {
        return Ok(Prepared { reduced: normalised.clone(), normalised, pca: None });
    }
    let pca = Pca::fit(&normalised, pca_dims, seed)?;
    let reduced = pca.transform(&normalised)?;
    Ok(Prepared { normalised, reduced, pca: Some(pca) })
}
