//! Convolutions with TF "SAME" padding on stride-phase planes (see [`Plane`]): the depthwise convolution (forward
//! for inference with bias + ReLU6 fused, forward and both gradients for training) and the stem's dense
//! convolution with few input channels. Slices in, slices out: the tensors are cpu_inference.rs's and
//! train_kernels.rs's business.

use super::parallel::{SendPtr, par_items};

/// TensorFlow "SAME" padding of one dimension: (before, after), as Burn's `PaddingConfig2d::Same` computes it.
fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2, out)
}

/// Output channels per work item of [`dense_relu6`] (its input planes are gathered once per item).
const CONV_CHANNEL_BLOCK: usize = 8;


/// `relu6(conv(x) + bias)` for a folded dense convolution with few input channels and TF "SAME" padding: the
/// stem (3 -> 32 channels, 3x3, stride 2). On the depthwise kernel's phase planes: each input channel of a stack
/// of images is gathered once, then every output channel takes `in x k x k` contiguous taps over the stack.
/// Burn's (im2col + gemm with K = 27, then the bias pass, then ReLU6) ran at 1.1-1.4 GMAC/s in wasm, 4-5 natively.
/// `input` is `[n, ci, h, w]` row-major, `weight` `[co, ci, k, k]`; returns the output and its shape.
pub(super) fn dense_relu6(input: &[f32], [n, ci, h, w]: [usize; 4], weight: &[f32], bias: &[f32], k: usize, stride: usize) -> (Vec<f32>, [usize; 4]) {
    let co = bias.len();
    assert_eq!(weight.len(), co * ci * k * k, "a dense convolution with a square kernel");
    let plane = Plane::same(h, w, k, stride);
    let (out_h, out_w) = (plane.out_h, plane.out_w);
    let group = plane.stack(n);
    let (groups, blocks) = (n.div_ceil(group), co.div_ceil(CONV_CHANNEL_BLOCK));
    let (plane_in, plane_out) = (h * w, out_h * out_w);
    let mut output = vec![0.0f32; n * co * plane_out];
    let out_ptr = SendPtr(output.as_mut_ptr());
    let per_out = ci * k * k;
    par_items(
        groups * blocks,
        || (0..ci).map(|_| plane.scratch(group, false)).collect::<Vec<_>>(),
        |scratches, item| {
            let (g, block) = (item / blocks, item % blocks);
            let images = g * group..((g + 1) * group).min(n);
            for (ic, scratch) in scratches.iter_mut().enumerate() {
                plane.gather(images.clone().map(|j| &input[(j * ci + ic) * plane_in..(j * ci + ic + 1) * plane_in]), scratch);
            }
            let (first, rest) = scratches.split_first_mut().expect("at least one input channel");
            for oc in block * CONV_CHANNEL_BLOCK..((block + 1) * CONV_CHANNEL_BLOCK).min(co) {
                let taps = &weight[oc * per_out..(oc + 1) * per_out];
                // The first channel's taps start the accumulator at the bias; the others add to it.
                plane.convolve(&taps[..k * k], bias[oc], first);
                for (ic, scratch) in rest.iter().enumerate() {
                    plane.accumulate_taps(&scratch.phases, &taps[(ic + 1) * k * k..(ic + 2) * k * k], &mut first.acc, images.len());
                }
                for (i, j) in images.clone().enumerate() {
                    // SAFETY: plane (j, oc) of the output is written by this item only, and `output` outlives the loop.
                    let out = unsafe { out_ptr.slice((j * co + oc) * plane_out, plane_out) };
                    plane.write(i, first, out, true);
                }
            }
        },
    );
    (output, [n, co, out_h, out_w])
}

/// A depthwise convolution with TF "SAME" padding over `[n, c, h, w]` f32 planes, as work items of one channel of
/// a group of images, their phase planes stacked so that one slice per tap covers them all (the late planes are
/// 3x4: per-tap overhead would otherwise dominate; how many, `Plane::stack`). Inference (fused bias + ReLU6) and, natively, training (train_kernels.rs:
/// the same planes give both gradients) share it.
pub(super) struct Depthwise {
    plane: Plane,
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
    k: usize,
    group: usize,
    groups: usize,
}

