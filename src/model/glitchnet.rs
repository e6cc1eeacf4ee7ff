//! GlitchNet: the ImageNet backbone truncated after global pooling (the *embedding*), a fusion over whichever of
//! the four Gravity Spy views (0.5, 1, 2, 4 s) a glitch has, and a classification head.
//!
//! Fusion. Each present view goes through the shared backbone. The classifier sees the four view embeddings
//! side by side (a missing view is a zero block) plus a presence mask, so it can tell a 0.5 s view from a 4 s
//! one: the same blob means a Blip in one and a Koi_Fish in the other. The glitch *embedding* used for maps,
//! novelty and similarity is the mean of the present views' embeddings, so it does not depend on which views
//! happen to be missing.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};

use super::efficientnet::{EfficientNet, EfficientNetConfig, HEAD_CHANNELS, LiteVariant};
use crate::labels::NUM_O1_CLASSES;

/// Number of view slots (durations 0.5, 1, 2, 4 s).
pub const NUM_VIEWS: usize = 4;

/// Configuration of the whole network.
#[derive(Config, Debug)]
pub struct GlitchNetConfig {
    /// EfficientNet-Lite member used as backbone.
    #[config(default = "LiteVariant::Lite0")]
    pub backbone: LiteVariant,
    /// Number of output classes.
    #[config(default = "NUM_O1_CLASSES")]
    pub num_classes: usize,
    /// Dropout before the head.
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// The network.
#[derive(Module, Debug)]
pub struct GlitchNet {
    /// EfficientNet-Lite without its ImageNet classifier.
    pub backbone: EfficientNet,
    dropout: Dropout,
    /// Linear layer over `[4 x 1280 view embeddings, 4 presence flags]`.
    head: Linear,
}

impl GlitchNetConfig {
    /// Build with random weights everywhere (load ImageNet weights into `backbone` afterwards, or a trained card).
    pub fn init(&self, device: &Device) -> GlitchNet {
        GlitchNet {
            backbone: EfficientNetConfig::new().with_variant(self.backbone).with_num_classes(0).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(NUM_VIEWS * HEAD_CHANNELS + NUM_VIEWS, self.num_classes).init(device),
        }
    }
}

/// A batch of glitches with any subset of their views.
///
/// `images` holds only the views that exist, `[n_views, 3, H, W]`; `slots[i] = (glitch, view)` says where
/// image `i` belongs. Built on the host, so missing views cost no computation.
#[derive(Clone, Debug)]
pub struct GlitchBatch {
    pub images: Tensor<4>,
    pub slots: Vec<(usize, usize)>,
    pub num_glitches: usize,
}

/// Why a batch could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BatchError {
    #[error("glitch {0} has no view: at least one of the 0.5, 1, 2 and 4 s views is needed")]
    NoView(usize),
    #[error("view slot {1} of glitch {0} is given twice")]
    DuplicateView(usize, usize),
    #[error("view slot {0} is out of range (0..4)")]
    BadSlot(usize),
    #[error("image {0} has {1} values, expected 3 x {2} x {3}")]
    BadImage(usize, usize, usize, usize),
}

impl GlitchBatch {
    /// Build a batch from preprocessed CHW images (`height x width`) and their slots.
    pub fn new(
        images: &[&[f32]],
        slots: Vec<(usize, usize)>,
        num_glitches: usize,
        height: usize,
        width: usize,
        device: &Device,
    ) -> Result<Self, BatchError> {
        let mut seen = vec![[false; NUM_VIEWS]; num_glitches];
        for &(g, v) in &slots {
            if v >= NUM_VIEWS {
                return Err(BatchError::BadSlot(v));
            }
            if g >= num_glitches {
                return Err(BatchError::NoView(g));
            }
            if std::mem::replace(&mut seen[g][v], true) {
                return Err(BatchError::DuplicateView(g, v));
            }
        }
        if let Some(g) = seen.iter().position(|views| !views.iter().any(|&p| p)) {
            return Err(BatchError::NoView(g));
        }
        let per_image = 3 * height * width;
        let mut flat = Vec::with_capacity(images.len() * per_image);
        for (i, img) in images.iter().enumerate() {
            if img.len() != per_image {
                return Err(BatchError::BadImage(i, img.len(), height, width));
            }
            flat.extend_from_slice(img);
        }
        let images = Tensor::from_data(TensorData::new(flat, [images.len(), 3, height, width]), device);
        Ok(Self { images, slots, num_glitches })
    }

    /// `[glitches * 4, n_views]` one-hot matrix that scatters per-image rows into their glitch/view slot.
    fn scatter_matrix(&self, device: &Device) -> Tensor<2> {
        let n = self.slots.len();
        let mut m = vec![0f32; self.num_glitches * NUM_VIEWS * n];
        for (i, &(g, v)) in self.slots.iter().enumerate() {
            m[(g * NUM_VIEWS + v) * n + i] = 1.0;
        }
        Tensor::from_data(TensorData::new(m, [self.num_glitches * NUM_VIEWS, n]), device)
    }

