//! Where the all-layer training step spends its time, by kind of layer (issue 13, docs/speed.md): every
//! convolution of the backbone at its real shape in the benchmark's batch, with the batch norm and ReLU6 that
//! follow it in training, each timed alone on the autodiff flex device, forward and backward apart.
//! bench/train_profile_torch.py times the same layers in PyTorch from this command's JSON (its `layers`).

use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Distribution, Tensor};
use glitchscope::inference::Classifier;
use glitchscope::model::efficientnet::{batch_norm_relu6, depthwise_training_conv, pointwise_conv, set_fused_cpu_kernels, set_train_kernels};

use crate::timing;

/// One convolution of the backbone and what follows it in training.
#[derive(serde::Serialize)]
struct Layer {
    layer: String,
    kind: String,
    n: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    groups: usize,
    relu6: bool,
}

/// Median ms of `f`'s (forward, backward) over `runs` after one warm-up.
fn time(runs: usize, mut f: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    let _ = f();
    let (mut fw, mut bw): (Vec<f64>, Vec<f64>) = (0..runs).map(|_| f()).unzip();
    (timing::median(std::mem::take(&mut fw)), timing::median(std::mem::take(&mut bw)))
}

/// `kernels`: our CPU training kernels (the default) or Burn's own operations (`--burn-ops`).
pub fn run(classifier: &Classifier, glitches: usize, runs: usize, kernels: bool) -> Result<String> {
    set_train_kernels(kernels);
    let input = timing::batch(classifier, glitches)?;
    // The layer shapes, from the inference profile with Burn's own operations (one row per convolution).
    let clock = Instant::now();
    let mut now = || clock.elapsed().as_secs_f64() * 1e3;
    set_fused_cpu_kernels(false);
    let rows = classifier.model.backbone.profile(input.images.clone(), &mut now);
    set_fused_cpu_kernels(true);
    let mut layers = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.macs == 0.0 {
            continue;
        }
        let mut words = row.op.split_whitespace();
        let kind = words.next().context("empty op")?.to_string();
        let k: usize = words.next().and_then(|kk| kk.split('x').next()).and_then(|v| v.parse().ok()).context("kernel size")?;
        let stride = words.next().and_then(|s| s.strip_prefix('s')).and_then(|v| v.parse().ok()).unwrap_or(1);
        let next = rows.get(i + 1).context("a convolution is the last row")?;
        let [n, c_in, h, w] = row.input;
        layers.push(Layer {
            layer: row.layer.clone(),
            relu6: next.op == "relu6",
            groups: if kind == "depthwise" { c_in } else { 1 },
            c_out: next.input[1],
            kind,
            n,
            c_in,
            h,
            w,
            k,
            stride,
        });
    }

    let device = Device::flex().autodiff();
    let mut out = Vec::new();
    for l in &layers {
        let conv = Conv2dConfig::new([l.c_in, l.c_out], [l.k, l.k])
            .with_stride([l.stride, l.stride])
            .with_groups(l.groups)
            .with_padding(PaddingConfig2d::Same)
            .with_bias(false)
            .init(&Device::flex())
            .train();
        let bn = BatchNormConfig::new(l.c_out).with_epsilon(1e-3).init(&Device::flex()).train();
        let x = Tensor::<4>::random([l.n, l.c_in, l.h, l.w], Distribution::Uniform(-1.0, 1.0), &device);
        let y = conv.forward(x.clone()).detach();
        let timed = |f: &dyn Fn(Tensor<4>) -> Tensor<4>, x: &Tensor<4>| {
            let x = x.clone().require_grad();
            let started = Instant::now();
            let y = f(x);
            let _ = device.sync();
            let forward = started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            let grads = y.sum().backward();
            let _ = device.sync();
            drop(grads);
            (forward, started.elapsed().as_secs_f64() * 1e3)
        };
        // The layers as the blocks run them in training: with our CPU training kernels (train_kernels.rs) the
        // 1x1 convolutions are matrix products, the depthwise ones phase-plane kernels and the ReLU6 is part of
        // the batch-norm operation.
        let conv_t = if l.k == 1 {
            time(runs, || timed(&|x| pointwise_conv(&conv, x), &x))
        } else if l.kind == "depthwise" {
            time(runs, || timed(&|x| depthwise_training_conv(&conv, x), &x))
        } else {
            time(runs, || timed(&|x| conv.forward(x), &x))
        };
        let bn_t = time(runs, || timed(&|y| batch_norm_relu6(&bn, y, l.relu6 && kernels), &y));
        let relu_t = if l.relu6 && !kernels { time(runs, || timed(&|y| relu6(y), &y)) } else { (0.0, 0.0) };
        eprintln!(
            "[bench_native] {} {} {}x{} s{} [{}, {}, {}, {}] -> {}: conv {:.1}/{:.1} bn {:.1}/{:.1} relu6 {:.1}/{:.1} ms",
            l.layer, l.kind, l.k, l.k, l.stride, l.n, l.c_in, l.h, l.w, l.c_out, conv_t.0, conv_t.1, bn_t.0, bn_t.1, relu_t.0, relu_t.1
        );
        out.push(serde_json::json!({
            "layer": l.layer, "kind": l.kind, "bn_includes_relu6": l.relu6 && kernels,
            "conv_forward_ms": conv_t.0, "conv_backward_ms": conv_t.1,
            "bn_forward_ms": bn_t.0, "bn_backward_ms": bn_t.1,
            "relu6_forward_ms": relu_t.0, "relu6_backward_ms": relu_t.1,
        }));
    }
    Ok(serde_json::json!({ "batch": glitches, "runs": runs, "train_kernels": kernels, "layers": layers, "times": out }).to_string())
}
