//! GlitchNet: the ImageNet backbone truncated after global pooling (the *embedding*), a fusion over whichever of
//! the four Gravity Spy views (0.5, 1, 2, 4 s) a glitch has, and a classification head.
//!
//! Fusion. Each present view goes through the shared backbone. By default (`concat`) the classifier sees the
//! four view embeddings side by side (a missing view is a zero block) plus a presence mask, so it can tell a
//! 0.5 s view from a 4 s one: the same blob means a Blip in one and a Koi_Fish in the other; `attention`
//! weights the present views instead (see [`super::fusion`]). The glitch *embedding* used for maps, novelty and
//! similarity is the mean of the present views' embeddings, so it does not depend on which views happen to be
//! missing.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::batch::GlitchBatch;
use super::efficientnet::{EfficientNet, EfficientNetConfig, HEAD_CHANNELS, LiteVariant};
use super::fusion::{Fusion, ViewAttention};
use crate::views::VIEW_COUNT;
use crate::labels::NUM_O1_CLASSES;

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
    /// How the views are fused before the head.
    #[config(default = "Fusion::Concat")]
    pub fusion: Fusion,
}

/// The network.
#[derive(Module, Debug)]
pub struct GlitchNet {
    /// EfficientNet-Lite without its ImageNet classifier.
    pub backbone: EfficientNet,
    dropout: Dropout,
    /// View weighting, for `attention` fusion only.
    attention: Option<ViewAttention>,
    /// Linear layer over the fused views and the 4 presence flags: `[4 x 1280 slotted view embeddings, 4]`
    /// (concat) or `[1280 weighted sum, 4]` (attention).
    head: Linear,
}

impl GlitchNetConfig {
    /// Build with random weights everywhere (load ImageNet weights into `backbone` afterwards, or a trained card).
    pub fn init(&self, device: &Device) -> GlitchNet {
        GlitchNet {
            backbone: EfficientNetConfig::new().with_variant(self.backbone).with_num_classes(0).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            attention: (self.fusion == Fusion::Attention).then(|| ViewAttention::new(device)),
            head: LinearConfig::new(self.fusion.head_inputs(), self.num_classes).init(device),
        }
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
        let fused = match &self.attention {
            None => batch.scatter_matrix(&device).matmul(views).reshape([batch.num_glitches, VIEW_COUNT * HEAD_CHANNELS]),
            Some(attention) => attention.attend(batch, views).fused,
        };
        let input = Tensor::cat(vec![fused, batch.mask(&device)], 1);
        self.head.forward(self.dropout.forward(input))
    }

    /// What each view adds to each class's logit, `[n_views, classes]` in batch image order. The head is
    /// linear in the fused views, so a glitch's logit for class `c` is exactly the sum of its present views'
    /// rows plus the presence terms and the bias: this says which view mattered. With attention fusion a
    /// view's row is its weight times the head applied to its slot-tagged features.
    pub fn view_contributions(&self, batch: &GlitchBatch, views: Tensor<2>) -> Tensor<2> {
        let classes = self.num_classes();
        if let Some(attention) = &self.attention {
            let weight = self.head.weight.val().slice([0..HEAD_CHANNELS, 0..classes]);
            let attended = attention.attend(batch, views);
            return attended.tagged.matmul(weight) * attended.weights;
        }
        let weight = self.head.weight.val().slice([0..VIEW_COUNT * HEAD_CHANNELS, 0..classes]);
        // [4 * 1280, C] -> [1280, 4 * C]: column block v holds slot v's weights.
        let blocks = weight.reshape([VIEW_COUNT, HEAD_CHANNELS, classes]).swap_dims(0, 1).reshape([HEAD_CHANNELS, VIEW_COUNT * classes]);
        let all = views.matmul(blocks); // [n_views, 4 * C]
        let n = batch.slots.len();
        let pick: Tensor<3> = batch.slot_one_hot(&all.device()).reshape([n, VIEW_COUNT, 1]);
        (all.reshape([n, VIEW_COUNT, classes]) * pick).sum_dim(1).reshape([n, classes])
    }

