//! Burn `DataLoader`s over the in-memory views: batches of glitches with any subset of their views.
//!
//! The training loader derives everything random in an epoch (order, class balance, view dropout,
//! augmentation, and the backend seed that drives dropout in the head) from (seed, epoch). The epoch number
//! comes from a counter that starts at the first epoch this process trains, so an epoch replayed after a
//! resume gets exactly the batches it had in the uninterrupted run.
//!
//! Data-parallel training (Burn's multi-device strategy) splits the training loader with `slice`, one part per
//! device. Here a part is not a contiguous run of samples (that would give each device its own classes and its
//! own shuffling) but the same share of every batch of the one-device epoch: with `n` devices, device `k` gets
//! glitches `k*b/n .. (k+1)*b/n` of each batch of `b`, and each part's loss is weighted by its share, so the
//! summed gradients are those of the one-device batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::{Device, Int, Tensor, TensorData};
use glitchscope::model::GlitchBatch;
use glitchscope::views::VIEW_COUNT;

use super::augment::{AugmentConfig, Augmentation};
use super::features::ViewStore;
use super::model::TrainBatch;
use super::sampler;

/// One labelled glitch: its class and, by slot, the index of each present view in the [`ViewStore`].
#[derive(Clone, Debug)]
pub struct Sample {
    pub class: usize,
    pub views: [Option<usize>; VIEW_COUNT],
    /// Relative chance of being drawn among the glitches of its class (balanced sampling): real glitches
    /// can be weighted up against the synthetic ones.
    pub weight: f64,
}

impl Sample {
    pub fn present(&self) -> Vec<usize> {
        (0..VIEW_COUNT).filter(|&s| self.views[s].is_some()).collect()
    }
}

/// How the training loader draws its epochs.
#[derive(Clone, Debug)]
pub struct Sampling {
    pub seed: u64,
    pub balanced: bool,
    pub view_dropout: f64,
    /// Probability that a training glitch is shown as one view of unknown duration (see `sampler::place_views`).
    pub unknown_view: f64,
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
    /// Glitches per step, over all devices.
    batch_size: usize,
    device: Device,
    next_epoch: Arc<AtomicUsize>,
    throughput: Arc<Mutex<Vec<EpochThroughput>>>,
    /// How many devices share each batch, and which share this loader yields (`slice` picks it; `None`: whole
    /// batches).
    shards: usize,
    shard: Option<usize>,
}