    /// `[glitches, n_views]` matrix that averages the present views of each glitch.
    fn mean_matrix(&self, device: &Device) -> Tensor<2> {
        let n = self.slots.len();
        let mut counts = vec![0f32; self.num_glitches];
        for &(g, _) in &self.slots {
            counts[g] += 1.0;
        }
        let mut m = vec![0f32; self.num_glitches * n];
        for (i, &(g, _)) in self.slots.iter().enumerate() {
            m[g * n + i] = 1.0 / counts[g];
        }
        Tensor::from_data(TensorData::new(m, [self.num_glitches, n]), device)
    }

    /// `[glitches, 4]` presence flags.
    fn mask(&self, device: &Device) -> Tensor<2> {
        let mut m = vec![0f32; self.num_glitches * NUM_VIEWS];
        for &(g, v) in &self.slots {
            m[g * NUM_VIEWS + v] = 1.0;
        }
        Tensor::from_data(TensorData::new(m, [self.num_glitches, NUM_VIEWS]), device)
    }
}

/// Logits and embedding of a batch, from one pass through the backbone.
#[derive(Clone, Debug)]
pub struct GlitchOutput {
    /// `[glitches, classes]`, before softmax.
    pub logits: Tensor<2>,
    /// `[glitches, 1280]`, mean of the present views' pooled features.
    pub embedding: Tensor<2>,
    /// `[n_views, classes]`: each view's part of its glitch's logits ([`GlitchNet::view_contributions`]).
    pub view_logits: Tensor<2>,
}

impl GlitchNet {
    /// Pooled backbone features of every image in the batch, `[n_views, 1280]`.
    pub fn view_embeddings(&self, batch: &GlitchBatch) -> Tensor<2> {
        self.backbone.features(batch.images.clone())
    }

    /// The glitch embeddings, `[glitches, 1280]` (the truncated feature extractor).
    pub fn embed(&self, batch: &GlitchBatch) -> Tensor<2> {
        let views = self.view_embeddings(batch);
        self.pool_views(batch, views)
    }

    /// Class logits, `[glitches, classes]`.
    pub fn classify(&self, batch: &GlitchBatch) -> Tensor<2> {
        let views = self.view_embeddings(batch);
        self.head_on_views(batch, views)
    }

    /// Logits and embedding together, sharing the backbone pass (what the browser and the CLI call).
    pub fn forward(&self, batch: &GlitchBatch) -> GlitchOutput {
        let views = self.view_embeddings(batch);
        GlitchOutput {
            embedding: self.pool_views(batch, views.clone()),
            view_logits: self.view_contributions(batch, views.clone()),
            logits: self.head_on_views(batch, views),
        }
    }

    /// Mean of the present views' embeddings.
    pub fn pool_views(&self, batch: &GlitchBatch, views: Tensor<2>) -> Tensor<2> {
        batch.mean_matrix(&views.device()).matmul(views)
    }

    /// The classification head on per-view embeddings (also used by trainers that cache frozen features).
    pub fn head_on_views(&self, batch: &GlitchBatch, views: Tensor<2>) -> Tensor<2> {
        let device = views.device();
        let slotted = batch.scatter_matrix(&device).matmul(views);
        let fused = slotted.reshape([batch.num_glitches, NUM_VIEWS * HEAD_CHANNELS]);
        let input = Tensor::cat(vec![fused, batch.mask(&device)], 1);
        self.head.forward(self.dropout.forward(input))
    }

    /// What each view adds to each class's logit, `[n_views, classes]` in batch image order. The head is
    /// linear over the slotted view embeddings, so a glitch's logit for class `c` is exactly the sum of its
    /// present views' rows plus the presence terms and the bias: this says which view mattered.
    pub fn view_contributions(&self, batch: &GlitchBatch, views: Tensor<2>) -> Tensor<2> {
        let classes = self.num_classes();
        let weight = self.head.weight.val().slice([0..NUM_VIEWS * HEAD_CHANNELS, 0..classes]);
        // [4 * 1280, C] -> [1280, 4 * C]: column block v holds slot v's weights.
        let blocks = weight.reshape([NUM_VIEWS, HEAD_CHANNELS, classes]).swap_dims(0, 1).reshape([HEAD_CHANNELS, NUM_VIEWS * classes]);
        let all = views.matmul(blocks); // [n_views, 4 * C]
        let n = batch.slots.len();
        let mut pick = vec![0f32; n * NUM_VIEWS];
        for (i, &(_, v)) in batch.slots.iter().enumerate() {
            pick[i * NUM_VIEWS + v] = 1.0;
        }
        let pick: Tensor<3> = Tensor::from_data(TensorData::new(pick, [n, NUM_VIEWS, 1]), &all.device());
        (all.reshape([n, NUM_VIEWS, classes]) * pick).sum_dim(1).reshape([n, classes])
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        self.head.weight.dims()[1]
    }
}
