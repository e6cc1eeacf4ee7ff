//! Training on the CPU backend: three operations of the backbone with their own backward, registered with Burn's
//! autodiff (issue 13, docs/speed.md section 4): the batch norm (batch statistics) with the ReLU6 after it, the
//! depthwise convolution, and the 1x1 convolution.
//!
//! The layer-by-layer training profile (`bench_native train-profile`) put Burn 0.22's flex + autodiff at 4.2-4.7x
//! PyTorch for the training-mode batch norm and 11-19x for ReLU6: the batch norm is Burn's generic composition
//! (a transposed copy for each statistic, then four broadcast passes; backward a dozen more) and ReLU6 is
//! `clamp`, i.e. two comparisons and two masked fills forward and two masked fills backward, each a
//! single-threaded pass over the activation. Here the forward is two passes per channel (statistics, then
//! normalise + clamp) and the backward two (the two per-channel sums, then the input gradient), every channel on
//! its own core. The depthwise (2.7x) and 1x1 (6.3x) backward went through Burn's general convolution backward;
//! here the depthwise one runs on the inference kernel's phase planes (phase_planes.rs) and the 1x1 one is gemm calls on
//! flex's buffers.
//!
//! Each is a backend extension: the Flex implementation holds the kernels, the Autodiff one records the operation
//! and its backward. Used only on the autodiff flex device in f32 (native training on the CPU); CUDA and WebGPU
//! keep Burn's operations, which are fused kernels there already. `set_train_kernels(false)` switches back to
//! Burn's for comparison.

use core::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::flex_kernels::values;
use super::parallel::SendPtr;
use super::phase_planes::Depthwise;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Switch these kernels off (or on again) for the whole process: benchmarks and tests compare them with Burn's.
pub fn set_train_kernels(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether these kernels are switched on (see [`set_train_kernels`]).
pub fn train_kernels_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether `x` is an f32 tensor on the autodiff flex device, where these kernels apply, and they are on.
pub fn on_cpu_training_device<const D: usize>(x: &Tensor<D>) -> bool {
    let device = x.device();
    ENABLED.load(Ordering::Relaxed)
        && x.dtype() == DType::F32
        && device.is_autodiff()
        && matches!(device.inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// `relu6?(batch_norm(x))` in training mode (statistics of this batch), updating the layer's running statistics
/// as Burn's `BatchNorm::forward` does. Only on [`on_cpu_training_device`].
pub fn batch_norm_train(bn: &BatchNorm, x: Tensor<4>, relu6: bool) -> Tensor<4> {
    let device = x.device();
    let (output, mean, variance) = <Dispatch as TrainKernels>::batch_norm_train_relu6(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
        relu6,
    );
    let (mean, variance) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(variance));
    // Burn's running-statistics update (burn-nn BatchNorm::forward_train), on the detached batch statistics.
    let m = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(running_mean.mul_scalar(1.0 - m).add(mean.detach().mul_scalar(m)).detach());
    bn.running_var.update(running_var.mul_scalar(1.0 - m).add(variance.detach().mul_scalar(m)).detach());
    Tensor::from_dispatch(output)
}

/// A 1x1 convolution (stride 1, no padding) as one operation with its own backward, all gemm calls on flex's
/// buffers: forward one product per image (as inference), backward `dX = W^T dY` per image and `dW = sum dY X^T`
/// (per image into a partial per thread for wide planes; for the small late planes the images side by side, one
/// product over N*H*W, since K = 12 per image would waste the gemm). Burn's convolution backward was 6.3x
/// PyTorch's, and even as Burn matmuls the weight gradient was N products summed after.
pub fn pointwise_conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let y = Tensor::from_dispatch(<Dispatch as TrainKernels>::pointwise_conv(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
    ));
    match &conv.bias {
        Some(b) => {
            let [c] = b.dims();
            y + b.val().reshape([1, c, 1, 1])
        }
        None => y,
    }
}

/// Planes of fewer pixels have their weight gradient computed with the images side by side.
const PER_IMAGE_PIXELS: usize = 100;

/// A depthwise convolution (TF "SAME" padding, as the backbone's) by the fused kernels' phase planes, with a
/// backward on the same planes: Burn's depthwise backward was 2.7x PyTorch's. Only on [`on_cpu_training_device`].
pub fn depthwise_conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let y = Tensor::from_dispatch(<Dispatch as TrainKernels>::depthwise_conv(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        conv.stride[0],
    ));
    match &conv.bias {
        Some(b) => {
            let [c] = b.dims();
            y + b.val().reshape([1, c, 1, 1])
        }
        None => y,
    }
}

