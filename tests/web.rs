//! Browser tests (wasm-pack test --headless --chrome, and --firefox): a real GlitchNet forward pass on WebGPU
//! (SwiftShader in headless Chromium) and on the CPU backend compiled to wasm, with the same weights, agreeing
//! with each other; in a browser without a WebGPU adapter, `auto` must fall back to the CPU backend.
#![cfg(target_arch = "wasm32")]

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor};
use glitchscope::model::weights::{load_burnpack, save_burnpack_f16};
use glitchscope::model::{GlitchBatch, GlitchNet, GlitchNetConfig};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const H: usize = 64;
const W: usize = 80;

/// A deterministic test picture per view: smooth patterns in [-1, 1].
fn image(seed: usize) -> Vec<f32> {
    (0..3 * H * W).map(|i| (((i * 7 + seed * 131) % 255) as f32 - 127.0) / 128.0).collect()
}

/// Two glitches: one with all four views, one with only the 1 s view.
fn batch(device: &Device) -> GlitchBatch {
    let imgs: Vec<Vec<f32>> = (0..5).map(image).collect();
    let refs: Vec<&[f32]> = imgs.iter().map(|v| v.as_slice()).collect();
    let slots = vec![(0, 0), (0, 1), (0, 2), (0, 3), (1, 1)];
    GlitchBatch::new(&refs, slots, 2, H, W, device).unwrap()
}

async fn run(model: &GlitchNet, device: &Device) -> (Vec<f32>, Vec<f32>) {
    let out = model.forward(&batch(device));
    let logits = out.logits.into_data_async().await.unwrap().try_into_vec::<f32>().unwrap();
    let emb = out.embedding.into_data_async().await.unwrap().try_into_vec::<f32>().unwrap();
    (logits, emb)
}

/// Multiplies every weight matrix and kernel (rank >= 2; not biases or batch-norm vectors) by a constant.
struct ScaleWeights(f32);

impl ModuleMapper for ScaleWeights {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let k = self.0;
        if D >= 2 { param.map(|t| t.mul_scalar(k)) } else { param }
    }
}

/// Weights made once on the CPU, then loaded into a model per backend (switching a model between
/// backends at run time is not supported by Burn). Fresh initialisation with batch norms at their identity
/// statistics shrinks the activations through the 16 blocks (embeddings ~1e-8): scaled up, the outputs are of
/// order one, as with trained weights, so that a relative comparison means something.
fn weights() -> Vec<u8> {
    let cpu = Device::flex();
    cpu.seed(7);
    let model = GlitchNetConfig::new().init(&cpu).map(&mut ScaleWeights(WEIGHT_SCALE));
    save_burnpack_f16(&model, "test.bpk").unwrap()
}

const WEIGHT_SCALE: f32 = 2.5;

fn model_on(device: &Device, bytes: Vec<u8>) -> GlitchNet {
    let mut model = GlitchNetConfig::new().init(device);
    load_burnpack(&mut model, "test.bpk", bytes).unwrap();
    model
}

#[wasm_bindgen_test]
async fn glitchnet_forward_on_cpu_in_the_browser() {
    glitchscope::web::ensure_runtime();
    let device = Device::flex();
    let model = model_on(&device, weights());
    let (logits, emb) = run(&model, &device).await;
    assert_eq!(logits.len(), 2 * 22);
    assert_eq!(emb.len(), 2 * 1280);
    assert!(logits.iter().chain(&emb).all(|v| v.is_finite()));
    // The two glitches differ, so must their outputs.
    assert!(logits[..22].iter().zip(&logits[22..]).any(|(a, b)| (a - b).abs() > 1e-4));

    // What the page runs: the same network with its batch norms folded into the convolutions.
    let mut folded = model_on(&device, weights());
    folded.backbone.fold_batch_norms();
    let (folded_logits, folded_emb) = run(&folded, &device).await;
    let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    let (dl, de) = (max_diff(&logits, &folded_logits), max_diff(&emb, &folded_emb));
    console_log!("folded vs plain batch norms: max |dlogit| {dl:.2e}, max |dembedding| {de:.2e}");
    assert!(dl < 1e-4 && de < 1e-4, "folding changed the outputs: logits {dl}, embeddings {de}");
}

/// `navigator.userAgent` of the browser running the tests.
fn web_sys_user_agent() -> String {
    let global: wasm_bindgen::JsValue = js_sys::global().into();
    js_sys::Reflect::get(&global, &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"userAgent".into()))
        .ok()
        .and_then(|a| a.as_string())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn glitchnet_forward_on_webgpu_matches_cpu() {
    glitchscope::web::ensure_runtime();
    // Chromium (with --enable-unsafe-webgpu) offers SwiftShader here; Firefox ESR on Linux may offer no adapter
    // at all. Then there is nothing to compare, and what matters is that `auto` falls back to the CPU backend
    // instead of failing, and that asking for WebGPU gives an error rather than a panic.
    if !glitchscope::web::any_webgpu_adapter().await {
        // Chromium must keep its adapter: without it this test would silently stop comparing the backends.
        let agent = web_sys_user_agent();
        assert!(!agent.contains("Chrome"), "Chromium offers no WebGPU adapter (needs --enable-unsafe-webgpu): {agent}");
        console_log!("this browser offers no WebGPU adapter: checking that auto falls back to the CPU backend");
        let (_, name) = glitchscope::web::make_device("auto").await.expect("auto must fall back to the CPU");
        assert_eq!(name, "cpu");
        assert!(glitchscope::web::make_device("webgpu").await.is_err(), "webgpu without an adapter must be an error");
        return;
    }
    let bytes = weights();
    let cpu = Device::flex();
    let (cpu_logits, cpu_emb) = run(&model_on(&cpu, bytes.clone()), &cpu).await;

    let gpu = Device::wgpu_options().init_async().await.expect("WebGPU adapter (run Chromium with --enable-unsafe-webgpu)");
    let (gpu_logits, gpu_emb) = run(&model_on(&gpu, bytes), &gpu).await;

    assert_eq!((gpu_logits.len(), gpu_emb.len()), (cpu_logits.len(), cpu_emb.len()), "output sizes differ");
    assert!(gpu_logits.iter().chain(&gpu_emb).all(|v| v.is_finite()), "WebGPU gave non-finite outputs");
    let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    let max_abs = |a: &[f32]| a.iter().fold(0f32, |m, v| m.max(v.abs()));
    // Relative to the outputs' size, which must not be small: with near-zero outputs (random weights can give
    // them) any WebGPU path, right or wrong, would pass an absolute bound.
    let (scale_l, scale_e) = (max_abs(&cpu_logits), max_abs(&cpu_emb));
    let spread = |l: &[f32]| l.iter().fold(f32::MIN, |m, &v| m.max(v)) - l.iter().fold(f32::MAX, |m, &v| m.min(v));
    let dl = max_diff(&cpu_logits, &gpu_logits) / scale_l;
    let de = max_diff(&cpu_emb, &gpu_emb) / scale_e;
    console_log!("WebGPU vs CPU: max |dlogit| {dl:.2e}, max |dembedding| {de:.2e} of the largest (logits up to {scale_l:.3}, spread {:.3}; embeddings up to {scale_e:.3})", spread(&cpu_logits[..22]));
    assert!(scale_l > 0.5 && spread(&cpu_logits[..22]) > 0.5 && scale_e > 0.5, "outputs too small to compare: logits {scale_l}, embeddings {scale_e}");
    assert!(dl < 1e-4, "logits differ by {dl} of their largest");
    assert!(de < 1e-4, "embeddings differ by {de} of their largest");
}
