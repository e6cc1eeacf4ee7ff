//! EfficientNet-Lite (Tan & Le 2019, the "Lite" variant for mobile accelerators) as a plain Burn module.
//!
//! Lite differs from EfficientNet-B*: no squeeze-and-excitation, ReLU6 instead of swish, and the stem (32
//! channels) and head (1280 channels) are not scaled. Convolutions use TensorFlow "SAME" padding, as the
//! original TF checkpoints were trained with it: for stride 2 on an even input the padding is asymmetric
//! ((0, 1) for 3x3, (1, 2) for 5x5). Burn's `PaddingConfig2d::Same` computes exactly that, for any input size.
//!
//! Field names follow the `efficientnet_pytorch` state-dict keys with the leading underscore dropped
//! (`_blocks.3._depthwise_conv` -> `blocks.3.depthwise_conv`), so the ImageNet weights load by a single
//! key remap (see `weights.rs`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Tensor};

// The CPU kernels, each file importing only those listed before it: parallel plumbing, phase-plane and 1x1
// convolutions on slices, the flex backend extension, then the two users (inference on a folded network,
// training with autodiff); profile.rs times the inference pass.
mod parallel;
mod phase_planes;
mod pointwise;
mod flex_kernels;
mod cpu_inference;
#[cfg(not(target_arch = "wasm32"))]
mod train_kernels;
mod profile;
pub use cpu_inference::set_fused_cpu_kernels;
pub use profile::{LayerTime, by_op};
#[cfg(not(target_arch = "wasm32"))]
pub use train_kernels::{set_train_kernels, train_kernels_enabled};

/// The training path's batch norm (+ ReLU6) of an unfolded network, as the blocks run it: for benchmarks that
/// time the layers alone (`bench_native train-profile`).
pub fn batch_norm_relu6(bn: &BatchNorm, x: Tensor<4>, relu6: bool) -> Tensor<4> {
    norm_act(false, bn, x, relu6)
}

/// The training path's 1x1 convolution, as the blocks run it (see [`batch_norm_relu6`]).
pub fn pointwise_conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv1x1(conv, x)
}

/// The training path's depthwise convolution, as the blocks run it (see [`batch_norm_relu6`]).
pub fn depthwise_training_conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    depthwise(conv, x)
}

/// Batch-norm epsilon of the TF checkpoints.
const BN_EPS: f64 = 1e-3;
/// TF batch-norm momentum 0.99, i.e. 0.01 in Burn's convention (weight of the new batch).
const BN_MOMENTUM: f64 = 0.01;
/// Stem and head widths, fixed for all Lite variants.
const STEM_CHANNELS: usize = 32;
/// Images per backbone pass of a folded network on the CPU (one glitch's four views): see `features`.
const CPU_CHUNK: usize = 4;
/// Width of the last 1x1 convolution, i.e. the size of the embedding.
pub const HEAD_CHANNELS: usize = 1280;

/// One stage of the network: `repeats` MBConv blocks with the same kernel and output width.
struct StageSpec {
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    out_channels: usize,
}

/// The seven stages of EfficientNet-B0/Lite0 (`r1_k3_s11_e1_i32_o16` ... in the TF notation).
const STAGES: [StageSpec; 7] = [
    StageSpec { repeats: 1, kernel: 3, stride: 1, expand: 1, out_channels: 16 },
    StageSpec { repeats: 2, kernel: 3, stride: 2, expand: 6, out_channels: 24 },
    StageSpec { repeats: 2, kernel: 5, stride: 2, expand: 6, out_channels: 40 },
    StageSpec { repeats: 3, kernel: 3, stride: 2, expand: 6, out_channels: 80 },
    StageSpec { repeats: 3, kernel: 5, stride: 1, expand: 6, out_channels: 112 },
    StageSpec { repeats: 4, kernel: 5, stride: 2, expand: 6, out_channels: 192 },
    StageSpec { repeats: 1, kernel: 3, stride: 1, expand: 6, out_channels: 320 },
];