/// The training-time operations these kernels implement, for the flex backend and its autodiff wrapper.
#[backend_extension(Flex, Autodiff)]
pub trait TrainKernels: Backend {
    /// Training-mode batch norm of `x [N, C, ...]` with optional ReLU6: (output, batch mean, biased variance).
    fn batch_norm_train_relu6(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu6: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// 1x1 convolution (stride 1, no padding, no bias) of `x [N, Ci, H, W]` with `weight [Co, Ci, 1, 1]`.
    fn pointwise_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Gradients of [`TrainKernels::pointwise_conv`] for `x` (if `input_grad`, else an empty tensor) and `weight`.
    fn pointwise_conv_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        input_grad: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// Depthwise convolution (groups = channels, square kernel, stride 1 or 2, TF "SAME" padding, no bias) of
    /// `x [N, C, H, W]` with `weight [C, 1, k, k]`.
    fn depthwise_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>, stride: usize) -> FloatTensor<Self>;

    /// Gradients of [`TrainKernels::depthwise_conv`] for `x` and `weight`.
    fn depthwise_conv_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients of [`TrainKernels::batch_norm_train_relu6`] for `x`, `gamma` and `beta`.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_train_relu6_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        relu6: bool,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

// ---------------------------------------------------------------------------------------------------------------
// flex: the kernels
// ---------------------------------------------------------------------------------------------------------------

fn flex(values: Vec<f32>, shape: burn::tensor::Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// `[a, b, hw]` -> `[b, a, hw]`: with (a, b) = (images, channels) the images of each channel side by side, and
/// with (channels, images) back again.
fn swap_outer(v: &[f32], a: usize, b: usize, hw: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for i in 0..a {
        for j in 0..b {
            out[(j * a + i) * hw..(j * a + i + 1) * hw].copy_from_slice(&v[(i * b + j) * hw..(i * b + j + 1) * hw]);
        }
    }
    out
}

/// `([N, Ci, H, W], Co)` of a 1x1 convolution's input and weight.
fn pointwise_shapes(x: &FlexTensor, weight: &FlexTensor) -> ([usize; 4], usize) {
    let [n, ci, h, w] = x.shape().dims::<4>();
    let [co, wci, kh, kw] = weight.shape().dims::<4>();
    assert!(wci == ci && kh == 1 && kw == 1, "1x1 weight {:?} for input {:?}", weight.shape(), x.shape());
    ([n, ci, h, w], co)
}

/// `dst [m, n] (+)= lhs [m, k] x rhs [k, n]` in f32, `dst` row-major with row stride `dst_rs`; `lhs` and `rhs`
/// given by their (column, row) strides. `accumulate` adds to `dst`; `parallel` lets gemm use every core.
/// SAFETY: every index the strides reach is inside its buffer, and `dst` is not aliased.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f32(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const f32,
    [lhs_cs, lhs_rs]: [isize; 2],
    rhs: *const f32,
    [rhs_cs, rhs_rs]: [isize; 2],
    parallel: bool,
) {
    let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    let alpha = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: as the caller promises.
    unsafe {
        gemm::gemm(m, n, k, dst, 1, dst_rs as isize, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, alpha, 1.0, false, false, false, parallelism)
    }
}

/// The fused kernels' depthwise geometry for `x [N, C, H, W]` and `weight [C, 1, k, k]`.
fn depthwise_geometry(x: &FlexTensor, weight: &FlexTensor, stride: usize) -> Depthwise {
    let [n, c, h, w] = x.shape().dims::<4>();
    let [wc, one, k, kw] = weight.shape().dims::<4>();
    assert!(wc == c && one == 1 && k == kw, "depthwise weight {:?} for input {:?}", weight.shape(), x.shape());
    Depthwise::new([n, c, h, w], k, stride)
}

/// `[N, C, rest]` of a tensor shaped `[N, C, ...]`.
fn ncr(t: &FlexTensor) -> (usize, usize, usize) {
    let shape = t.shape();
    assert!(shape.num_dims() >= 2, "batch norm of a tensor with fewer than 2 dimensions");
    let (n, c) = (shape[0], shape[1]);
    (n, c, shape.num_elements() / (n * c).max(1))
}

/// A channel's batch norm as `x * a + b`, and its 1/std, from its (f32) batch statistics: one function for the
/// forward and the backward, so that the backward's ReLU6 mask sees the forward's exact pre-activation.
fn bn_affine(gamma: f32, beta: f32, mean: f32, var: f32, epsilon: f64) -> (f32, f32, f32) {
    let inv_std = (1.0 / (var as f64 + epsilon).sqrt()) as f32;
    let a = gamma * inv_std;
    (a, beta - mean * a, inv_std)
}

/// Per channel: (sum, sum of squares) of `x - shift` over its planes, accumulated in f32 lanes per plane and in
/// f64 across planes (the shift, the channel's first value, keeps the one-pass variance from cancelling).
fn channel_moments(x: &[f32], n: usize, c: usize, r: usize, ch: usize) -> (f64, f64, f32) {
    let shift = x[ch * r];
    let (mut s, mut q) = (0f64, 0f64);
    for i in 0..n {
        let plane = &x[(i * c + ch) * r..(i * c + ch + 1) * r];
        let (mut ls, mut lq) = ([0f32; 8], [0f32; 8]);
        let chunks = plane.chunks_exact(8);
        let tail = chunks.remainder();
        for v in chunks {
            for l in 0..8 {
                let d = v[l] - shift;
                ls[l] += d;
                lq[l] += d * d;
            }
        }
        for &v in tail {
            let d = v - shift;
            ls[0] += d;
            lq[0] += d * d;
        }
        s += ls.iter().map(|&v| v as f64).sum::<f64>();
        q += lq.iter().map(|&v| v as f64).sum::<f64>();
    }
    (s, q, shift)
}

impl TrainKernels for Flex {
    fn pointwise_conv(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let ([n, ci, h, w], co) = pointwise_shapes(&x, &weight);
        let mut output = vec![0f32; n * co * h * w];
        super::pointwise::gemm_per_image(&values(&x), &values(&weight), None, [ci, co, h * w], false, &mut output);
        flex(output, [n, co, h, w].into())
    }

