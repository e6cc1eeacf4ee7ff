//! Inference on the CPU backend: depthwise convolution, bias and ReLU6 in one pass (issue 13, docs/profile.md).
//!
//! The profile of the folded network on Burn's flex backend showed the 16 depthwise convolutions and the 33
//! ReLU6 passes taking 65 % of a pass for 7 % of its multiply-accumulates: flex pads an asymmetrically padded
//! input (TF "SAME", stride 2) into a copy, adds the bias in a second pass over the output, and ReLU6 walks the
//! output a third time. Here each output row starts from the bias, takes every kernel tap while it is in L1, and
//! is clamped before it is left; the padding is skipped analytically, never materialised; stride 2 reads
//! de-interleaved (even/odd) input rows so that the inner loop is contiguous and vectorises (SIMD128 in wasm).
//!
//! Used only where it is exact to use it: a folded (inference-only) network on the flex device without
//! autodiff. Everywhere else (training, WebGPU, CUDA) the block runs Burn's own operations.

use core::sync::atomic::{AtomicBool, Ordering};

use burn::backend::DispatchDevice;
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, TensorData};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Switch the fused CPU kernels off (or on again) for the whole process: for benchmarks and tests that compare
/// them with Burn's own operations (`bench_native profile --unfused`, the browser's `setFusedCpuKernels`).
pub fn set_fused_cpu_kernels(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether `x` is an f32 tensor on the plain flex device (CPU, no autodiff), where the fused kernels apply (the
/// 1x1 ones read flex's f32 buffers in place), and the fused kernels are on.
pub fn on_cpu_inference_device(x: &Tensor<4>) -> bool {
    let device = x.device();
    ENABLED.load(Ordering::Relaxed)
        && x.dtype() == burn::tensor::DType::F32
        && matches!(device.as_dispatch(), DispatchDevice::Flex(_))
        && !device.is_autodiff()
}

/// TensorFlow "SAME" padding of one dimension: (before, after), as Burn's `PaddingConfig2d::Same` computes it.
fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2, out)
}

/// A folded convolution's weights (row-major `[out, in/groups, k, k]`) and its bias (zeros if it has none), as f32.
/// Copied out at each call: the weights are shared with the module, so they cannot be read in place.
fn weight_and_bias(conv: &Conv2d) -> (Vec<f32>, Vec<f32>) {
    let weight = conv.weight.val();
    let [out, ..] = weight.dims();
    let weight = weight.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 weights");
    let bias = match &conv.bias {
        Some(b) => b.val().into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 bias"),
        None => vec![0.0; out],
    };
    (weight, bias)
}

/// `relu6(depthwise_conv(x) + bias)` for a folded depthwise convolution with TF "SAME" padding.
pub fn depthwise_relu6(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    let device = x.device();
    let [n, c, h, w] = x.dims();
    let [_, _, k, kw] = conv.weight.val().dims();
    debug_assert_eq!(k, kw, "square kernels only");
    let dw = Depthwise::new([n, c, h, w], k, conv.stride[0]);
    let input = x.into_data().convert::<f32>();
    let (weight, bias) = weight_and_bias(conv);
    let output = dw.forward(input.as_slice().expect("f32 after convert"), &weight, &bias, true);
    Tensor::from_data(TensorData::new(output, dw.output_shape()), &device)
}

/// Items `0..count`, each with a per-thread state from `init`: over every core natively, in order in wasm.
fn par_items<S, T: Send>(count: usize, init: impl Fn() -> S + Sync + Send, run: impl Fn(&mut S, usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().map_init(init, run).collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut state = init();
        (0..count).map(|item| run(&mut state, item)).collect()
    }
}

/// Output channels per work item of [`conv_relu6`] (its input planes are gathered once per item).
const CONV_CHANNEL_BLOCK: usize = 8;

/// `relu6(conv(x) + bias)` for a folded dense convolution with few input channels and TF "SAME" padding: the
/// stem (3 -> 32 channels, 3x3, stride 2). On the depthwise kernel's phase planes: each input channel of a stack
/// of images is gathered once, then every output channel takes `in x k x k` contiguous taps over the stack.
/// Burn's (im2col + gemm with K = 27, then the bias pass, then ReLU6) ran at 1.1-1.4 GMAC/s in wasm, 4-5 natively.
pub fn conv_relu6(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    let device = x.device();
    let [n, ci, h, w] = x.dims();
    let [co, wci, k, kw] = conv.weight.val().dims();
    assert!(wci == ci && k == kw, "a dense convolution with a square kernel");
    let plane = Plane::same(h, w, k, conv.stride[0]);
    let (out_h, out_w) = (plane.out_h, plane.out_w);
    let group = plane.stack(n);
    let (groups, blocks) = (n.div_ceil(group), co.div_ceil(CONV_CHANNEL_BLOCK));
    let input = x.into_data().convert::<f32>();
    let input: &[f32] = input.as_slice().expect("f32 after convert");
    let (weight, bias) = weight_and_bias(conv);
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
    Tensor::from_data(TensorData::new(output, [n, co, out_h, out_w]), &device)
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

/// An output buffer shared by parallel work items, each writing its own planes (here and in train_kernels.rs).
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);
// SAFETY: every user has its items write disjoint ranges (see `Depthwise`, `conv_relu6`, the batch norm).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// `len` values from `offset` (a method, so that closures capture the whole `Sync` wrapper).
    /// SAFETY: the caller stays inside the buffer, which outlives the slice, and is the only writer of that range.
    pub(super) unsafe fn slice(self, offset: usize, len: usize) -> &'static mut [f32] {
        unsafe { core::slice::from_raw_parts_mut(self.0.add(offset), len) }
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