    /// Per-view attention weights `[n_views, 1]` (the present views of a glitch sum to 1); `None` with
    /// concat fusion.
    pub fn view_weights(&self, batch: &GlitchBatch, views: Tensor<2>) -> Option<Tensor<2>> {
        self.attention.as_ref().map(|a| a.attend(batch, views).weights)
    }

    /// How this network fuses its views.
    pub fn fusion(&self) -> Fusion {
        if self.attention.is_some() { Fusion::Attention } else { Fusion::Concat }
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        self.head.weight.dims()[1]
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    /// Two glitches: views 0.5 s and 2 s, and 4 s alone; random per-view embeddings (the head does not need
    /// the backbone).
    fn batch_and_views(device: &Device) -> (GlitchBatch, Tensor<2>) {
        let pixel = [0f32; 3];
        let batch = GlitchBatch::new(&[&pixel, &pixel, &pixel], vec![(0, 0), (0, 2), (1, 3)], 2, 1, 1, device).unwrap();
        let views = Tensor::random([3, HEAD_CHANNELS], burn::tensor::Distribution::Normal(0.0, 1.0), device);
        (batch, views)
    }

    /// The contributions of a glitch's views plus the head on zero views (presence terms and bias) are its
    /// logits, exactly, for both fusions: the per-view numbers shown to users add up.
    #[test]
    fn view_contributions_add_up_to_the_logits() {
        let device = Device::flex();
        device.seed(7);
        for fusion in [Fusion::Concat, Fusion::Attention] {
            let net = GlitchNetConfig::new().with_num_classes(5).with_fusion(fusion).init(&device);
            assert_eq!(net.fusion(), fusion);
            let (batch, views) = batch_and_views(&device);
            let logits = net.head_on_views(&batch, views.clone()).into_data().try_into_vec::<f32>().unwrap();
            let parts = net.view_contributions(&batch, views).into_data().try_into_vec::<f32>().unwrap();
            let width = fusion.head_inputs() - VIEW_COUNT;
            let zeros = Tensor::zeros([2, width], &device);
            let rest = net.head.forward(Tensor::cat(vec![zeros, batch.mask(&device)], 1)).into_data().try_into_vec::<f32>().unwrap();
            for c in 0..5 {
                let g0 = parts[c] + parts[5 + c] + rest[c];
                let g1 = parts[10 + c] + rest[5 + c];
                assert!((g0 - logits[c]).abs() < 1e-4, "{fusion:?} glitch 0 class {c}: {g0} vs {}", logits[c]);
                assert!((g1 - logits[5 + c]).abs() < 1e-4, "{fusion:?} glitch 1 class {c}: {g1} vs {}", logits[5 + c]);
            }
        }
    }

    /// Attention weights: a glitch's present views share 1, a lone view gets all of it, and the weights move
    /// with the features (not a fixed mean).
    #[test]
    fn attention_weights_are_a_softmax_over_present_views() {
        let device = Device::flex();
        device.seed(11);
        let net = GlitchNetConfig::new().with_num_classes(5).with_fusion(Fusion::Attention).init(&device);
        let (batch, views) = batch_and_views(&device);
        let w = net.view_weights(&batch, views.clone()).unwrap().into_data().try_into_vec::<f32>().unwrap();
        assert!((w[0] + w[1] - 1.0).abs() < 1e-5 && w[0] > 0.0 && w[1] > 0.0, "{w:?}");
        assert!((w[2] - 1.0).abs() < 1e-6, "{w:?}");
        let scaled = net.view_weights(&batch, views * 25.0).unwrap().into_data().try_into_vec::<f32>().unwrap();
        assert!((scaled[0] - w[0]).abs() > 1e-3, "weights do not depend on the views: {w:?} vs {scaled:?}");
        assert!(GlitchNetConfig::new().init(&device).view_weights(&batch, Tensor::zeros([3, HEAD_CHANNELS], &device)).is_none());
    }
}