    fn pointwise_conv_backward(x: FlexTensor, weight: FlexTensor, grad: FlexTensor, input_grad: bool) -> (FlexTensor, FlexTensor) {
        let ([n, ci, h, w], co) = pointwise_shapes(&x, &weight);
        assert_eq!(grad.shape().dims::<4>(), [n, co, h, w], "1x1 gradient of the wrong shape");
        let (xs, ws, gs) = (values(&x), values(&weight), values(&grad));
        let hw = h * w;
        let (dx, dw) = if hw >= PER_IMAGE_PIXELS {
            let dx = if input_grad {
                // dX_b [ci, hw] = W^T [ci, co] x dY_b [co, hw], images in parallel.
                let mut dx = vec![0f32; n * ci * hw];
                dx.par_chunks_mut(ci * hw).zip(gs.par_chunks(co * hw)).for_each(|(dx, g)| {
                    // SAFETY: dx is [ci, hw], W^T is W [co, ci] read by columns, g is [co, hw]; all in bounds.
                    unsafe { gemm_f32([ci, hw, co], dx.as_mut_ptr(), hw, false, ws.as_ptr(), [ci as isize, 1], g.as_ptr(), [1, hw as isize], false) };
                });
                dx
            } else {
                Vec::new()
            };
            // dW [co, ci] = sum_b dY_b [co, hw] x X_b^T [hw, ci], each thread summing its images into its own dW.
            let dw = (0..n)
                .into_par_iter()
                .fold(
                    || vec![0f32; co * ci],
                    |mut dw, b| {
                        let (g, xb) = (&gs[b * co * hw..(b + 1) * co * hw], &xs[b * ci * hw..(b + 1) * ci * hw]);
                        // SAFETY: dw is [co, ci]; g [co, hw] by rows; X_b^T is X_b [ci, hw] read by columns.
                        unsafe { gemm_f32([co, ci, hw], dw.as_mut_ptr(), ci, true, g.as_ptr(), [1, hw as isize], xb.as_ptr(), [hw as isize, 1], false) };
                        dw
                    },
                )
                .reduce(|| vec![0f32; co * ci], |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                    a
                });
            (dx, dw)
        } else {
            // Small planes: X' [ci, n*hw] and dY' [co, n*hw] (the images side by side), then one product over
            // n*hw for each gradient, with every core in it: dW = dY' X'^T, dX' = W^T dY' (laid back out per image).
            let k = n * hw;
            let (xt, gt) = (swap_outer(&xs, n, ci, hw), swap_outer(&gs, n, co, hw));
            let mut dw = vec![0f32; co * ci];
            // SAFETY: dw [co, ci]; gt [co, k] by rows; xt [ci, k] read by columns as X'^T [k, ci].
            unsafe { gemm_f32([co, ci, k], dw.as_mut_ptr(), ci, false, gt.as_ptr(), [1, k as isize], xt.as_ptr(), [k as isize, 1], true) };
            let dx = if input_grad {
                let mut dxt = vec![0f32; ci * k];
                // SAFETY: dxt [ci, k]; W^T is W [co, ci] read by columns; gt [co, k] by rows.
                unsafe { gemm_f32([ci, k, co], dxt.as_mut_ptr(), k, false, ws.as_ptr(), [ci as isize, 1], gt.as_ptr(), [1, k as isize], true) };
                swap_outer(&dxt, ci, n, hw)
            } else {
                Vec::new()
            };
            (dx, dw)
        };
        let dx = if input_grad { flex(dx, x.shape()) } else { flex(Vec::new(), [0].into()) };
        (dx, flex(dw, weight.shape()))
    }

