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

use super::phase_planes::{Depthwise, dense_relu6};

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

/// `relu6(conv(x) + bias)` for a folded dense convolution with few input channels and TF "SAME" padding: the
/// stem (3 -> 32 channels, 3x3, stride 2), on phase planes ([`dense_relu6`]).
pub fn conv_relu6(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    let device = x.device();
    let dims = x.dims();
    let [_, wci, k, kw] = conv.weight.val().dims();
    assert!(wci == dims[1] && k == kw, "a dense convolution with a square kernel");
    let input = x.into_data().convert::<f32>();
    let (weight, bias) = weight_and_bias(conv);
    let (output, shape) = dense_relu6(input.as_slice().expect("f32 after convert"), dims, &weight, &bias, k, conv.stride[0]);
    Tensor::from_data(TensorData::new(output, shape), &device)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use super::super::flex_kernels::pointwise;
    use super::super::pointwise::pointwise_image;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::activation::relu6;
    use burn::tensor::{Device, Distribution};

    /// The wasm tiles on copies of the tensors: natively for the unit test (it keeps the tiling tested in every CI
    /// run); the page reaches [`pointwise_image`] through flex_kernels.rs, without the copies.
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

