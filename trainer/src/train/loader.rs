//! Burn `DataLoader`s over the in-memory views: batches of glitches with any subset of their views.
//!
//! The training loader derives everything random in an epoch (order, class balance, view dropout,
//! augmentation, and the backend seed that drives dropout in the head) from (seed, epoch). The epoch number
//! comes from a counter that starts at the first epoch this process trains, so an epoch replayed after a
//! resume gets exactly the batches it had in the uninterrupted run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::{Device, Int, Tensor, TensorData};
use glitchscope::model::{GlitchBatch, NUM_VIEWS};

use super::augment::{AugmentConfig, Augmentation};
use super::features::ViewStore;
use super::model::TrainBatch;
use super::sampler;

/// One labelled glitch: its class and, by slot, the index of each present view in the [`ViewStore`].
#[derive(Clone, Debug)]
pub struct Sample {
    pub class: usize,
    pub views: [Option<usize>; NUM_VIEWS],
    /// Relative chance of being drawn among the glitches of its class (balanced sampling): real glitches
    /// can be weighted up against the synthetic ones.
    pub weight: f64,
}

impl Sample {
    pub fn present(&self) -> Vec<usize> {
        (0..NUM_VIEWS).filter(|&s| self.views[s].is_some()).collect()
    }
}

/// How the training loader draws its epochs.
#[derive(Clone, Debug)]
pub struct Sampling {
    pub seed: u64,
    pub balanced: bool,
    pub view_dropout: f64,
    /// How many of a view's stored augmented copies training draws from (with the view itself).
    pub copies: usize,
    /// Label smoothing of the training loss (`None`: plain cross-entropy).
    pub label_smoothing: Option<f32>,
    /// `None`: no augmentation (cached features, or switched off).
    pub augment: Option<AugmentConfig>,
}

/// Throughput of one training epoch, measured by the loader (from its first batch to its exhaustion, i.e.
/// forward, backward and optimiser steps included, validation excluded).
#[derive(Clone, Copy, Debug, Default)]
pub struct EpochThroughput {
    pub epoch: usize,
    pub views: usize,
    pub seconds: f64,
}

// Purposes of the per-epoch generators (see `sampler::epoch_rng`).
const ORDER: u64 = 0;
const DROPOUT: u64 = 1;
const AUGMENT: u64 = 2;
const BACKEND: u64 = 3;

#[derive(Clone)]
pub struct GlitchLoader {
    store: Arc<ViewStore>,
    samples: Arc<Vec<Sample>>,
    sampling: Option<Sampling>,
    batch_size: usize,
    device: Device,
    next_epoch: Arc<AtomicUsize>,
    throughput: Arc<Mutex<Vec<EpochThroughput>>>,
}

impl GlitchLoader {
    /// A training loader whose first `iter()` is epoch `first_epoch`.
    pub fn training(
        store: Arc<ViewStore>,
        samples: Vec<Sample>,
        sampling: Sampling,
        batch_size: usize,
        first_epoch: usize,
        device: &Device,
    ) -> Self {
        GlitchLoader {
            store,
            samples: Arc::new(samples),
            sampling: Some(sampling),
            batch_size,
            device: device.clone(),
            next_epoch: Arc::new(AtomicUsize::new(first_epoch)),
            throughput: Arc::default(),
        }
    }

    /// A loader that walks the samples in order with all their views, unaugmented.
    pub fn evaluation(store: Arc<ViewStore>, samples: Vec<Sample>, batch_size: usize, device: &Device) -> Self {
        GlitchLoader {
            store,
            samples: Arc::new(samples),
            sampling: None,
            batch_size,
            device: device.clone(),
            next_epoch: Arc::new(AtomicUsize::new(1)),
            throughput: Arc::default(),
        }
    }

    /// Measured training epochs so far (shared with every copy made by `to_device`).
    pub fn throughput(&self) -> Arc<Mutex<Vec<EpochThroughput>>> {
        self.throughput.clone()
    }