    fn depthwise_conv(x: FlexTensor, weight: FlexTensor, stride: usize) -> FlexTensor {
        let dw = depthwise_geometry(&x, &weight, stride);
        let output = dw.forward(&values(&x), &values(&weight), &vec![0.0; x.shape()[1]], false);
        flex(output, dw.output_shape().into())
    }

    fn depthwise_conv_backward(x: FlexTensor, weight: FlexTensor, stride: usize, grad: FlexTensor) -> (FlexTensor, FlexTensor) {
        let dw = depthwise_geometry(&x, &weight, stride);
        assert_eq!(grad.shape().dims::<4>(), dw.output_shape(), "depthwise gradient of the wrong shape");
        let (dx, dweight) = dw.backward(&values(&x), &values(&weight), &values(&grad));
        (flex(dx, x.shape()), flex(dweight, weight.shape()))
    }

    fn batch_norm_train_relu6(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu6: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (n, c, r) = ncr(&x);
        let shape = x.shape();
        let xs = values(&x);
        let (gamma, beta) = (values(&gamma), values(&beta));
        let count = (n * r) as f64;
        let mut output = vec![0f32; xs.len()];
        let out = SendPtr(output.as_mut_ptr());
        let stats: Vec<(f32, f32)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (s, q, shift) = channel_moments(&xs, n, c, r, ch);
                let mean = (shift as f64 + s / count) as f32;
                let var = (q / count - (s / count).powi(2)).max(0.0) as f32;
                let (a, b, _) = bn_affine(gamma[ch], beta[ch], mean, var, epsilon);
                for i in 0..n {
                    let at = (i * c + ch) * r;
                    // SAFETY: channel ch's planes are written by this item only; `output` outlives the loop.
                    let dst = unsafe { out.slice(at, r) };
                    for (d, &v) in dst.iter_mut().zip(&xs[at..at + r]) {
                        let z = v * a + b;
                        *d = if relu6 { z.clamp(0.0, 6.0) } else { z };
                    }
                }
                (mean, var)
            })
            .collect();
        let (mean, var): (Vec<f32>, Vec<f32>) = stats.into_iter().unzip();
        (flex(output, shape), flex(mean, [c].into()), flex(var, [c].into()))
    }

    fn batch_norm_train_relu6_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        relu6: bool,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (n, c, r) = ncr(&x);
        let shape = x.shape();
        let (xs, gs) = (values(&x), values(&grad));
        let (gamma, beta, mean, variance) = (values(&gamma), values(&beta), values(&mean), values(&variance));
        let count = (n * r) as f32;
        let mut dx = vec![0f32; xs.len()];
        let out = SendPtr(dx.as_mut_ptr());
        let sums: Vec<(f32, f32)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (a, b, inv_std) = bn_affine(gamma[ch], beta[ch], mean[ch], variance[ch], epsilon);
                let m = mean[ch];
                // The ReLU6 passes the gradient where the forward's pre-activation z = x * a + b (the same a and
                // b from the same stored statistics, so the same f32 value) was inside [0, 6], as Burn's clamp does.
                let pass = |v: f32| !relu6 || (0.0..=6.0).contains(&(v * a + b));
                let (mut sg, mut sgx) = (0f64, 0f64);
                for i in 0..n {
                    let at = (i * c + ch) * r;
                    let (mut ls, mut lx) = (0f32, 0f32);
                    for (&v, &g) in xs[at..at + r].iter().zip(&gs[at..at + r]) {
                        let g = if pass(v) { g } else { 0.0 };
                        ls += g;
                        lx += g * (v - m);
                    }
                    sg += ls as f64;
                    sgx += lx as f64;
                }
                let (mg, mgx) = ((sg / count as f64) as f32, (sgx / count as f64) as f32 * inv_std * inv_std);
                for i in 0..n {
                    let at = (i * c + ch) * r;
                    // SAFETY: as in the forward, channel ch's planes belong to this item.
                    let dst = unsafe { out.slice(at, r) };
                    for ((d, &v), &g) in dst.iter_mut().zip(&xs[at..at + r]).zip(&gs[at..at + r]) {
                        let g = if pass(v) { g } else { 0.0 };
                        *d = a * (g - mg - (v - m) * mgx);
                    }
                }
                ((sgx as f32) * inv_std, sg as f32)
            })
            .collect();
        let (dgamma, dbeta): (Vec<f32>, Vec<f32>) = sums.into_iter().unzip();
        (flex(dx, shape), flex(dgamma, [c].into()), flex(dbeta, [c].into()))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// autodiff: record the operation, run the backward kernel