/// Which member of the Lite family.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LiteVariant {
    /// 224 px, 4.65 M parameters, ImageNet top-1 75.1 %.
    Lite0,
    /// 240 px, ImageNet top-1 76.7 %.
    Lite1,
    /// 260 px, ImageNet top-1 77.6 %.
    Lite2,
}

impl LiteVariant {
    /// (width multiplier, depth multiplier, native resolution, dropout) from the TF Lite builder.
    fn scaling(self) -> (f64, f64, usize, f64) {
        match self {
            LiteVariant::Lite0 => (1.0, 1.0, 224, 0.2),
            LiteVariant::Lite1 => (1.0, 1.1, 240, 0.2),
            LiteVariant::Lite2 => (1.1, 1.2, 260, 0.3),
        }
    }

    /// Lower-case name used in configs, cards and file names.
    pub fn name(self) -> &'static str {
        match self {
            LiteVariant::Lite0 => "lite0",
            LiteVariant::Lite1 => "lite1",
            LiteVariant::Lite2 => "lite2",
        }
    }

    /// Parse `lite0`, `lite1` or `lite2`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "lite0" => Some(LiteVariant::Lite0),
            "lite1" => Some(LiteVariant::Lite1),
            "lite2" => Some(LiteVariant::Lite2),
            _ => None,
        }
    }
}

/// TF's `round_filters`: scale a width and round to a multiple of 8, never losing more than 10 %.
fn round_filters(channels: usize, width: f64) -> usize {
    let scaled = channels as f64 * width;
    let rounded = (((scaled + 4.0) as usize) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * scaled { rounded + 8 } else { rounded }
}

/// Configuration of the backbone.
#[derive(Config, Debug)]
pub struct EfficientNetConfig {
    /// Which Lite model.
    #[config(default = "LiteVariant::Lite0")]
    pub variant: LiteVariant,
    /// Number of ImageNet classes of the classifier kept for the parity test; 0 drops it (GlitchNet).
    #[config(default = 1000)]
    pub num_classes: usize,
}

/// One mobile inverted bottleneck: 1x1 expand, depthwise kxk, 1x1 project, residual when shapes allow.
#[derive(Module, Debug)]
pub struct MbConvBlock {
    expand_conv: Option<Conv2d>,
    bn0: Option<BatchNorm>,
    depthwise_conv: Conv2d,
    bn1: BatchNorm,
    project_conv: Conv2d,
    bn2: BatchNorm,
    residual: bool,
    /// The batch norms are folded into the convolutions ([`EfficientNet::fold_batch_norms`]) and skipped.
    folded: bool,
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(BN_EPS)
        .with_momentum(BN_MOMENTUM)
        .init(device)
}

fn conv(channels: [usize; 2], kernel: usize, stride: usize, groups: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

impl MbConvBlock {
    fn new(input: usize, output: usize, kernel: usize, stride: usize, expand: usize, device: &Device) -> Self {
        let hidden = input * expand;
        let (expand_conv, bn0) = if expand != 1 {
            (Some(conv([input, hidden], 1, 1, 1, device)), Some(batch_norm(hidden, device)))
        } else {
            (None, None)
        };
        Self {
            expand_conv,
            bn0,
            depthwise_conv: conv([hidden, hidden], kernel, stride, hidden, device),
            bn1: batch_norm(hidden, device),
            project_conv: conv([hidden, output], 1, 1, 1, device),
            bn2: batch_norm(output, device),
            residual: stride == 1 && input == output,
            folded: false,
        }
    }

    fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let norm = |bn: &BatchNorm, x: Tensor<4>, act: bool| norm_act(self.folded, bn, x, act);
        // The input is kept only for a residual: a second handle on it would make the fused kernels' zero-copy
        // read of it a copy.
        let (mut x, skip) = if self.residual { (input.clone(), Some(input)) } else { (input, None) };
        // Folded, on the CPU: the fused kernels of cpu_inference.rs (one pass per convolution with its bias and ReLU6).
        let cpu = self.folded && cpu_inference::on_cpu_inference_device(&x);
        if let (Some(expand), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = if cpu { flex_kernels::pointwise(x, expand, true) } else { norm(bn, conv1x1(expand, x), true) };
        }
        x = if cpu { cpu_inference::depthwise_relu6(x, &self.depthwise_conv) } else { norm(&self.bn1, depthwise(&self.depthwise_conv, x), true) };
        x = if cpu { flex_kernels::pointwise(x, &self.project_conv, false) } else { norm(&self.bn2, conv1x1(&self.project_conv, x), false) };
        match skip {
            Some(input) => x + input,
            None => x,
        }
    }

    fn fold_batch_norms(&mut self) {
        if let (Some(expand), Some(bn)) = (&mut self.expand_conv, &self.bn0) {
            fold(expand, bn);
        }
        fold(&mut self.depthwise_conv, &self.bn1);
        fold(&mut self.project_conv, &self.bn2);
        self.folded = true;
    }
}

/// `relu6?(batch_norm(x))` outside the fused CPU inference path (a folded network's batch norm is the identity).
/// Training on the CPU takes the one-operation kernel of train_kernels.rs (Burn's batch norm and clamp there were
/// 4-19x PyTorch's); everything else Burn's batch norm and ReLU6.
fn norm_act(folded: bool, bn: &BatchNorm, x: Tensor<4>, act: bool) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    if !folded && bn.training.is_enabled() && train_kernels::on_cpu_training_device(&x) {
        return train_kernels::batch_norm_train(bn, x, act);
    }
    let y = if folded { x } else { bn.forward(x) };
    if act { relu6(y) } else { y }
}

