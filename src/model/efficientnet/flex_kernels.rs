//! Inference kernels that read flex's own buffers in place (a backend extension), so that neither the activation
//! nor the module's weights are copied to be read: the 1x1 convolutions of a folded network (issue 13,
//! docs/speed.md).
//!
//! Natively: one gemm per image with the bias and ReLU6 applied to each plane straight after, while it is still
//! in cache. Burn's flex runs a 1x1 convolution as one gemm per image too, then adds the bias in a separate
//! single-threaded pass over the whole output, and the ReLU6 was one more pass: for the wide early layers
//! (K = 16-32 input channels, 2,288-pixel planes) the output was written once by the gemm and walked twice more
//! from memory. In wasm: the SIMD128 4x8 tiles of pointwise.rs (Burn's gemm runs at 2 GMAC/s there), which before this
//! copied every layer's weights out of the module at every call (about 13 MB per chunk of four images).

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::nn::conv::Conv2d;
use burn::tensor::{DType, Tensor, TensorData};

/// `relu6?(conv1x1(x) + bias)` for a folded pointwise convolution (stride 1, no padding) on the flex device.
pub fn pointwise(x: Tensor<4>, conv: &Conv2d, relu6: bool) -> Tensor<4> {
    let weight = conv.weight.val();
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([weight.dims()[0]], &weight.device()),
    };
    Tensor::from_dispatch(<Dispatch as FlexInferenceKernels>::pointwise_bias_relu6(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        relu6,
    ))
}

/// The inference operations of this file, for the flex backend.
#[backend_extension(Flex)]
pub trait FlexInferenceKernels: Backend {
    /// `relu6?(W x + b)` per pixel: `x [N, Ci, H, W]`, `weight [Co, Ci, 1, 1]`, `bias [Co]`.
    fn pointwise_bias_relu6(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu6: bool,
    ) -> FloatTensor<Self>;
}

/// A float tensor's values as contiguous f32, borrowed where flex holds them so, a view copied first (these
/// kernels and train_kernels.rs run in f32; their callers check the dtype).
pub(super) fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    assert_eq!(t.dtype(), DType::F32, "the CPU kernels run in f32");
    match t.as_slice::<f32>() {
        Some(s) if t.is_contiguous() => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec()),
    }
}

impl FlexInferenceKernels for Flex {
    fn pointwise_bias_relu6(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, relu6: bool) -> FlexTensor {
        let [n, ci, h, w] = x.shape().dims::<4>();
        let [co, wci, kh, kw] = weight.shape().dims::<4>();
        assert!(wci == ci && kh == 1 && kw == 1, "1x1 weight {:?} for input {:?}", weight.shape(), x.shape());
        let (xs, ws, bs) = (values(&x), values(&weight), values(&bias));
        assert_eq!(bs.len(), co, "one bias per output channel");
        let hw = h * w;
        let mut output = vec![0f32; n * co * hw];
        #[cfg(target_arch = "wasm32")]
        for (image, out) in xs.chunks(ci * hw).zip(output.chunks_mut(co * hw)) {
            super::pointwise::pointwise_image(image, &ws, &bs, ci, co, hw, relu6, out);
        }
        #[cfg(not(target_arch = "wasm32"))]
        super::pointwise::gemm_per_image(&xs, &ws, Some(&bs), [ci, co, hw], relu6, &mut output);
        FlexTensor::from_data(TensorData::new(output, [n, co, h, w]))
    }
}
