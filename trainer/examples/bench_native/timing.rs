//! Our CPU (flex) inference and training-step times for GlitchNet, measured as bench/bench_torch.py measures
//! PyTorch: the same batch of glitches with all four views each, the same input size, medians after a warm-up.

use std::time::Instant;

use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor, TensorData};
use glitchscope::inference::Classifier;
use glitchscope::model::{GlitchBatch, GlitchNet};
use glitchscope::views::VIEW_COUNT;

pub struct Options {
    /// Glitches per batch (each with all four views).
    pub batch: usize,
    /// Timed inference passes (after one warm-up).
    pub runs: usize,
    /// Timed training steps (after one warm-up).
    pub train_runs: usize,
}

/// Deterministic inputs in the range of the preprocessed images ((pixel - 127) / 128).
pub fn batch(classifier: &Classifier, glitches: usize) -> Result<GlitchBatch> {
    let (h, w) = (classifier.card.input.height, classifier.card.input.width);
    let n = glitches * VIEW_COUNT;
    let images: Vec<Vec<f32>> = (0..n)
        .map(|i| (0..3 * h * w).map(|j| (((i * 7919 + j * 31) % 255) as f32 - 127.0) / 128.0).collect())
        .collect();
    let refs: Vec<&[f32]> = images.iter().map(Vec::as_slice).collect();
    let slots = (0..glitches).flat_map(|g| (0..VIEW_COUNT).map(move |v| (g, v))).collect();
    Ok(GlitchBatch::new(&refs, slots, glitches, h, w, &classifier.device)?)
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2.0 }
}

/// JSON line with the medians (ms) and every timed value.
/// `classifier` (folded) is timed for inference, `trainable` (with its batch norms) for the training step.
pub fn run(classifier: &Classifier, trainable: GlitchNet, options: &Options) -> Result<String> {
    let glitches = options.batch;
    let input = batch(classifier, glitches)?;

    // Inference as the classifier does it: logits -> softmax and the embedding, both read back to the host.
    let mut infer = Vec::new();
    for i in 0..=options.runs {
        let started = Instant::now();
        let out = classifier.model.forward(&input);
        let probs: Vec<f32> = softmax(out.logits, 1).into_data().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let emb: Vec<f32> = out.embedding.into_data().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        std::hint::black_box((probs, emb));
        let ms = started.elapsed().as_secs_f64() * 1e3;
        eprintln!("[bench_native] inference {i}/{}: {ms:.0} ms{}", options.runs, if i == 0 { " (warm-up)" } else { "" });
        if i > 0 {
            infer.push(ms);
        }
    }

    // One training step over every layer: forward in training mode (batch statistics, dropout), cross-entropy,
    // backward, AdamW update; the loss is read back each step, as a training loop logging it would.
    let device = classifier.device.clone();
    let targets: Tensor<1, Int> =
        Tensor::from_data(TensorData::new((0..glitches as i64).map(|g| g % 22).collect::<Vec<_>>(), [glitches]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut net = trainable.train();
    let mut optimizer = AdamWConfig::new().with_weight_decay(0.01).init();
    let mut train = Vec::new();
    let (mut forward, mut backward, mut step) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=options.train_runs {
        // The three parts are timed as bench_torch.py times PyTorch's: forward with the loss read back (which
        // waits for it), backward, optimiser; the step total is what a training loop pays.
        let started = Instant::now();
        let logits = net.classify(&input);
        let loss = loss_fn.forward(logits, targets.clone());
        let value: f32 = loss.clone().into_scalar();
        let forward_done = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let _ = device.sync();
        let backward_done = Instant::now();
        net = optimizer.step(1e-4, net, grads);
        let _ = device.sync();
        let done = Instant::now();
        let loss = value;
        let ms = (done - started).as_secs_f64() * 1e3;
        if i > 0 {
            forward.push((forward_done - started).as_secs_f64() * 1e3);
            backward.push((backward_done - forward_done).as_secs_f64() * 1e3);
            step.push((done - backward_done).as_secs_f64() * 1e3);
        }
        eprintln!("[bench_native] train step {i}/{}: {ms:.0} ms, loss {loss:.3}{}", options.train_runs, if i == 0 { " (warm-up)" } else { "" });
        if i > 0 {
            train.push(ms);
        }
    }

    let infer_ms = median(infer.clone());
    Ok(serde_json::json!({
        "batch": glitches,
        "views_per_glitch": VIEW_COUNT,
        "height": classifier.card.input.height,
        "width": classifier.card.input.width,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "infer_ms_median": infer_ms,
        "glitches_per_s": glitches as f64 / (infer_ms / 1e3),
        "train_kernels": glitchscope::model::efficientnet::train_kernels_enabled(),
        "train_step_ms_median": median(train.clone()),
        "train_forward_ms_median": median(forward),
        "train_backward_ms_median": median(backward),
        "train_optimizer_ms_median": median(step),
        "infer_ms": infer,
        "train_step_ms": train,
    })
    .to_string())
}