// ================================================================================================================
// Pointwise (1x1) convolution, bias and optional ReLU6. Natively one gemm per image with the bias and ReLU6 on
// the plane while it is in cache (native_kernels.rs); in wasm the SIMD128 tiles below: there Burn's gemm ran
// the 32 pointwise convolutions at 2.0 GMAC/s, 70 % of a pass (docs/profile.md).
// ================================================================================================================

/// `relu6?(conv1x1(x) + bias)` for a folded pointwise convolution (stride 1, no padding).
pub fn pointwise(x: Tensor<4>, conv: &Conv2d, relu6: bool) -> Tensor<4> {
    super::flex_kernels::pointwise(x, conv, relu6)
}

/// The wasm tiles on copies of the tensors: natively for the unit test (it keeps the tiling tested in every CI
/// run); the page reaches [`pointwise_image`] through flex_kernels.rs, without the copies.
#[cfg(test)]
fn pointwise_tiled(x: Tensor<4>, conv: &Conv2d, relu6: bool) -> Tensor<4> {
    let device = x.device();
    let [n, ci, h, w] = x.dims();
    let [co, ..] = conv.weight.val().dims();
    let input = x.into_data().convert::<f32>();
    let input: &[f32] = input.as_slice().expect("f32 after convert");
    let (weight, bias) = weight_and_bias(conv);
    let hw = h * w;
    let mut output = vec![0.0f32; n * co * hw];
    for (image, out) in input.chunks(ci * hw).zip(output.chunks_mut(co * hw)) {
        pointwise_image(image, &weight, &bias, ci, co, hw, relu6, out);
    }
    Tensor::from_data(TensorData::new(output, [n, co, h, w]), &device)
}

/// One image: `out[o][p] = bias[o] + sum_c weight[o][c] * x[c][p]`, clamped to [0, 6] if `relu6`. Tiles of
/// 4 output channels x 8 pixels (eight 4-lane accumulators); the pixel panel `x[..][p..p + 8]` stays in L1 while
/// every output channel is swept over it. Summation over `c` in order, in every path.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(not(target_arch = "wasm32"), not(test)), allow(dead_code))]
pub(super) fn pointwise_image(x: &[f32], weight: &[f32], bias: &[f32], ci: usize, co: usize, hw: usize, relu6: bool, out: &mut [f32]) {
    let finish = |v: f32| if relu6 { v.clamp(0.0, 6.0) } else { v };
    let mut p = 0;
    while p < hw {
        // 8-pixel tiles, then one of 4, then single pixels (the late stages' planes are 12 and 42 pixels).
        let width = match hw - p {
            r if r >= 8 => 8,
            r if r >= 4 => 4,
            r => r,
        };
        let mut o = 0;
        while o < co {
            let rows = (co - o).min(4);
            let mut acc = [[0.0f32; 8]; 4];
            if rows == 4 && width == 8 {
                tile_4x8(&x[p..], hw, &weight[o * ci..(o + 4) * ci], ci, &mut acc);
            } else if rows == 4 && width == 4 {
                tile_4x4(&x[p..], hw, &weight[o * ci..(o + 4) * ci], ci, &mut acc);
            } else {
                for (r, acc_row) in acc.iter_mut().enumerate().take(rows) {
                    let wr = &weight[(o + r) * ci..(o + r + 1) * ci];
                    for (c, &wv) in wr.iter().enumerate() {
                        let xr = &x[c * hw + p..c * hw + p + width];
                        for (a, &v) in acc_row.iter_mut().zip(xr) {
                            *a += wv * v;
                        }
                    }
                }
            }
            for (r, acc_row) in acc.iter().enumerate().take(rows) {
                let dst = &mut out[(o + r) * hw + p..(o + r) * hw + p + width];
                for (d, a) in dst.iter_mut().zip(acc_row) {
                    *d = finish(bias[o + r] + a);
                }
            }
            o += rows;
        }
        p += width;
    }
}

