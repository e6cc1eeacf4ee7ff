//! The per-view inputs a run trains on, held in memory: the preprocessed pixels (mode `all`), or what the
//! frozen part of the backbone makes of them, computed once (modes `frozen` and `last-N`).
//!
//! Computing the frozen part once is what makes those modes fast on a CPU: an epoch then costs only the
//! trainable part. The price is that images cannot be augmented any more (view dropout still works).

use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::{Device, Tensor, TensorData};
use glitchscope::model::GlitchNet;

use super::augment::{self, Augmentation};
use super::model::Stage;

/// The inputs of every view, at one stage.
pub enum ViewData {
    /// 8-bit CHW pixels, one buffer per view.
    Pixels(Vec<Vec<u8>>),
    /// f32 features, `dims` values per view, all views back to back.
    Features(Vec<f32>),
}

pub struct ViewStore {
    pub stage: Stage,
    /// Shape of one view's input: `[channels, height, width]`.
    pub dims: [usize; 3],
    pub data: ViewData,
    /// Picture-level augmented copies of a view (`domain.rs`), by view index: training draws one of the view
    /// and its copies. Empty when there are none (evaluation always uses the view itself).
    pub copies: Vec<Vec<usize>>,
}

impl ViewStore {
    pub fn pixels(images: Vec<Vec<u8>>, height: usize, width: usize) -> Self {
        ViewStore { stage: Stage::Images, dims: [3, height, width], data: ViewData::Pixels(images), copies: Vec::new() }
    }

    /// View `i` or one of its first `max` augmented copies, uniformly.
    pub fn pick_copy(&self, i: usize, max: usize, rng: &mut impl rand::Rng) -> usize {
        match self.copies.get(i) {
            Some(c) if !c.is_empty() && max > 0 => {
                let k = rand::RngExt::random_range(rng, 0..=c.len().min(max));
                if k == 0 { i } else { c[k - 1] }
            }
            _ => i,
        }
    }

    pub fn view_len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Append view `i`'s network input to `out`, augmented if pixels and `aug` is given.
    pub fn push_input(&self, i: usize, aug: Augmentation, out: &mut Vec<f32>) {
        match &self.data {
            ViewData::Pixels(images) => augment::apply(&images[i], self.dims[1], self.dims[2], aug, out),
            ViewData::Features(f) => {
                let n = self.view_len();
                out.extend_from_slice(&f[i * n..(i + 1) * n]);
            }
        }
    }
}

/// Runs the frozen part of a network (inference mode: batch norm uses its running statistics) on images fed
/// in chunks, keeping only the result, so the pixels of a large data set never need to be in memory at once.
pub struct Extractor<'a> {
    net: &'a GlitchNet,
    height: usize,
    width: usize,
    stage: Stage,
    batch_size: usize,
    device: Device,
    data: Vec<f32>,
    dims: [usize; 3],
    views: usize,
    /// Time spent in the network (not in reading files).
    seconds: f64,
}

impl<'a> Extractor<'a> {
    pub fn new(net: &'a GlitchNet, height: usize, width: usize, stage: Stage, batch_size: usize, device: &Device) -> Self {
        Extractor {
            net,
            height,
            width,
            stage,
            batch_size: batch_size.max(1),
            device: device.clone(),
            data: Vec::new(),
            dims: [0; 3],
            views: 0,
            seconds: 0.0,
        }
    }

    /// Number of views added so far (the index the next view's features get).
    pub fn len(&self) -> usize {
        self.views
    }

    /// Add the features of `images` (8-bit CHW pixels), in order.
    pub fn add(&mut self, images: &[&[u8]]) -> Result<()> {
        let started = Instant::now();
        let mut flat = Vec::new();
        for chunk in images.chunks(self.batch_size) {
            flat.clear();
            for px in chunk {
                augment::apply(px, self.height, self.width, Augmentation::NONE, &mut flat);
            }
            let x: Tensor<4> = Tensor::from_data(
                TensorData::new(flat.clone(), [chunk.len(), 3, self.height, self.width]),
                &self.device,
            );
            let backbone = &self.net.backbone;
            let y: Tensor<4> = match self.stage {
                Stage::Blocks { first } => backbone.stem_and_blocks(x, 0..first),
                Stage::Embeddings => {
                    let e = backbone.features(x);
                    let [n, c] = e.dims();
                    e.reshape([n, c, 1, 1])
                }
                Stage::Images => x,
            };
            let [_, c, h, w] = y.dims();
            self.dims = [c, h, w];
            let values: Vec<f32> = y
                .into_data()
                .try_into_vec()
                .map_err(|e| anyhow::anyhow!("{e:?}"))
                .context("reading backbone features")?;
            self.data.extend_from_slice(&values);
            self.views += chunk.len();
        }
        self.seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// The store, the throughput in images per second and the seconds spent in the network.
    pub fn finish(self) -> (ViewStore, f64, f64) {
        let rate = self.views as f64 / self.seconds.max(1e-9);
        let store = ViewStore { stage: self.stage, dims: self.dims, data: ViewData::Features(self.data), copies: Vec::new() };
        (store, rate, self.seconds)
    }
}
