//! The module Burn's Learner trains: a normal [`GlitchNet`] that can also start from cached intermediate
//! results, so the frozen and last-blocks modes never recompute what does not change.
//!
//! A [`TrainBatch`] says where its inputs enter the network ([`Stage`]). The batch reuses [`GlitchBatch`]
//! (slots, glitch count) with `images` holding whatever the stage starts from: images, the activations before
//! a block, or pooled embeddings (as `[n, 1280, 1, 1]`). The trained weights stay those of a plain GlitchNet,
//! which is what gets exported.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use glitchscope::model::{GlitchBatch, GlitchNet};

/// Where a batch's inputs enter the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Preprocessed images, `[views, 3, H, W]`: the whole network runs.
    Images,
    /// Activations before block `first`, `[views, C, h, w]`: blocks `first..` and the head run.
    Blocks { first: usize },
    /// Pooled per-view embeddings, `[views, 1280, 1, 1]`: only the classification head runs.
    Embeddings,
}

/// A batch of glitches with their labels.
#[derive(Clone, Debug)]
pub struct TrainBatch {
    pub glitches: GlitchBatch,
    pub stage: Stage,
    /// `[glitches]` class indices.
    pub targets: Tensor<1, Int>,
    /// Label smoothing of the loss (training batches only; evaluation reports the plain cross-entropy).
    pub label_smoothing: Option<f32>,
}

/// GlitchNet as trained by the Learner.
#[derive(Module, Debug)]
pub struct Trainee {
    pub net: GlitchNet,
}

impl Trainee {
    /// Per-view embeddings from whatever the batch starts from.
    fn view_embeddings(&self, batch: &TrainBatch) -> Tensor<2> {
        let x = batch.glitches.images.clone();
        match batch.stage {
            Stage::Images => self.net.view_embeddings(&batch.glitches),
            Stage::Blocks { first } => {
                let backbone = &self.net.backbone;
                backbone.head(backbone.blocks_range(x, first..backbone.num_blocks()))
            }
            Stage::Embeddings => {
                let [n, c, _, _] = x.dims();
                x.reshape([n, c])
            }
        }
    }

    /// Logits and cross-entropy loss.
    pub fn forward_classification(&self, batch: TrainBatch) -> ClassificationOutput {
        let views = self.view_embeddings(&batch);
        let logits = self.net.head_on_views(&batch.glitches, views);
        let loss = CrossEntropyLossConfig::new()
            .with_smoothing(batch.label_smoothing)
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl TrainStep for Trainee {
    type Input = TrainBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: TrainBatch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Trainee {
    type Input = TrainBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: TrainBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}