    /// The batches of the next epoch: (sample, slots used) per glitch.
    fn plan(&self) -> (usize, Vec<Vec<(usize, Vec<usize>)>>) {
        let (epoch, order) = match &self.sampling {
            Some(s) => {
                let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
                let classes: Vec<usize> = self.samples.iter().map(|x| x.class).collect();
                let weights: Vec<f64> = self.samples.iter().map(|x| x.weight).collect();
                let order =
                    sampler::epoch_order(&classes, &weights, s.balanced, &mut sampler::epoch_rng(s.seed, epoch, ORDER));
                let mut rng = sampler::epoch_rng(s.seed, epoch, DROPOUT);
                let order: Vec<(usize, Vec<usize>)> = order
                    .into_iter()
                    .map(|i| (i, sampler::drop_views(&self.samples[i].present(), s.view_dropout, &mut rng)))
                    .collect();
                // Dropout in the head draws from the backend's generator: reseed it per epoch.
                let backend_seed = rand::RngExt::random::<u64>(&mut sampler::epoch_rng(s.seed, epoch, BACKEND));
                self.device.seed(backend_seed);
                (epoch, order)
            }
            None => (0, (0..self.samples.len()).map(|i| (i, self.samples[i].present())).collect()),
        };
        let batches = order.chunks(self.batch_size.max(1)).map(|c| c.to_vec()).collect();
        (epoch, batches)
    }

    fn build(&self, batch: &[(usize, Vec<usize>)], rng: &mut Option<chacha20::ChaCha8Rng>) -> Result<(TrainBatch, usize), DatasetError> {
        let store = &self.store;
        let [_, h, w] = store.dims;
        let augment = self.sampling.as_ref().and_then(|s| s.augment);
        let mut flat = Vec::new();
        let mut slots = Vec::new();
        let mut targets = Vec::with_capacity(batch.len());
        for (g, (sample, used)) in batch.iter().enumerate() {
            let sample = &self.samples[*sample];
            targets.push(sample.class as i64);
            for &slot in used {
                let Some(view) = sample.views[slot] else { continue };
                // In training, one of the view's stored copies (itself or a picture-level augmentation).
                let view = match (rng.as_mut(), &self.sampling) {
                    (Some(rng), Some(s)) => store.pick_copy(view, s.copies, rng),
                    _ => view,
                };
                let aug = match (augment, rng.as_mut()) {
                    (Some(config), Some(rng)) => Augmentation::draw(&config, h, w, rng),
                    _ => Augmentation::NONE,
                };
                store.push_input(view, aug, &mut flat);
                slots.push((g, slot));
            }
        }
        let n_views = slots.len();
        let [c, h, w] = store.dims;
        let images: Tensor<4> = Tensor::from_data(TensorData::new(flat, [n_views, c, h, w]), &self.device);
        // GlitchBatch::new checks the slots; its image check is for 3-channel images, so build it directly
        // after checking the slots the same way.
        let glitches = GlitchBatch { images, slots, num_glitches: batch.len() };
        if let Some(g) = (0..batch.len()).find(|g| !glitches.slots.iter().any(|(x, _)| x == g)) {
            return Err(DatasetError::new(glitchscope::model::BatchError::NoView(g)));
        }
        let targets: Tensor<1, Int> = Tensor::from_data(TensorData::new(targets, [batch.len()]), &self.device);
        let label_smoothing = self.sampling.as_ref().and_then(|s| s.label_smoothing);
        Ok((TrainBatch { glitches, stage: store.stage, targets, label_smoothing }, n_views))
    }
}

struct EpochIter<'a> {
    loader: &'a GlitchLoader,
    epoch: usize,
    batches: Vec<Vec<(usize, Vec<usize>)>>,
    next: usize,
    items_done: usize,
    rng: Option<chacha20::ChaCha8Rng>,
    started: Option<Instant>,
    views: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = Result<TrainBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(batch) = self.batches.get(self.next) else {
            if let (Some(started), Some(_)) = (self.started.take(), &self.loader.sampling) {
                let record = EpochThroughput { epoch: self.epoch, views: self.views, seconds: started.elapsed().as_secs_f64() };
                if let Ok(mut list) = self.loader.throughput.lock() {
                    list.push(record);
                }
            }
            return None;
        };
        self.started.get_or_insert_with(Instant::now);
        self.next += 1;
        self.items_done += batch.len();
        Some(self.loader.build(batch, &mut self.rng).map(|(b, views)| {
            self.views += views;
            b
        }))
    }
}