impl GlitchLoader {
    /// A training loader whose first `iter()` is epoch `first_epoch`; its batches of `batch_size` glitches are
    /// shared by `shards` devices (1: one device).
    pub fn training(
        store: Arc<ViewStore>,
        samples: Vec<Sample>,
        sampling: Sampling,
        batch_size: usize,
        shards: usize,
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
            shards: shards.max(1),
            shard: None,
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
            shards: 1,
            shard: None,
        }
    }

    /// Measured training epochs so far (shared with every copy made by `to_device`).
    pub fn throughput(&self) -> Arc<Mutex<Vec<EpochThroughput>>> {
        self.throughput.clone()
    }

    /// The batches of the next epoch (this loader's share of each): (sample, views used) per glitch, each view
    /// as (its slot in the sample, the slot it is shown in), and the share of its whole batch that each part holds.
    fn plan(&self) -> (usize, Vec<(Vec<(usize, Vec<(usize, usize)>)>, f32)>) {
        let (epoch, order) = match &self.sampling {
            Some(s) => {
                let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
                let classes: Vec<usize> = self.samples.iter().map(|x| x.class).collect();
                let weights: Vec<f64> = self.samples.iter().map(|x| x.weight).collect();
                let order =
                    sampler::epoch_order(&classes, &weights, s.balanced, &mut sampler::epoch_rng(s.seed, epoch, ORDER));
                let mut rng = sampler::epoch_rng(s.seed, epoch, DROPOUT);
                let unknown = glitchscope::views::UNKNOWN_DURATION_SLOT.index();
                let order: Vec<(usize, Vec<(usize, usize)>)> = order
                    .into_iter()
                    .map(|i| {
                        let kept = sampler::drop_views(&self.samples[i].present(), s.view_dropout, &mut rng);
                        (i, sampler::place_views(kept, s.unknown_view, unknown, &mut rng))
                    })
                    .collect();
                // Dropout in the head draws from the backend's generator: reseed it per epoch.
                let backend_seed = rand::RngExt::random::<u64>(&mut sampler::epoch_rng(s.seed, epoch, BACKEND));
                self.device.seed(backend_seed);
                (epoch, order)
            }
            None => (
                0,
                (0..self.samples.len())
                    .map(|i| (i, self.samples[i].present().into_iter().map(|v| (v, v)).collect()))
                    .collect(),
            ),
        };
        let batches = order
            .chunks(self.batch_size.max(1))
            .filter_map(|whole| {
                let (start, end) = self.part_of(whole.len());
                (start < end).then(|| (whole[start..end].to_vec(), (end - start) as f32 / whole.len() as f32))
            })
            .collect();
        (epoch, batches)
    }

    /// Which glitches of a batch of `whole` this loader yields.
    fn part_of(&self, whole: usize) -> (usize, usize) {
        let Some(shard) = self.shard else { return (0, whole) };
        let part = (self.batch_size / self.shards).max(1);
        let start = (shard * part).min(whole);
        let end = if shard + 1 == self.shards { whole } else { (start + part).min(whole) };
        (start, end)
    }

    fn build(
        &self,
        batch: &[(usize, Vec<(usize, usize)>)],
        share: f32,
        rng: &mut Option<chacha20::ChaCha8Rng>,
    ) -> Result<(TrainBatch, usize), DatasetError> {
        let store = &self.store;
        let [_, h, w] = store.dims;
        let augment = self.sampling.as_ref().and_then(|s| s.augment);
        let mut flat = Vec::new();
        let mut slots = Vec::new();
        let mut targets = Vec::with_capacity(batch.len());
        for (g, (sample, used)) in batch.iter().enumerate() {
            let sample = &self.samples[*sample];
            targets.push(sample.class as i64);
            for &(from, slot) in used {
                let Some(view) = sample.views[from] else { continue };
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
        Ok((TrainBatch { glitches, stage: store.stage, targets, label_smoothing, share }, n_views))
    }
}

struct EpochIter<'a> {
    loader: &'a GlitchLoader,
    epoch: usize,
    batches: Vec<(Vec<(usize, Vec<(usize, usize)>)>, f32)>,
    next: usize,
    items_done: usize,
    items_total: usize,
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
                    // The devices of a data-parallel epoch each report their share: one record per epoch, with
                    // every device's views and the slowest device's time.
                    match list.iter_mut().find(|r| r.epoch == record.epoch) {
                        Some(r) => {
                            r.views += record.views;
                            r.seconds = r.seconds.max(record.seconds);
                        }
                        None => list.push(record),
                    }
                }
            }
            return None;
        };
        self.started.get_or_insert_with(Instant::now);
        self.next += 1;
        let (batch, share) = batch;
        self.items_done += batch.len();
        Some(self.loader.build(batch, *share, &mut self.rng).map(|(b, views)| {
            self.views += views;
            b
        }))
    }
}

impl DataLoaderIterator<TrainBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.items_done, self.items_total, Some("glitches".into()))
    }
}