impl Depthwise {
    pub(super) fn new([n, c, h, w]: [usize; 4], k: usize, stride: usize) -> Self {
        let plane = Plane::same(h, w, k, stride);
        let (out_h, out_w, group) = (plane.out_h, plane.out_w, plane.stack(n));
        Depthwise { plane, n, c, h, w, out_h, out_w, k, group, groups: n.div_ceil(group) }
    }

    pub(super) fn output_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.out_h, self.out_w]
    }

    /// Work item `item`: its channel and its images.
    fn item(&self, item: usize) -> (usize, core::ops::Range<usize>) {
        let (ch, g) = (item / self.groups, item % self.groups);
        (ch, g * self.group..((g + 1) * self.group).min(self.n))
    }

    /// Plane (image, channel) of an `[n, c, rows, cols]` buffer.
    fn plane_of(&self, image: usize, ch: usize, size: usize) -> core::ops::Range<usize> {
        (image * self.c + ch) * size..(image * self.c + ch + 1) * size
    }

    /// Each item on its own scratch, over every core natively, one after another in wasm.
    fn for_each_item<T: Send>(&self, scratch: impl Fn() -> Scratch + Sync + Send, run: impl Fn(&mut Scratch, usize) -> T + Sync + Send) -> Vec<T> {
        par_items(self.c * self.groups, scratch, run)
    }

    /// `relu6?(depthwise(x) + bias)`, `[n, c, out_h, out_w]`.
    pub(super) fn forward(&self, input: &[f32], weight: &[f32], bias: &[f32], relu6: bool) -> Vec<f32> {
        let (k, plane_out) = (self.k, self.out_h * self.out_w);
        let mut output = vec![0.0f32; self.n * self.c * plane_out];
        let out_ptr = SendPtr(output.as_mut_ptr());
        self.for_each_item(
            || self.plane.scratch(self.group, false),
            |scratch, item| {
                let (ch, images) = self.item(item);
                let inputs = images.clone().map(|j| &input[self.plane_of(j, ch, self.h * self.w)]);
                self.plane.gather(inputs, scratch);
                self.plane.convolve(&weight[ch * k * k..(ch + 1) * k * k], bias[ch], scratch);
                for (i, j) in images.enumerate() {
                    // SAFETY: plane (j, ch) of the output is written by this item only, and `output` outlives the loop.
                    let out = unsafe { out_ptr.slice(self.plane_of(j, ch, plane_out).start, plane_out) };
                    self.plane.write(i, scratch, out, relu6);
                }
            },
        );
        output
    }

    /// Gradients of [`Depthwise::forward`] without bias or ReLU6 for `grad` `[n, c, out_h, out_w]`: the input's
    /// `[n, c, h, w]` and the weight's `[c, 1, k, k]`. On the same phase planes as the forward, tap (ky, kx) is
    /// `dW += dot(grad, Q[offset..])` and `dQ[offset..] += w * grad` over the whole stack (the grad laid out like the
    /// accumulator, zero in its slack), and dQ scatters back to the input by the forward's gather, reversed.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn backward(&self, input: &[f32], weight: &[f32], grad: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (k, plane_in, plane_out) = (self.k, self.h * self.w, self.out_h * self.out_w);
        let mut dx = vec![0.0f32; input.len()];
        let dx_ptr = SendPtr(dx.as_mut_ptr());
        let partial = self.for_each_item(
            || self.plane.scratch(self.group, true),
            |scratch, item| {
                let (ch, images) = self.item(item);
                self.plane.gather(images.clone().map(|j| &input[self.plane_of(j, ch, plane_in)]), scratch);
                self.plane.load_grad(images.clone().map(|j| &grad[self.plane_of(j, ch, plane_out)]), scratch);
                let dw = self.plane.backward_taps(&weight[ch * k * k..(ch + 1) * k * k], scratch);
                for (i, j) in images.enumerate() {
                    // SAFETY: plane (j, ch) of dx is written by this item only, and `dx` outlives the loop.
                    let out = unsafe { dx_ptr.slice(self.plane_of(j, ch, plane_in).start, plane_in) };
                    self.plane.scatter(i, scratch, out);
                }
                (ch, dw)
            },
        );
        let mut dweight = vec![0.0f32; self.c * k * k];
        for (ch, dw) in partial {
            for (d, v) in dweight[ch * k * k..(ch + 1) * k * k].iter_mut().zip(dw) {
                *d += v;
            }
        }
        (dx, dweight)
    }
}

