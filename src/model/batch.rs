//! A batch of glitches as the network takes it: only the views that exist, each with its (glitch, view slot),
//! and the matrices that scatter the views' embeddings back to their glitches and slots.

use burn::tensor::{Device, Tensor, TensorData};

use crate::views::VIEW_COUNT;

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
        let mut seen = vec![[false; VIEW_COUNT]; num_glitches];
        for &(g, v) in &slots {
            if v >= VIEW_COUNT {
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
    pub(crate) fn scatter_matrix(&self, device: &Device) -> Tensor<2> {
        let n = self.slots.len();
        let mut m = vec![0f32; self.num_glitches * VIEW_COUNT * n];
        for (i, &(g, v)) in self.slots.iter().enumerate() {
            m[(g * VIEW_COUNT + v) * n + i] = 1.0;
        }
        Tensor::from_data(TensorData::new(m, [self.num_glitches * VIEW_COUNT, n]), device)
    }

    /// `[n_views, 4]` one-hot slot of every image.
    pub(crate) fn slot_one_hot(&self, device: &Device) -> Tensor<2> {
        let mut m = vec![0f32; self.slots.len() * VIEW_COUNT];
        for (i, &(_, v)) in self.slots.iter().enumerate() {
            m[i * VIEW_COUNT + v] = 1.0;
        }
        Tensor::from_data(TensorData::new(m, [self.slots.len(), VIEW_COUNT]), device)
    }

    /// `[glitches, n_views]` matrix that averages the present views of each glitch.
    pub(crate) fn mean_matrix(&self, device: &Device) -> Tensor<2> {
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
    pub(crate) fn mask(&self, device: &Device) -> Tensor<2> {
        let mut m = vec![0f32; self.num_glitches * VIEW_COUNT];
        for &(g, v) in &self.slots {
            m[g * VIEW_COUNT + v] = 1.0;
        }
        Tensor::from_data(TensorData::new(m, [self.num_glitches, VIEW_COUNT]), device)
    }
}