impl DataLoader<TrainBatch> for GlitchLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<TrainBatch> + 'a> {
        let (epoch, batches) = self.plan();
        // Each device's part draws its augmentations from its own stream.
        let rng = self.sampling.as_ref().map(|s| sampler::epoch_rng(s.seed, epoch, AUGMENT + 16 * self.shard.unwrap_or(0) as u64));
        let items_total = batches.iter().map(|(b, _)| b.len()).sum();
        Box::new(EpochIter { loader: self, epoch, batches, next: 0, items_done: 0, items_total, rng, started: None, views: 0 })
    }

    /// Glitches per epoch (this device's part of them when sharded).
    fn num_items(&self) -> usize {
        let n = self.samples.len();
        let share = |whole: usize| {
            let (start, end) = self.part_of(whole);
            end - start
        };
        (n / self.batch_size) * share(self.batch_size) + share(n % self.batch_size)
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<TrainBatch>> {
        Arc::new(GlitchLoader { device: device.clone(), ..self.clone() })
    }

    /// A sharded training loader: Burn's `split_dataloader` asks for `[k*step, (k+1)*step)` with
    /// `step = num_items / shards`, which names the part `k` (its own epoch counter, same epochs). Otherwise the
    /// samples `start..end`.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<TrainBatch>> {
        if self.shards > 1 && self.shard.is_none() {
            let step = (self.samples.len() / self.shards).max(1);
            let shard = Some((start / step).min(self.shards - 1));
            let next_epoch = Arc::new(AtomicUsize::new(self.next_epoch.load(Ordering::SeqCst)));
            return Arc::new(GlitchLoader { shard, next_epoch, ..self.clone() });
        }
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
            unknown_view: 0.0,
            label_smoothing: None,
            copies: 0,
            augment: Some(AugmentConfig { time_shift: 0.5, freq_shift: 0.5, brightness: 0.2, contrast: 0.2 }),
        };
        let run = GlitchLoader::training(store(5), samples(), sampling.clone(), 2, 1, 1, &device);
        let e1 = epoch_batches(&run);
        let e2 = epoch_batches(&run);
        let e3 = epoch_batches(&run);
        // A loader started at epoch 2 (a resumed run) gives the same epochs 2 and 3.
        let resumed = GlitchLoader::training(store(5), samples(), sampling, 2, 1, 2, &device);
        assert_eq!(epoch_batches(&resumed), e2);
        assert_eq!(epoch_batches(&resumed), e3);
        assert!(e1 != e2 || e2 != e3, "epochs differ");
        assert_eq!(run.throughput().lock().unwrap().len(), 3);
    }

    #[test]
    fn unknown_view_training_shows_one_stored_view_in_the_unknown_slot() {
        let device = Device::flex();
        let sampling = Sampling {
            seed: 2,
            balanced: false,
            view_dropout: 0.0,
            unknown_view: 1.0,
            label_smoothing: None,
            copies: 0,
            augment: None,
        };
        let loader = GlitchLoader::training(store(5), samples(), sampling, 2, 1, 1, &device);
        let unknown = glitchscope::views::UNKNOWN_DURATION_SLOT.index();
        let first_pixel = |v: &[f32], i: usize| (v[i * 12] * 128.0 + 127.0).round() as usize;
        let mut stored = std::collections::BTreeSet::new();
        for _ in 0..6 {
            for (slots, images, targets) in epoch_batches(&loader) {
                assert_eq!(slots.len(), targets.len(), "one view per glitch");
                for (i, (g, slot)) in slots.iter().enumerate() {
                    assert_eq!((*g, *slot), (i, unknown), "each glitch's view sits in the unknown-duration slot");
                    stored.insert(first_pixel(&images, i));
                }
            }
        }
        // The views come from every slot of the samples, not only from the unknown one.
        assert!(stored.len() >= 4, "views drawn: {stored:?}");
    }

    #[test]
    fn device_parts_are_shares_of_the_one_device_batches() {
        let device = Device::flex();
        let sampling = Sampling {
            seed: 9,
            balanced: false,
            view_dropout: 0.3,
            unknown_view: 0.0,
            label_smoothing: None,
            copies: 0,
            augment: None,
        };
        let many: Vec<Sample> = (0..7).flat_map(|_| samples()).collect();
        let store = store(5);
        let one = GlitchLoader::training(store.clone(), many.clone(), sampling.clone(), 4, 1, 1, &device);
        let two = GlitchLoader::training(store, many, sampling, 4, 2, 1, &device);
        // As Burn's split_dataloader asks for them (21 samples, 2 devices: 0..10 and 10..21).
        let parts = [two.slice(0, 10), two.slice(10, 21)];
        let whole: Vec<_> = one.iter().map(|b| b.unwrap()).collect();
        let halves: Vec<Vec<_>> = parts.iter().map(|p| p.iter().map(|b| b.unwrap()).collect()).collect();
        assert_eq!((parts[0].num_items(), parts[1].num_items()), (11, 10), "each part's glitches per epoch");
        assert_eq!(whole.len(), 6);
        assert_eq!(halves[0].len(), 6);
        assert_eq!(halves[1].len(), 5, "the last batch of 1 glitch has nothing for the second device");
        for (i, w) in whole.iter().enumerate() {
            let targets = |b: &TrainBatch| -> Vec<i64> { b.targets.clone().into_data().convert::<i64>().try_into_vec().unwrap() };
            let mut joined = targets(&halves[0][i]);
            let mut share = halves[0][i].share;
            if let Some(h) = halves[1].get(i) {
                joined.extend(targets(h));
                share += h.share;
                assert_eq!(
                    halves[0][i].glitches.slots.len() + h.glitches.slots.len(),
                    w.glitches.slots.len(),
                    "same views (dropout is drawn for the whole batch)"
                );
            }
            assert_eq!(joined, targets(w), "batch {i}: the two parts are the one-device batch, in order");
            assert!((share - 1.0).abs() < 1e-6 && (w.share - 1.0).abs() < 1e-6);
        }
        // A second epoch moves on in both parts alike.
        assert_eq!(parts[0].iter().count(), 6);
    }
}