/// Geometry of one (image, channel) plane, in the "phase plane" form that makes every tap one long contiguous
/// loop: the zero-padded input split by stride phase, `Q_ab[r][q] = padded[s*r + a][s*q + b]` (a, b < s; one
/// phase for stride 1, four for stride 2), each `q_h x q_w`. Output (oy, ox) then takes tap (ky, kx) from
/// `Q_(ky mod s, kx mod s)[oy + ky div s][ox + kx div s]`: over a row-major accumulator of width `q_w` that is one
/// slice `acc[i] += tap * Q[i + offset]` for the whole plane, which vectorises, where row by row the loops would
/// be 7 to 52 long (the late stages' planes are 6x7 and 3x4). The `q_w - out_w` columns of slack per row are
/// computed and dropped.
struct Plane {
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    k: usize,
    stride: usize,
    pad_top: usize,
    pad_left: usize,
    q_h: usize,
    q_w: usize,
}

/// Per-thread buffers: the phase planes of a stack of images and its accumulator (in training's backward, the
/// output gradient), and for the backward the phase planes' gradient.
struct Scratch {
    phases: Vec<f32>,
    acc: Vec<f32>,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    dphases: Vec<f32>,
    /// Images in the stack of the last `gather`.
    images: usize,
}

impl Plane {
    /// An `in_h x in_w` plane under a `k x k` kernel with stride 1 or 2 and TF "SAME" padding.
    fn same(in_h: usize, in_w: usize, k: usize, stride: usize) -> Self {
        assert!(stride == 1 || stride == 2, "strides 1 and 2 only");
        let (pad_top, _, out_h) = same_padding(in_h, k, stride);
        let (pad_left, _, out_w) = same_padding(in_w, k, stride);
        let reach = (k - 1) / stride;
        // One row more than the taps reach: the slack columns of the last output row read into it.
        Plane { in_h, in_w, out_h, out_w, k, stride, pad_top, pad_left, q_h: out_h + reach + 1, q_w: out_w + reach }
    }

    /// How many of `n` images one work item stacks: about 16 K floats per phase, so that the stack stays in
    /// L1/L2 while its taps are taken.
    fn stack(&self, n: usize) -> usize {
        (16_384 / (self.q_h * self.q_w)).clamp(1, n.max(1))
    }

    /// Buffers for a stack of `group` images (`backward`: with the phase planes' gradient too).
    fn scratch(&self, group: usize, backward: bool) -> Scratch {
        let stack = group * self.q_h * self.q_w;
        let phases = self.stride * self.stride * stack;
        Scratch { phases: vec![0.0; phases], acc: vec![0.0; stack], dphases: vec![0.0; if backward { phases } else { 0 }], images: 0 }
    }

    /// Columns q of phase column `b` that land in the input (x = s*q + b - pad_left in [0, in_w)): (q0, x0, count).
    fn columns(&self, b: usize) -> (usize, usize, usize) {
        let s = self.stride;
        let q0 = self.pad_left.saturating_sub(b).div_ceil(s);
        let x0 = s * q0 + b - self.pad_left;
        let count = if x0 < self.in_w { ((self.in_w - x0).div_ceil(s)).min(self.q_w - q0) } else { 0 };
        (q0, x0, count)
    }