/// A 1x1 convolution outside the fused CPU inference path: train_kernels.rs's gemm-based operation when training
/// on the CPU (Burn's convolution backward was 6.3x PyTorch's), else Burn's conv2d.
fn conv1x1(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    if train_kernels::on_cpu_training_device(&x) {
        return train_kernels::pointwise_conv(conv, x);
    }
    conv.forward(x)
}

/// A depthwise convolution outside the fused CPU inference path: training on the CPU takes train_kernels.rs's
/// phase-plane kernel and its backward (Burn's was 2.7x PyTorch's), everything else Burn's conv2d.
fn depthwise(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    if train_kernels::on_cpu_training_device(&x) {
        return train_kernels::depthwise_conv(conv, x);
    }
    conv.forward(x)
}

/// Fold an inference-mode batch norm into the convolution before it: with s = gamma / sqrt(var + eps) per output
/// channel, BN(conv(x)) = conv'(x) for weights W * s and bias beta - mean * s (the convolutions here have no bias
/// of their own). One pass over the activations fewer per convolution; the same numbers up to f32 rounding.
fn fold(conv: &mut Conv2d, bn: &BatchNorm) {
    let scale = bn.gamma.val() / (bn.running_var.value() + bn.epsilon).sqrt();
    let [out, ..] = conv.weight.val().dims();
    let weight = conv.weight.val() * scale.clone().reshape([out, 1, 1, 1]);
    let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
    // A bias of the convolution itself would go through the batch norm too: (b - mean) * s + beta.
    let bias = match &conv.bias {
        Some(b) => b.val() * scale + shift,
        None => shift,
    };
    conv.weight = Param::from_tensor(weight);
    conv.bias = Some(Param::from_tensor(bias));
}

/// EfficientNet-Lite: stem, 16+ MBConv blocks, 1x1 head, global average pool, optional ImageNet classifier.
#[derive(Module, Debug)]
pub struct EfficientNet {
    conv_stem: Conv2d,
    bn0: BatchNorm,
    blocks: Vec<MbConvBlock>,
    conv_head: Conv2d,
    bn1: BatchNorm,
    dropout: Dropout,
    /// The ImageNet classifier; `None` in the truncated feature extractor.
    fc: Option<Linear>,
    /// Stem and head batch norms folded into their convolutions ([`EfficientNet::fold_batch_norms`]).
    folded: bool,
}