/// The 4x8 tile: `acc[r][j] = sum_c w[r][c] * x[c * hw + j]` (x starts at the tile's first pixel).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn tile_4x8(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    use core::arch::wasm32::*;
    assert!(x.len() >= (ci - 1) * hw + 8 && w.len() >= 4 * ci);
    let z = f32x4_splat(0.0);
    let (mut a00, mut a01, mut a10, mut a11, mut a20, mut a21, mut a30, mut a31) = (z, z, z, z, z, z, z, z);
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    for c in 0..ci {
        // SAFETY: c * hw + 8 <= x.len() and 3 * ci + c < w.len() (asserted above); unaligned loads are allowed.
        unsafe {
            let x0 = v128_load(xp.add(c * hw) as *const v128);
            let x1 = v128_load(xp.add(c * hw + 4) as *const v128);
            let w0 = f32x4_splat(*wp.add(c));
            let w1 = f32x4_splat(*wp.add(ci + c));
            let w2 = f32x4_splat(*wp.add(2 * ci + c));
            let w3 = f32x4_splat(*wp.add(3 * ci + c));
            a00 = f32x4_add(a00, f32x4_mul(w0, x0));
            a01 = f32x4_add(a01, f32x4_mul(w0, x1));
            a10 = f32x4_add(a10, f32x4_mul(w1, x0));
            a11 = f32x4_add(a11, f32x4_mul(w1, x1));
            a20 = f32x4_add(a20, f32x4_mul(w2, x0));
            a21 = f32x4_add(a21, f32x4_mul(w2, x1));
            a30 = f32x4_add(a30, f32x4_mul(w3, x0));
            a31 = f32x4_add(a31, f32x4_mul(w3, x1));
        }
    }
    for (r, (lo, hi)) in [(a00, a01), (a10, a11), (a20, a21), (a30, a31)].into_iter().enumerate() {
        // SAFETY: acc[r] holds 8 floats.
        unsafe {
            v128_store(acc[r].as_mut_ptr() as *mut v128, lo);
            v128_store(acc[r].as_mut_ptr().add(4) as *mut v128, hi);
        }
    }
}

/// The 4x4 tile: the first four columns of `acc` as in [`tile_4x8`].
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn tile_4x4(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    use core::arch::wasm32::*;
    assert!(x.len() >= (ci - 1) * hw + 4 && w.len() >= 4 * ci);
    let z = f32x4_splat(0.0);
    let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    for c in 0..ci {
        // SAFETY: c * hw + 4 <= x.len() and 3 * ci + c < w.len() (asserted above).
        unsafe {
            let x0 = v128_load(xp.add(c * hw) as *const v128);
            a0 = f32x4_add(a0, f32x4_mul(f32x4_splat(*wp.add(c)), x0));
            a1 = f32x4_add(a1, f32x4_mul(f32x4_splat(*wp.add(ci + c)), x0));
            a2 = f32x4_add(a2, f32x4_mul(f32x4_splat(*wp.add(2 * ci + c)), x0));
            a3 = f32x4_add(a3, f32x4_mul(f32x4_splat(*wp.add(3 * ci + c)), x0));
        }
    }
    for (r, v) in [a0, a1, a2, a3].into_iter().enumerate() {
        // SAFETY: acc[r] holds 8 floats.
        unsafe { v128_store(acc[r].as_mut_ptr() as *mut v128, v) };
    }
}

/// The 4x4 tile in plain Rust (see the 4x8 one).
#[cfg(not(target_arch = "wasm32"))]
fn tile_4x4(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    tile_plain::<4>(x, hw, w, ci, acc);
}

/// The 4x8 tile in plain Rust, the same sums in the same order (the native tests check the tiling with it).
#[cfg(not(target_arch = "wasm32"))]
fn tile_4x8(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    tile_plain::<8>(x, hw, w, ci, acc);
}