    /// The input row of phase row `r` of phase `a`, if inside the input.
    fn input_row(&self, a: usize, r: usize) -> Option<usize> {
        (self.stride * r + a).checked_sub(self.pad_top).filter(|&y| y < self.in_h)
    }

    /// Length of the stacked slice every tap covers: the taps of the last image's last row read up to (k-1)/s
    /// rows and columns past its output rows, which its own plane holds (q_h has one row beyond the reach); so the
    /// slice ends `reach` short of the stack.
    fn tap_len(&self, images: usize) -> usize {
        let reach = (self.k - 1) / self.stride;
        images * self.q_h * self.q_w - reach * self.q_w - reach
    }

    /// The phase planes of a stack of input planes (one channel of several images): padded input gathered by
    /// phase; outside the input, zeros.
    fn gather<'a>(&self, inputs: impl Iterator<Item = &'a [f32]>, scratch: &mut Scratch) {
        let (s, q_w) = (self.stride, self.q_w);
        let image_len = self.q_h * q_w;
        let stack_len = scratch.acc.len();
        let mut images = 0;
        for (i, input) in inputs.enumerate() {
            images += 1;
            for a in 0..s {
                for b in 0..s {
                    let phase = &mut scratch.phases[(a * s + b) * stack_len + i * image_len..][..image_len];
                    let (q0, x0, count) = self.columns(b);
                    for (r, row) in phase.chunks_mut(q_w).enumerate() {
                        row.fill(0.0);
                        let Some(y) = self.input_row(a, r) else { continue };
                        let line = &input[y * self.in_w..(y + 1) * self.in_w];
                        let dst = &mut row[q0..q0 + count];
                        if s == 1 {
                            dst.copy_from_slice(&line[x0..x0 + count]);
                        } else {
                            for (d, v) in dst.iter_mut().zip(line[x0..].iter().step_by(s)) {
                                *d = *v;
                            }
                        }
                    }
                }
            }
        }
        scratch.images = images;
    }

    /// Convolve the gathered stack into `scratch.acc`, bias and taps; image i's output rows are rows
    /// `i * q_h ..` of the accumulator (the rest of its `q_h` rows are slack).
    fn convolve(&self, weight: &[f32], bias: f32, scratch: &mut Scratch) {
        let len = self.tap_len(scratch.images);
        scratch.acc[..len].fill(bias);
        self.accumulate_taps(&scratch.phases, weight, &mut scratch.acc, scratch.images);
    }

    /// `acc += taps of weight (k x k) over phases`, for a stack of `images` gathered into `phases` (a stack's
    /// phase planes, as `gather` lays them out; `acc` is the stack's accumulator, of the stack's length).
    fn accumulate_taps(&self, phases: &[f32], weight: &[f32], acc: &mut [f32], images: usize) {
        let (s, k, q_w) = (self.stride, self.k, self.q_w);
        let stack_len = acc.len();
        let len = self.tap_len(images);
        let acc = &mut acc[..len];
        for ky in 0..k {
            for kx in 0..k {
                let phase = &phases[((ky % s) * s + kx % s) * stack_len..][..stack_len];
                let offset = (ky / s) * q_w + kx / s;
                accumulate(acc, &phase[offset..offset + len], weight[ky * k + kx]);
            }
        }
    }

    /// Image i of the last `convolve`: its output rows of the accumulator, clamped to [0, 6] if `relu6`, into `out`.
    fn write(&self, i: usize, scratch: &Scratch, out: &mut [f32], relu6: bool) {
        debug_assert!(i < scratch.images);
        let rows = &scratch.acc[i * self.q_h * self.q_w..];
        for (row, acc_row) in out.chunks_mut(self.out_w).zip(rows.chunks(self.q_w)) {
            for (o, a) in row.iter_mut().zip(acc_row) {
                *o = if relu6 { a.clamp(0.0, 6.0) } else { *a };
            }
        }
    }

    /// The output gradient of a stack into the accumulator's layout, zero in its slack rows and columns (so that
    /// they add nothing to either gradient).
    #[cfg(not(target_arch = "wasm32"))]
    fn load_grad<'a>(&self, grads: impl Iterator<Item = &'a [f32]>, scratch: &mut Scratch) {
        scratch.acc.fill(0.0);
        for (i, grad) in grads.enumerate() {
            let rows = &mut scratch.acc[i * self.q_h * self.q_w..];
            for (acc_row, row) in rows.chunks_mut(self.q_w).zip(grad.chunks(self.out_w)) {
                acc_row[..self.out_w].copy_from_slice(row);
            }
        }
    }

    /// Per tap: the weight gradient `dot(grad, Q[offset..])` (returned, k*k) and `dQ[offset..] += w * grad`.
    #[cfg(not(target_arch = "wasm32"))]
    fn backward_taps(&self, weight: &[f32], scratch: &mut Scratch) -> Vec<f32> {
        let (s, k, q_w) = (self.stride, self.k, self.q_w);
        let stack_len = scratch.acc.len();
        let len = self.tap_len(scratch.images);
        scratch.dphases.fill(0.0);
        let grad = &scratch.acc[..len];
        let mut dw = vec![0.0f32; k * k];
        for ky in 0..k {
            for kx in 0..k {
                let p = ((ky % s) * s + kx % s) * stack_len;
                let offset = (ky / s) * q_w + kx / s;
                dw[ky * k + kx] = dot(grad, &scratch.phases[p + offset..p + offset + len]);
                accumulate(&mut scratch.dphases[p + offset..p + offset + len], grad, weight[ky * k + kx]);
            }
        }
        dw
    }

    /// Image i's input gradient from the phase planes' gradient: the gather reversed (each input pixel sits in
    /// exactly one phase position; pixels no tap reaches keep their zero).
    #[cfg(not(target_arch = "wasm32"))]
    fn scatter(&self, i: usize, scratch: &Scratch, out: &mut [f32]) {
        let (s, q_w) = (self.stride, self.q_w);
        let image_len = self.q_h * q_w;
        let stack_len = scratch.acc.len();
        out.fill(0.0);
        for a in 0..s {
            for b in 0..s {
                let phase = &scratch.dphases[(a * s + b) * stack_len + i * image_len..][..image_len];
                let (q0, x0, count) = self.columns(b);
                for (r, row) in phase.chunks(q_w).enumerate() {
                    let Some(y) = self.input_row(a, r) else { continue };
                    let line = &mut out[y * self.in_w..(y + 1) * self.in_w];
                    for (d, v) in line[x0..].iter_mut().step_by(s).zip(&row[q0..q0 + count]) {
                        *d = *v;
                    }
                }
            }
        }
    }
}