impl EfficientNetConfig {
    /// Build the network with random weights (load ImageNet weights with `weights::load_imagenet`).
    pub fn init(&self, device: &Device) -> EfficientNet {
        let (width, depth, _, dropout) = self.variant.scaling();
        let mut blocks = Vec::new();
        let mut input = STEM_CHANNELS;
        for (i, stage) in STAGES.iter().enumerate() {
            let output = round_filters(stage.out_channels, width);
            // Lite keeps the first and last stages at one block whatever the depth multiplier.
            let repeats = if i == 0 || i == STAGES.len() - 1 {
                stage.repeats
            } else {
                (stage.repeats as f64 * depth).ceil() as usize
            };
            for r in 0..repeats {
                let stride = if r == 0 { stage.stride } else { 1 };
                blocks.push(MbConvBlock::new(input, output, stage.kernel, stride, stage.expand, device));
                input = output;
            }
        }
        EfficientNet {
            conv_stem: conv([3, STEM_CHANNELS], 3, 2, 1, device),
            bn0: batch_norm(STEM_CHANNELS, device),
            blocks,
            conv_head: conv([input, HEAD_CHANNELS], 1, 1, 1, device),
            bn1: batch_norm(HEAD_CHANNELS, device),
            dropout: DropoutConfig::new(dropout).init(),
            fc: (self.num_classes > 0).then(|| LinearConfig::new(HEAD_CHANNELS, self.num_classes).init(device)),
            folded: false,
        }
    }
}

impl EfficientNet {
    /// Weight of each new batch in every batch norm's running statistics. The TF checkpoints' 0.01 suits a
    /// converged network; batch norms trained from scratch for a few epochs need a faster average (PyTorch's 0.1),
    /// or the running statistics that evaluation uses lag far behind the weights (validation near chance while
    /// training accuracy climbs).
    pub fn set_batch_norm_momentum(&mut self, momentum: f64) {
        self.bn0.momentum = momentum;
        self.bn1.momentum = momentum;
        for block in &mut self.blocks {
            if let Some(bn) = &mut block.bn0 {
                bn.momentum = momentum;
            }
            block.bn1.momentum = momentum;
            block.bn2.momentum = momentum;
        }
    }

