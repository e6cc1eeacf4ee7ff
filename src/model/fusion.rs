//! How a glitch's view embeddings become one input for the classification head.
//!
//! - `concat` (the default, every model before 2026-12): the four view embeddings side by side, a zero block for a
//!   missing view, plus presence flags. The head has separate weights per duration.
//! - `attention` (after Wu et al. 2024, the Gravity Spy O4 model): each present view, tagged with a learned
//!   embedding of its slot, gets a score; a softmax over the glitch's present views turns the scores into
//!   weights, and the head sees the weighted sum (plus the presence flags). One set of head weights for all
//!   durations, 4x fewer head parameters, and the weights say directly which view the network looked at.
//!
//! Which one a model uses is in its card (`fusion`); `glitchscope cv` compares them on the same folds.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Tensor};

use super::efficientnet::HEAD_CHANNELS;
use super::batch::GlitchBatch;
use crate::views::VIEW_COUNT;

/// The fusion of a network.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Fusion {
    /// Slot concatenation with presence flags.
    Concat,
    /// Attention-weighted sum over the present views.
    Attention,
}

impl Fusion {
    /// The name used in cards and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fusion::Concat => "concat",
            Fusion::Attention => "attention",
        }
    }

    /// Parse [`Fusion::name`].
    pub fn from_name(name: &str) -> Option<Fusion> {
        match name {
            "concat" => Some(Fusion::Concat),
            "attention" => Some(Fusion::Attention),
            _ => None,
        }
    }

    /// Width of the head's input: fused features plus the four presence flags.
    pub fn head_inputs(self) -> usize {
        match self {
            Fusion::Concat => VIEW_COUNT * HEAD_CHANNELS + VIEW_COUNT,
            Fusion::Attention => HEAD_CHANNELS + VIEW_COUNT,
        }
    }
}

/// Masked softmax attention over a glitch's present views.
#[derive(Module, Debug)]
pub struct ViewAttention {
    /// `[4, 1280]` learned embedding of each view slot, added to that view's features so that the one head
    /// can still tell a 0.5 s view from a 4 s one (the same blob is a Blip in one and a Koi_Fish in the other).
    slot: Param<Tensor<2>>,
    /// Score of a slot-tagged view, `1280 -> 1`.
    score: Linear,
}

/// What attention makes of a batch.
pub struct Attended {
    /// `[n_views, 1280]` slot-tagged view features, in batch image order.
    pub tagged: Tensor<2>,
    /// `[n_views, 1]` each view's weight within its glitch (the present views of a glitch sum to 1).
    pub weights: Tensor<2>,
    /// `[glitches, 1280]` the weighted sum.
    pub fused: Tensor<2>,
}

impl ViewAttention {
    pub fn new(device: &Device) -> Self {
        // Small random slot tags and the usual linear init: the views start near equally weighted (embedding
        // values are O(1), so the scores are small), without the symmetry of an all-zero start.
        let slot = Param::from_tensor(Tensor::random([VIEW_COUNT, HEAD_CHANNELS], Distribution::Normal(0.0, 0.02), device));
        let score = LinearConfig::new(HEAD_CHANNELS, 1).init(device);
        Self { slot, score }
    }

    /// Weights and weighted sum of the per-view embeddings `views` (`[n_views, 1280]`, batch image order).
    pub fn attend(&self, batch: &GlitchBatch, views: Tensor<2>) -> Attended {
        let device = views.device();
        let tagged = views + batch.slot_one_hot(&device).matmul(self.slot.val());
        let scatter = batch.scatter_matrix(&device); // [glitches * 4, n_views]
        let scores = scatter.clone().matmul(self.score.forward(tagged.clone())).reshape([batch.num_glitches, VIEW_COUNT]);
        // Missing views get -1e4 before the softmax: a weight of exactly 0 in f32.
        let absent = (batch.mask(&device) - 1.0) * 1.0e4;
        let per_glitch = softmax(scores + absent, 1); // [glitches, 4]
        let weights = scatter.clone().transpose().matmul(per_glitch.clone().reshape([batch.num_glitches * VIEW_COUNT, 1]));
        let slotted = scatter.matmul(tagged.clone()).reshape([batch.num_glitches, VIEW_COUNT, HEAD_CHANNELS]);
        let fused = (slotted * per_glitch.reshape([batch.num_glitches, VIEW_COUNT, 1]))
            .sum_dim(1)
            .reshape([batch.num_glitches, HEAD_CHANNELS]);
        Attended { tagged, weights, fused }
    }
}