impl DataLoaderIterator<TrainBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.items_done, self.loader.samples.len(), Some("glitches".into()))
    }
}

impl DataLoader<TrainBatch> for GlitchLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<TrainBatch> + 'a> {
        let (epoch, batches) = self.plan();
        let rng = self.sampling.as_ref().map(|s| sampler::epoch_rng(s.seed, epoch, AUGMENT));
        Box::new(EpochIter { loader: self, epoch, batches, next: 0, items_done: 0, rng, started: None, views: 0 })
    }

    fn num_items(&self) -> usize {
        self.samples.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<TrainBatch>> {
        Arc::new(GlitchLoader { device: device.clone(), ..self.clone() })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<TrainBatch>> {
        let end = end.min(self.samples.len());
        let start = start.min(end);
        Arc::new(GlitchLoader { samples: Arc::new(self.samples[start..end].to_vec()), ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(n: usize) -> Arc<ViewStore> {
        // 2x2 images whose pixels encode the view index.
        Arc::new(ViewStore::pixels((0..n).map(|i| vec![i as u8; 12]).collect(), 2, 2))
    }

    fn samples() -> Vec<Sample> {
        vec![
            Sample { class: 0, views: [Some(0), Some(1), None, None], weight: 1.0 },
            Sample { class: 1, views: [None, None, Some(2), None], weight: 1.0 },
            Sample { class: 1, views: [None, Some(3), None, Some(4)], weight: 1.0 },
        ]
    }

    fn epoch_batches(loader: &GlitchLoader) -> Vec<(Vec<(usize, usize)>, Vec<f32>, Vec<i64>)> {
        loader
            .iter()
            .map(|b| {
                let b = b.unwrap();
                let images: Vec<f32> = b.glitches.images.into_data().try_into_vec().unwrap();
                let targets: Vec<i64> = b.targets.into_data().convert::<i64>().try_into_vec().unwrap();
                (b.glitches.slots, images, targets)
            })
            .collect()
    }

    #[test]
    fn evaluation_loader_walks_every_view_in_order() {
        let device = Device::flex();
        let loader = GlitchLoader::evaluation(store(5), samples(), 2, &device);
        let batches = epoch_batches(&loader);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].0, vec![(0, 0), (0, 1), (1, 2)]);
        assert_eq!(batches[0].2, vec![0, 1]);
        assert_eq!(batches[1].0, vec![(0, 1), (0, 3)]);
        let first_pixel = |v: &[f32], i: usize| v[i * 12] * 128.0 + 127.0;
        assert_eq!(first_pixel(&batches[1].1, 1), 4.0, "view 4 sits in slot 3 of glitch 0 of batch 1");
    }

    #[test]
    fn training_epochs_replay_exactly_from_their_number() {
        let device = Device::flex();
        let sampling = Sampling {
            seed: 5,
            balanced: true,
            view_dropout: 0.5,
            label_smoothing: None,
            copies: 0,
            augment: Some(AugmentConfig { time_shift: 0.5, freq_shift: 0.5, brightness: 0.2, contrast: 0.2 }),
        };
        let run = GlitchLoader::training(store(5), samples(), sampling.clone(), 2, 1, &device);
        let e1 = epoch_batches(&run);
        let e2 = epoch_batches(&run);
        let e3 = epoch_batches(&run);
        // A loader started at epoch 2 (a resumed run) gives the same epochs 2 and 3.
        let resumed = GlitchLoader::training(store(5), samples(), sampling, 2, 2, &device);
        assert_eq!(epoch_batches(&resumed), e2);
        assert_eq!(epoch_batches(&resumed), e3);
        assert!(e1 != e2 || e2 != e3, "epochs differ");
        assert_eq!(run.throughput().lock().unwrap().len(), 3);
    }
}