// ---------------------------------------------------------------------------------------------------------------

/// Register a backward's gradients for those of its parents that take part (`None`: a constant input).
fn register<B: Backend, P, const N: usize>(
    grads: &mut Gradients,
    parents: [Option<P>; N],
    values: [B::FloatTensorPrimitive; N],
    id: impl Fn(&P) -> burn::backend::autodiff::NodeId,
) {
    for (parent, value) in parents.into_iter().zip(values) {
        if let Some(node) = parent {
            grads.register::<B>(id(&node), value);
        }
    }
}

impl<B: Backend + TrainKernels, C: CheckpointStrategy> TrainKernels for Autodiff<B, C> {
    fn pointwise_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct PointwiseConv;

        impl<B: Backend + TrainKernels> Backward<B, 2> for PointwiseConv {
            /// x, weight.
            type State = (B::FloatTensorPrimitive, B::FloatTensorPrimitive);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight) = ops.state;
                let (dx, dweight) = B::pointwise_conv_backward(x, weight, grad, node_x.is_some());
                register::<B, _, 2>(grads, [node_x, node_weight], [dx, dweight], |node| node.id);
            }
        }

        let nodes = [x.node(), weight.node()];
        let (x, weight) = (x.into_primitive(), weight.into_primitive());
        let output = B::pointwise_conv(x.clone(), weight.clone());
        match PointwiseConv.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, weight), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn pointwise_conv_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _input_grad: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        panic!("the 1x1 convolution's backward is not differentiable again");
    }

    fn depthwise_conv(x: FloatTensor<Self>, weight: FloatTensor<Self>, stride: usize) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct DepthwiseConv;

        impl<B: Backend + TrainKernels> Backward<B, 2> for DepthwiseConv {
            /// x, weight, stride.
            type State = (B::FloatTensorPrimitive, B::FloatTensorPrimitive, usize);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight, stride) = ops.state;
                let (dx, dweight) = B::depthwise_conv_backward(x, weight, stride, grad);
                register::<B, _, 2>(grads, [node_x, node_weight], [dx, dweight], |node| node.id);
            }
        }

        let nodes = [x.node(), weight.node()];
        let (x, weight) = (x.into_primitive(), weight.into_primitive());
        let output = B::depthwise_conv(x.clone(), weight.clone(), stride);
        match DepthwiseConv.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, weight, stride), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn depthwise_conv_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _stride: usize,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        panic!("the depthwise convolution's backward is not differentiable again");
    }

    fn batch_norm_train_relu6(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu6: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        #[derive(Debug)]
        struct BatchNormRelu6;

        impl<B: Backend + TrainKernels> Backward<B, 3> for BatchNormRelu6 {
            /// x, gamma, beta, batch mean, batch variance, epsilon, relu6.
            type State = (
                B::FloatTensorPrimitive,
                B::FloatTensorPrimitive,
                B::FloatTensorPrimitive,
                B::FloatTensorPrimitive,
                B::FloatTensorPrimitive,
                f64,
                bool,
            );

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, gamma, beta, mean, variance, epsilon, relu6) = ops.state;
                let (dx, dgamma, dbeta) =
                    B::batch_norm_train_relu6_backward(x, gamma, beta, mean, variance, epsilon, relu6, grad);
                register::<B, _, 3>(grads, [node_x, node_gamma, node_beta], [dx, dgamma, dbeta], |node| node.id);
            }
        }

        let nodes = [x.node(), gamma.node(), beta.node()];
        let (x, gamma, beta) = (x.into_primitive(), gamma.into_primitive(), beta.into_primitive());
        let (output, mean, variance) =
            B::batch_norm_train_relu6(x.clone(), gamma.clone(), beta.clone(), epsilon, relu6);
        let output = match BatchNormRelu6.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                prep.finish((x, gamma, beta, mean.clone(), variance.clone(), epsilon, relu6), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(output),
        };
        (output, FloatTensor::<Self>::new(mean), FloatTensor::<Self>::new(variance))
    }

    fn batch_norm_train_relu6_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _variance: FloatTensor<Self>,
        _epsilon: f64,
        _relu6: bool,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        panic!("the batch norm's backward is not differentiable again");
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{BatchNormConfig, PaddingConfig2d};
    use burn::tensor::Device;
    use burn::tensor::activation::relu6;

    fn vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> (f32, f32) {
        assert_eq!(a.len(), b.len());
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        (a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())), scale)
    }

    /// Deterministic values in [lo, hi) (the tests run in parallel and share Burn's random generator).
    fn values_in<const D: usize>(shape: [usize; D], lo: f32, hi: f32, salt: f32, device: &Device) -> Tensor<D> {
        let count: usize = shape.iter().product();
        let v: Vec<f32> =
            (0..count).map(|i| lo + (hi - lo) * (((i as f32 + salt) * 0.618_034).sin() * 0.5 + 0.5)).collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// Output, input gradient, gamma and beta gradients, running mean and variance after one step.
    fn bn_step(kernel: bool, relu6_after: bool, shape: [usize; 4]) -> [Vec<f32>; 6] {
        let device = Device::flex().autodiff();
        let c = shape[1];
        let mut bn = BatchNormConfig::new(c).with_epsilon(1e-3).with_momentum(0.1).init(&device);
        bn.gamma = Param::from_tensor(values_in([c], 0.5, 3.0, 1.0, &device));
        bn.beta = Param::from_tensor(values_in([c], -1.0, 4.0, 2.0, &device));
        // An offset far from zero, as conv outputs can have: the one-pass variance must not cancel.
        let x = (values_in(shape, -3.0, 3.0, 3.0, &device) + 20.0).require_grad();
        let weights = values_in(shape, -1.0, 1.0, 4.0, &device);
        let y = if kernel {
            batch_norm_train(&bn, x.clone(), relu6_after)
        } else if relu6_after {
            relu6(bn.forward(x.clone()))
        } else {
            bn.forward(x.clone())
        };
        let grads = (y.clone() * weights).sum().backward();
        [
            vec(y.inner()),
            vec(x.grad(&grads).expect("x gradient")),
            vec(bn.gamma.val().grad(&grads).expect("gamma gradient")),
            vec(bn.beta.val().grad(&grads).expect("beta gradient")),
            vec(bn.running_mean.value_sync()),
            vec(bn.running_var.value_sync()),
        ]
    }

    #[test]
    fn batch_norm_relu6_matches_burn_forward_backward_and_running_statistics() {
        // Odd plane sizes (lane tails), one image and several.
        for (relu6_after, shape) in [(true, [3, 5, 7, 9]), (false, [3, 5, 7, 9]), (true, [1, 4, 6, 6])] {
            let ours = bn_step(true, relu6_after, shape);
            let burn = bn_step(false, relu6_after, shape);
            let names = ["output", "x gradient", "gamma gradient", "beta gradient", "running mean", "running variance"];
            for ((name, a), b) in names.iter().zip(&ours).zip(&burn) {
                let (diff, scale) = max_diff(a, b);
                assert!(scale > 1e-3, "{name} vanished (relu6 {relu6_after}, {shape:?})");
                assert!(diff <= 2e-4 * scale.max(1.0), "{name}: ours differs from Burn's by {diff} (scale {scale})");
            }
            if relu6_after {
                let out = &ours[0];
                assert!(out.contains(&0.0) && out.contains(&6.0), "the test input should reach both clamps");
            }
        }
    }

    #[test]
    fn pointwise_matches_burn_conv2d_and_its_gradients() {
        let device = Device::flex().autodiff();
        // Small planes (weight gradient with the images side by side) and wide ones (per image), with a bias.
        for [n, ci, co, h, w] in [[2, 6, 10, 5, 7], [3, 5, 9, 11, 13]] {
            let conv = Conv2dConfig::new([ci, co], [1, 1]).with_padding(PaddingConfig2d::Same).with_bias(true).init(&device);
            let x = values_in([n, ci, h, w], -1.0, 1.0, 5.0, &device).require_grad();
            let weights = values_in([n, co, h, w], -1.0, 1.0, 6.0, &device);
            let run = |y: Tensor<4>| {
                let grads = (y.clone() * weights.clone()).sum().backward();
                let w = conv.weight.val().grad(&grads).expect("weight gradient");
                let b = conv.bias.as_ref().unwrap().val().grad(&grads).expect("bias gradient");
                [vec(y.inner()), vec(x.grad(&grads).expect("x gradient")), vec(w), vec(b)]
            };
            let ours = run(pointwise_conv(&conv, x.clone()));
            let burn = run(conv.forward(x.clone()));
            for (name, (a, b)) in ["output", "x gradient", "weight gradient", "bias gradient"].iter().zip(ours.iter().zip(&burn)) {
                let (diff, scale) = max_diff(a, b);
                assert!(scale > 1e-3 && diff <= 1e-5 * scale.max(1.0), "{name} {:?}: differs by {diff} (scale {scale})", [n, ci, co, h, w]);
            }
        }
    }

    #[test]
    fn depthwise_matches_burn_conv2d_and_its_gradients() {
        let device = Device::flex().autodiff();
        // k 3 and 5, stride 1 and 2, odd and even sizes, the late 3x4 planes, and planes big enough (130x131) that
        // a channel's images split into several work items whose weight gradients are summed.
        for (k, stride, [n, c, h, w]) in [
            (3, 1, [2, 3, 7, 8]),
            (3, 2, [2, 3, 8, 9]),
            (5, 2, [3, 2, 11, 13]),
            (5, 1, [4, 3, 3, 4]),
            (3, 2, [3, 2, 130, 131]),
        ] {
            let conv = Conv2dConfig::new([c, c], [k, k])
                .with_stride([stride, stride])
                .with_groups(c)
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(&device);
            let x = values_in([n, c, h, w], -1.0, 1.0, 7.0, &device).require_grad();
            let y0 = conv.forward(x.clone());
            let weights = values_in(y0.dims(), -1.0, 1.0, 8.0, &device);
            let run = |y: Tensor<4>| {
                let grads = (y.clone() * weights.clone()).sum().backward();
                let w = conv.weight.val().grad(&grads).expect("weight gradient");
                [vec(y.inner()), vec(x.grad(&grads).expect("x gradient")), vec(w)]
            };
            let ours = run(depthwise_conv(&conv, x.clone()));
            let burn = run(y0);
            for (name, (a, b)) in ["output", "x gradient", "weight gradient"].iter().zip(ours.iter().zip(&burn)) {
                let (diff, scale) = max_diff(a, b);
                assert!(
                    scale > 1e-3 && diff <= 1e-4 * scale.max(1.0),
                    "{name} (k {k}, stride {stride}, {:?}): differs by {diff} (scale {scale})",
                    [n, c, h, w]
                );
            }
        }
    }

    #[test]
    fn only_the_autodiff_flex_device_takes_these_kernels() {
        assert!(on_cpu_training_device(&Tensor::<4>::zeros([1, 1, 2, 2], &Device::flex().autodiff())));
        assert!(!on_cpu_training_device(&Tensor::<4>::zeros([1, 1, 2, 2], &Device::flex())));
    }
}