    /// Number of MBConv blocks (16 for Lite0).
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Pooled features, `[batch, 3, H, W]` normalised images -> `[batch, 1280]`: the embedding.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let [n, ..] = images.dims();
        if self.folded && cpu_inference::on_cpu_inference_device(&images) && n > CPU_CHUNK {
            // On the CPU a big batch runs as chunks of one glitch's views: layer by layer, 64 images' activations
            // outgrow the caches and every layer streams them from memory (wasm, one run: 17.9 ms per image at
            // batch 1, 24.9 ms at batch 16; docs/speed.md). Each image's features are its own: the same result.
            let parts: Vec<Tensor<2>> = (0..n)
                .step_by(CPU_CHUNK)
                .map(|start| {
                    let chunk = images.clone().narrow(0, start, CPU_CHUNK.min(n - start));
                    self.head(self.stem_and_blocks(chunk, 0..self.blocks.len()))
                })
                .collect();
            return Tensor::cat(parts, 0);
        }
        let x = self.stem_and_blocks(images, 0..self.blocks.len());
        self.head(x)
    }

    /// Stem followed by the given range of blocks (all blocks for a full pass). Split so that a trainer can
    /// cache the activations of frozen leading blocks and fine-tune only the last ones.
    pub fn stem_and_blocks(&self, images: Tensor<4>, blocks: core::ops::Range<usize>) -> Tensor<4> {
        if self.folded && cpu_inference::on_cpu_inference_device(&images) {
            return self.blocks_range(cpu_inference::conv_relu6(images, &self.conv_stem), blocks);
        }
        let x = norm_act(self.folded, &self.bn0, self.conv_stem.forward(images), true);
        self.blocks_range(x, blocks)
    }

    /// Run blocks `range` on an activation produced by the preceding blocks.
    pub fn blocks_range(&self, mut x: Tensor<4>, range: core::ops::Range<usize>) -> Tensor<4> {
        for block in &self.blocks[range] {
            x = block.forward(x);
        }
        x
    }

    /// 1x1 head convolution, batch norm, ReLU6 and global average pooling.
    pub fn head(&self, x: Tensor<4>) -> Tensor<2> {
        let cpu = self.folded && cpu_inference::on_cpu_inference_device(&x);
        let x = if cpu {
            flex_kernels::pointwise(x, &self.conv_head, true)
        } else {
            norm_act(self.folded, &self.bn1, conv1x1(&self.conv_head, x), true)
        };
        let [batch, channels, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([batch, channels])
    }

    /// ImageNet logits (only for a network built with `num_classes > 0`).
    pub fn forward(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        let features = self.features(images);
        self.fc.as_ref().map(|fc| fc.forward(self.dropout.forward(features)))
    }

    /// For inference only: fold every batch norm (running statistics) into the convolution before it and skip
    /// the batch norms from then on, so each convolution's output is not walked through once more. Same outputs
    /// up to f32 rounding (tested against the unfolded network, natively and in the browser). A folded network
    /// must not be trained or saved: its batch-norm parameters no longer act. Folding twice is a no-op.
    pub fn fold_batch_norms(&mut self) {
        if self.folded {
            return;
        }
        fold(&mut self.conv_stem, &self.bn0);
        fold(&mut self.conv_head, &self.bn1);
        for block in &mut self.blocks {
            block.fold_batch_norms();
        }
        self.folded = true;
    }

    /// Whether [`EfficientNet::fold_batch_norms`] has run.
    pub fn is_folded(&self) -> bool {
        self.folded
    }

    /// Drop the ImageNet classifier: the truncated feature extractor of George et al.
    pub fn truncate(mut self) -> Self {
        self.fc = None;
        self
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use burn::tensor::Distribution;

    /// Batch norms with statistics far from the identity (as trained ones are), so that folding is tested.
    fn scramble(bn: &mut BatchNorm, device: &Device) {
        let [c] = bn.gamma.val().dims();
        let random = |lo: f64, hi: f64| Tensor::<1>::random([c], Distribution::Uniform(lo, hi), device);
        bn.gamma = Param::from_tensor(random(0.5, 2.0));
        bn.beta = Param::from_tensor(random(-1.0, 1.0));
        bn.running_mean = burn::module::RunningState::new(random(-0.5, 0.5));
        bn.running_var = burn::module::RunningState::new(random(0.2, 3.0));
    }

    #[test]
    fn folded_batch_norms_give_the_same_features() {
        let device = Device::flex();
        device.seed(5);
        let mut net = EfficientNetConfig::new().with_num_classes(0).init(&device);
        scramble(&mut net.bn0, &device);
        scramble(&mut net.bn1, &device);
        for block in &mut net.blocks {
            if let Some(bn) = &mut block.bn0 {
                scramble(bn, &device);
            }
            scramble(&mut block.bn1, &device);
            scramble(&mut block.bn2, &device);
        }
        // 6 images: more than one CPU chunk (4 + 2), so the chunked pass is compared too.
        let images = Tensor::<4>::random([6, 3, 64, 80], Distribution::Uniform(-1.0, 1.0), &device);
        let plain = net.features(images.clone()).into_data().try_into_vec::<f32>().unwrap();
        let mut folded = net.clone();
        folded.fold_batch_norms();
        folded.fold_batch_norms(); // twice is once
        assert!(folded.is_folded() && !net.is_folded());
        let after = folded.features(images).into_data().try_into_vec::<f32>().unwrap();
        let scale = plain.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = plain.iter().zip(&after).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(scale > 0.1, "features vanished: max {scale}");
        assert!(diff <= 1e-4 * scale, "folding changed the features by {diff} (scale {scale})");
    }

    #[test]
    fn round_filters_matches_tf() {
        assert_eq!(round_filters(32, 1.0), 32);
        assert_eq!(round_filters(16, 1.1), 16);
        assert_eq!(round_filters(24, 1.1), 24);
        assert_eq!(round_filters(40, 1.1), 48);
        assert_eq!(round_filters(112, 1.1), 120);
        assert_eq!(round_filters(320, 1.1), 352);
    }
}