/// 4 output channels x `P` pixels: `acc[r][..P] += w[r][c] * x[c][..P]` over `c` in order.
#[cfg(not(target_arch = "wasm32"))]
fn tile_plain<const P: usize>(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    for c in 0..ci {
        let xr = &x[c * hw..c * hw + P];
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let wv = w[r * ci + c];
            for (a, &v) in acc_row[..P].iter_mut().zip(xr) {
                *a += wv * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::activation::relu6;
    use burn::tensor::{Device, Distribution};

    /// The fused kernel against Burn's conv2d + ReLU6 for every kernel/stride of Lite0, odd and even sizes
    /// (the asymmetric padding of stride 2 on even inputs included), values crossing both clamp edges.
    #[test]
    fn fused_depthwise_matches_burn() {
        let device = Device::flex();
        device.seed(11);
        let (mut at_zero, mut at_six) = (0, 0);
        for (k, stride) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
            for (h, w) in [(7, 9), (8, 10), (11, 13), (1, 1), (2, 5)] {
                let channels = 6;
                let mut conv = Conv2dConfig::new([channels, channels], [k, k])
                    .with_stride([stride, stride])
                    .with_groups(channels)
                    .with_padding(PaddingConfig2d::Same)
                    .init(&device);
                conv.weight = burn::module::Param::from_tensor(Tensor::random(
                    [channels, 1, k, k],
                    Distribution::Uniform(-1.5, 1.5),
                    &device,
                ));
                let x = Tensor::<4>::random([2, channels, h, w], Distribution::Uniform(-3.0, 3.0), &device);
                let want = relu6(conv.forward(x.clone())).into_data().try_into_vec::<f32>().unwrap();
                let got = depthwise_relu6(x, &conv);
                let got_dims = got.dims();
                let got = got.into_data().try_into_vec::<f32>().unwrap();
                assert_eq!(got_dims, [2, channels, h.div_ceil(stride), w.div_ceil(stride)], "k{k} s{stride} {h}x{w}");
                let max = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(max < 1e-5, "k{k} s{stride} {h}x{w}: max |diff| {max}");
                at_zero += got.iter().filter(|&&v| v == 0.0).count();
                at_six += got.iter().filter(|&&v| v == 6.0).count();
            }
        }
        assert!(at_zero > 100 && at_six > 100, "both clamps reached: {at_zero} at 0, {at_six} at 6");
    }

    /// The fused dense (stem) kernel against Burn's conv2d + ReLU6: the stem's shape with enough images for two
    /// stacks, odd sizes, stride 1 and 2, kernel 3 and 5, a partial block of output channels.
    #[test]
    fn fused_conv_matches_burn() {
        let device = Device::flex();
        for (n, ci, co, k, stride, h, w) in
            [(8, 3, 32, 3, 2, 88, 104), (2, 3, 10, 3, 2, 7, 9), (2, 2, 9, 5, 1, 6, 5), (3, 4, 8, 3, 1, 1, 2)]
        {
            let conv = Conv2dConfig::new([ci, co], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Same)
                .init(&device);
            let x = Tensor::<4>::random([n, ci, h, w], Distribution::Uniform(-3.0, 3.0), &device);
            let want = relu6(conv.forward(x.clone())).into_data().try_into_vec::<f32>().unwrap();
            let got = conv_relu6(x, &conv);
            assert_eq!(got.dims(), [n, co, h.div_ceil(stride), w.div_ceil(stride)]);
            let got = got.into_data().try_into_vec::<f32>().unwrap();
            let max = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(max < 1e-5, "{n}x{ci}->{co} k{k} s{stride} {h}x{w}: max |diff| {max}");
            assert!(got.iter().any(|&v| v > 0.0 && v < 6.0), "the outputs are not all clamped");
        }
    }

    /// The pointwise kernel against Burn's conv2d (+ ReLU6) on shapes with and without whole 4x8 tiles.
    #[test]
    fn pointwise_matches_burn() {
        let device = Device::flex();
        device.seed(12);
        for (ci, co, h, w) in [(16, 96, 11, 13), (24, 8, 2, 4), (7, 6, 3, 3), (40, 12, 1, 1), (20, 8, 3, 4), (9, 4, 6, 7)] {
            let conv = Conv2dConfig::new([ci, co], [1, 1]).init(&device);
            let x = Tensor::<4>::random([2, ci, h, w], Distribution::Uniform(-2.0, 2.0), &device);
            for relu in [false, true] {
                let plain = conv.forward(x.clone());
                let want = if relu { relu6(plain) } else { plain }.into_data().try_into_vec::<f32>().unwrap();
                // The kernel this target uses, and the wasm tiles (natively too, so that CI tests them).
                for (name, got) in [("pointwise", pointwise(x.clone(), &conv, relu)), ("tiled", pointwise_tiled(x.clone(), &conv, relu))] {
                    assert_eq!(got.dims(), [2, co, h, w]);
                    let got = got.into_data().try_into_vec::<f32>().unwrap();
                    let max = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                    assert!(max < 1e-4, "{name} {ci}->{co} {h}x{w} relu6 {relu}: max |diff| {max}");
                }
            }
        }
    }


    /// (Training never folds its batch norms, so it never reaches the fused path anyway.)
    #[test]
    fn the_flex_device_takes_the_fused_path() {
        let x = Tensor::<4>::zeros([1, 1, 2, 2], &Device::flex());
        assert!(on_cpu_inference_device(&x));
        // Autodiff (training) is compiled natively only: the wasm build has no autodiff device to try.
        #[cfg(not(target_arch = "wasm32"))]
        assert!(!on_cpu_inference_device(&Tensor::<4>::zeros([1, 1, 2, 2], &Device::flex().autodiff())));
    }
}