/// `acc += tap * src`, element-wise: the loop the whole kernel is made of. On x86-64 it is also compiled for
/// AVX2 and picked at run time (the default target has SSE2 only); wasm gets SIMD128 from the build flags.
#[inline]
fn accumulate(acc: &mut [f32], src: &[f32], tap: f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { accumulate_avx2(acc, src, tap) };
            return;
        }
    }
    accumulate_plain(acc, src, tap);
}

#[inline(always)]
fn accumulate_plain(acc: &mut [f32], src: &[f32], tap: f32) {
    for (a, v) in acc.iter_mut().zip(src) {
        *a += tap * v;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_avx2(acc: &mut [f32], src: &[f32], tap: f32) {
    accumulate_plain(acc, src, tap);
}

/// `sum(a * b)` in eight f32 lanes (so that it vectorises without reassociation), AVX2 picked as `accumulate`.
#[cfg(not(target_arch = "wasm32"))]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[inline(always)]
    fn plain(a: &[f32], b: &[f32]) -> f32 {
        let mut lanes = [0f32; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
        for (x, y) in ca.zip(cb) {
            for l in 0..8 {
                lanes[l] += x[l] * y[l];
            }
        }
        lanes.iter().sum::<f32>() + tail
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(a: &[f32], b: &[f32]) -> f32 {
            plain(a, b)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2(a, b) };
        }
    }
    plain(a, b)
}
