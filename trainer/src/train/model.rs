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
    /// Share of the step's glitches in this batch: 1 on one device; with several devices each one's part of the
    /// step, so that the gradients they sum are those of the mean loss over the whole step.
    pub share: f32,
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

    /// Logits and glitch embeddings (the mean of the present views' embeddings), from one backbone pass.
    pub fn logits_and_embeddings(&self, batch: &TrainBatch) -> (Tensor<2>, Tensor<2>) {
        let views = self.view_embeddings(batch);
        let embeddings = self.net.pool_views(&batch.glitches, views.clone());
        (self.net.head_on_views(&batch.glitches, views), embeddings)
    }

    /// Logits and cross-entropy loss.
    pub fn forward_classification(&self, batch: TrainBatch) -> ClassificationOutput {
        self.forward_with_loss(batch).1
    }

    /// The batch's mean loss (what gradients come from), and the output the metrics see. Burn's loss metric
    /// weights each batch by the length of its loss tensor, so that tensor repeats the mean once per glitch:
    /// the epoch's loss is then the mean over glitches, whatever the batches (a short last batch, or a batch
    /// split over devices, would otherwise weigh as much as a whole one).
    fn forward_with_loss(&self, batch: TrainBatch) -> (Tensor<1>, ClassificationOutput) {
        let views = self.view_embeddings(&batch);
        let logits = self.net.head_on_views(&batch.glitches, views);
        let loss = CrossEntropyLossConfig::new()
            .with_smoothing(batch.label_smoothing)
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        let per_glitch = loss.clone().expand([batch.glitches.num_glitches]);
        (loss, ClassificationOutput::new(per_glitch, logits, batch.targets))
    }
}

impl TrainStep for Trainee {
    type Input = TrainBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: TrainBatch) -> TrainOutput<ClassificationOutput> {
        let share = batch.share;
        let (loss, item) = self.forward_with_loss(batch);
        let grads = if share == 1.0 { loss.backward() } else { (loss * share).backward() };
        TrainOutput::new(self, grads, item)
    }
}

impl InferenceStep for Trainee {
    type Input = TrainBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: TrainBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}
