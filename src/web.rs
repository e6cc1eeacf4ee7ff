//! The browser API, and the only module that uses `wasm_bindgen`.
//!
//! It turns fetches, bytes and JS objects into calls of the shared library and back; all model,
//! preprocessing and grouping logic lives elsewhere. Runs in a Web Worker (www/worker.js) so the page never
//! freezes. Backend: WebGPU when a real (non-fallback) adapter exists, else Burn's CPU backend compiled to
//! wasm; the caller can force either.

use burn::tensor::Device;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::card::ModelCard;
use crate::inference::{Classifier, TopClass};
use crate::views::GlitchViews;
use crate::pipeline::{self, NamedFile};

unsafe extern "C" {
    /// Static constructors (the `inventory` registrations some dependencies use), synthesised by the linker.
    fn __wasm_call_ctors();
}

/// Run the module's static constructors, once per instance. Because an exported function calls
/// `__wasm_call_ctors`, the wasm linker treats this as a reactor-style module and no longer re-runs every
/// constructor at the start of every export, which cost about 0.7 s per `classify` call (measured with
/// `node tests/e2e/bench-web.mjs`). Every entry point calls this, so it also holds where `start` is not run
/// (e.g. under wasm-bindgen-test, which brings its own start-up).
pub fn ensure_runtime() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: guarded to run once per instance, before the first use of anything the constructors register.
        unsafe { __wasm_call_ctors() };
        console_error_panic_hook::set_once();
    });
}

#[wasm_bindgen(start)]
fn start() {
    ensure_runtime();
}

fn js_err(message: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&message.to_string()).into()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_err)
}

fn global_fn(name: &str) -> Result<(JsValue, Function), JsValue> {
    let global: JsValue = js_sys::global().into();
    let f = Reflect::get(&global, &name.into())?;
    let f: Function = f.dyn_into().map_err(|_| js_err(format!("this browser has no {name}()")))?;
    Ok((global, f))
}

fn now_ms() -> f64 {
    let global: JsValue = js_sys::global().into();
    Reflect::get(&global, &"performance".into())
        .ok()
        .and_then(|p| {
            let now = Reflect::get(&p, &"now".into()).ok()?.dyn_into::<Function>().ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// Resolve `relative` against `base` the way the browser does (`new URL(relative, base)`).
fn resolve_url(relative: &str, base: &str) -> Result<String, JsValue> {
    let url = web_sys::Url::new_with_base(relative, base)?;
    Ok(url.href())
}

/// The page's location, so a relative card URL works in a window and in a worker.
fn location_href() -> String {
    let global: JsValue = js_sys::global().into();
    Reflect::get(&global, &"location".into())
        .ok()
        .and_then(|l| Reflect::get(&l, &"href".into()).ok())
        .and_then(|h| h.as_string())
        .unwrap_or_default()
}

/// GET a URL's bytes with `fetch`; with `cache`, serve from and store into the Cache API so a second visit works
/// offline. Errors name the URL.
async fn fetch_bytes(url: &str, cache: bool) -> Result<Vec<u8>, JsValue> {
    let cache_store = if cache { open_cache().await } else { None };
    if let Some(store) = &cache_store {
        let matched = JsFuture::from(call_method(store, "match", &[url.into()])?.dyn_into::<Promise>()?).await?;
        if !matched.is_undefined() {
            return response_bytes(url, matched).await;
        }
    }
    let (global, fetch) = global_fn("fetch")?;
    let response = JsFuture::from(fetch.call1(&global, &url.into())?.dyn_into::<Promise>()?)
        .await
        .map_err(|e| js_err(format!("cannot fetch {url}: {}", describe(&e))))?;
    let ok = Reflect::get(&response, &"ok".into())?.as_bool().unwrap_or(false);
    if !ok {
        let status = Reflect::get(&response, &"status".into())?.as_f64().unwrap_or(0.0);
        return Err(js_err(format!("cannot fetch {url}: HTTP {status}")));
    }
    if let Some(store) = &cache_store {
        let copy = call_method(&response, "clone", &[])?;
        // Caching is a convenience: a full quota must not stop classification.
        if let Ok(p) = call_method(store, "put", &[url.into(), copy]) {
            if let Ok(p) = p.dyn_into::<Promise>() {
                let _ = JsFuture::from(p).await;
            }
        }
    }
    response_bytes(url, response).await
}

/// A cached file that no longer matches its card must not stick: drop it (the caller fetches it once more).
async fn drop_cached(url: &str) {
    if let Some(store) = open_cache().await {
        if let Ok(p) = call_method(&store, "delete", &[url.into()]) {
            if let Ok(p) = p.dyn_into::<Promise>() {
                let _ = JsFuture::from(p).await;
            }
        }
    }
}

async fn open_cache() -> Option<JsValue> {
    let global: JsValue = js_sys::global().into();
    let caches = Reflect::get(&global, &"caches".into()).ok().filter(|c| !c.is_undefined())?;
    let p = call_method(&caches, "open", &["glitchscope-models-v1".into()]).ok()?.dyn_into::<Promise>().ok()?;
    JsFuture::from(p).await.ok()
}

async fn response_bytes(url: &str, response: JsValue) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(call_method(&response, "arrayBuffer", &[])?.dyn_into::<Promise>()?)
        .await
        .map_err(|e| js_err(format!("cannot read {url}: {}", describe(&e))))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

fn call_method(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &name.into())?.dyn_into()?;
    let array: Array = args.iter().collect();
    f.apply(target, &array)
}

fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Whether this browser offers any WebGPU adapter at all (`navigator.gpu.requestAdapter()` gives one).
pub async fn any_webgpu_adapter() -> bool {
    webgpu_adapter().await.is_some()
}

/// The adapter `navigator.gpu.requestAdapter()` gives, if any.
async fn webgpu_adapter() -> Option<JsValue> {
    let global: JsValue = js_sys::global().into();
    let navigator = Reflect::get(&global, &"navigator".into()).ok()?;
    let gpu = Reflect::get(&navigator, &"gpu".into()).ok()?;
    if gpu.is_undefined() || gpu.is_null() {
        return None;
    }
    let p = call_method(&gpu, "requestAdapter", &[]).and_then(|p| p.dyn_into::<Promise>().map_err(JsValue::from)).ok()?;
    let adapter = JsFuture::from(p).await.ok()?;
    (!adapter.is_null() && !adapter.is_undefined()).then_some(adapter)
}

/// Whether a WebGPU adapter exists and is a real GPU (SwiftShader and other fallback adapters are slower than
/// our CPU backend, so "auto" skips them).
async fn hardware_webgpu_adapter() -> bool {
    let Some(adapter) = webgpu_adapter().await else { return false };
    let fallback = Reflect::get(&adapter, &"info".into())
        .ok()
        .and_then(|info| Reflect::get(&info, &"isFallbackAdapter".into()).ok())
        .and_then(|f| f.as_bool())
        .or_else(|| Reflect::get(&adapter, &"isFallbackAdapter".into()).ok().and_then(|f| f.as_bool()))
        .unwrap_or(false);
    !fallback
}

/// Create the device for a backend name; returns the device and the name actually used. Public (not exported
/// to JavaScript) so that the browser tests can check what `auto` picks in each browser.
pub async fn make_device(backend: &str) -> Result<(Device, &'static str), JsValue> {
    match backend {
        "cpu" => Ok((cpu_device(), "cpu")),
        "webgpu" => webgpu_device().await.map(|d| (d, "webgpu")),
        "auto" | "" => {
            if hardware_webgpu_adapter().await {
                if let Ok(d) = webgpu_device().await {
                    return Ok((d, "webgpu"));
                }
            }
            Ok((cpu_device(), "cpu"))
        }
        other => Err(js_err(format!("unknown backend {other:?}: use \"auto\", \"webgpu\" or \"cpu\""))),
    }
}

/// Burn's CPU backend compiled to wasm.
pub(crate) fn cpu_device() -> Device {
    Device::flex()
}

/// WebGPU; initialised once per worker (Burn's wgpu runtime cannot be initialised twice).
pub(crate) async fn webgpu_device() -> Result<Device, JsValue> {
    thread_local! {
        static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(d) = WEBGPU.with(|w| w.borrow().clone()) {
        return Ok(d);
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| js_err(format!("WebGPU is not available: {e}")))?;
    WEBGPU.with(|w| *w.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// `groupViews(names)`: group file names into glitches by their Gravity Spy ids.
#[wasm_bindgen(js_name = groupViews)]
pub fn group_views(names: Vec<String>) -> Result<JsValue, JsValue> {
    ensure_runtime();
    to_js(&pipeline::group_names(&names))
}

/// A model loaded in the browser.
#[wasm_bindgen]
pub struct GlitchClassifier {
    classifier: Classifier,
    backend: &'static str,
    card_json: String,
}

#[derive(Serialize)]
struct GlitchResult {
    key: String,
    views: Vec<pipeline::ViewReport>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Set when a used view does not look like a Gravity Spy spectrogram: the class then means nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    top5: Vec<TopClass>,
    probabilities: Vec<f32>,
    embedding: Vec<f32>,
    /// Per view slot (0.5, 1, 2, 4 s): its part of the top class's calibrated logit (null when missing).
    view_contributions: [Option<f32>; 4],
    backend: &'static str,
    ms: f64,
}

#[wasm_bindgen]
impl GlitchClassifier {
    /// Load the card at `card_url` and the weights it names (sha256-checked, cached), on `backend`.
    pub async fn load(card_url: String, backend: String) -> Result<GlitchClassifier, JsValue> {
        ensure_runtime();
        let card_url = resolve_url(&card_url, &location_href()).unwrap_or(card_url);
        let card_bytes = fetch_bytes(&card_url, false).await?;
        let card_text = String::from_utf8(card_bytes).map_err(|_| js_err(format!("model card {card_url} is not UTF-8 text")))?;
        let card = ModelCard::from_json(&card_url, &card_text).map_err(js_err)?;
        let weights_url = resolve_url(&card.weights.file, &card_url)?;
        let weights = fetch_bytes(&weights_url, true).await?;
        let (device, backend) = make_device(&backend).await?;
        let mut classifier = match Classifier::from_card(card.clone(), &weights_url, weights, &device) {
            Ok(c) => c,
            Err(e) => {
                drop_cached(&weights_url).await;
                let fresh = fetch_bytes(&weights_url, false).await?;
                Classifier::from_card(card.clone(), &weights_url, fresh, &device).map_err(|_| js_err(e))?
            }
        };
        // A card whose classes are voted on with its reference set needs that set before it can classify
        // (the same check and rule as the CLI's `Classifier::from_card_file`).
        if let (true, Some(reference)) = (classifier.needs_reference(), card.reference.as_ref()) {
            let reference_url = resolve_url(&reference.file, &card_url)?;
            let bytes = fetch_bytes(&reference_url, true).await?;
            if classifier.attach_reference(&reference_url, &bytes).is_err() {
                drop_cached(&reference_url).await;
                let fresh = fetch_bytes(&reference_url, false).await?;
                classifier.attach_reference(&reference_url, &fresh).map_err(js_err)?;
            }
        }
        Ok(GlitchClassifier { classifier, backend, card_json: card_text })
    }

    /// The backend in use: "webgpu" or "cpu".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.into()
    }

    /// Class names in output order.
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<String> {
        self.classifier.card.labels.clone()
    }

    /// The model card as JSON text.
    #[wasm_bindgen(getter, js_name = cardJson)]
    pub fn card_json(&self) -> String {
        self.card_json.clone()
    }

    /// Classify one glitch from up to four views `[{name, bytes}]`. Bad files are reported per view; the call
    /// itself only fails for a malformed argument.
    pub async fn classify(&self, views: JsValue) -> Result<JsValue, JsValue> {
        let files = named_files(&views)?;
        let start = now_ms();
        let prepared = pipeline::prepare_glitch(&files, self.classifier.card.input_spec(), true);
        let warning = prepared.warning();
        let mut result = GlitchResult {
            key: prepared.key.clone(),
            views: prepared.reports,
            ok: false,
            error: None,
            warning,
            top5: Vec::new(),
            probabilities: Vec::new(),
            embedding: Vec::new(),
            view_contributions: [None; 4],
            backend: self.backend,
            ms: 0.0,
        };
        match prepared.views {
            None => result.error = Some("no usable view: every file of this glitch failed to load".into()),
            Some(views) => {
                let glitches: Vec<GlitchViews> = vec![views];
                match self.classifier.predict_async(&glitches).await {
                    Err(e) => result.error = Some(e.to_string()),
                    Ok(Err(e)) => result.error = Some(e),
                    Ok(Ok(mut predictions)) => {
                        let p = predictions.remove(0);
                        result.ok = true;
                        result.probabilities = p.probabilities;
                        result.embedding = p.embedding;
                        result.top5 = p.top5;
                        result.view_contributions = p.view_contributions;
                    }
                }
            }
        }
        result.ms = now_ms() - start;
        to_js(&result)
    }

    /// Class probabilities (`[glitches * classes]`) for glitches given as already preprocessed views,
    /// `[glitches, 4, 3, H, W]` floats, every view present. For bench/bench-ort-web.mjs: the network alone on the
    /// same input as onnxruntime-web gets, without decoding. A wrong length is an error, not a panic.
    #[wasm_bindgen(js_name = classifyTensor)]
    pub async fn classify_tensor(&self, views: Vec<f32>, glitches: usize) -> Result<Vec<f32>, JsValue> {
        let batch = self.tensor_glitches("classifyTensor", &views, glitches)?;
        match self.classifier.predict_async(&batch).await {
            Err(e) => Err(js_err(e)),
            Ok(Err(e)) => Err(js_err(e)),
            Ok(Ok(predictions)) => Ok(predictions.into_iter().flat_map(|p| p.probabilities).collect()),
        }
    }

    /// The backbone's time operation by operation (`[{layer, op, input, macs, ms}]`, see
    /// `model::efficientnet::LayerTime`) on the same input as `classifyTensor`: the browser side of
    /// docs/profile.md. CPU backend only: a GPU sync cannot block in a browser, and a profile that cannot sync
    /// would time the queueing, not the work.
    #[wasm_bindgen(js_name = profileBackbone)]
    pub fn profile_backbone(&self, views: Vec<f32>, glitches: usize) -> Result<JsValue, JsValue> {
        if self.backend != "cpu" {
            return Err(js_err(format!("profileBackbone runs on the cpu backend only (this classifier uses {})", self.backend)));
        }
        let glitch_views = self.tensor_glitches("profileBackbone", &views, glitches)?;
        let batch = self.classifier.batch(&glitch_views).map_err(js_err)?;
        let rows = self.classifier.model.backbone.profile(batch.images, &mut now_ms);
        to_js(&rows)
    }
}

impl GlitchClassifier {
    /// `[glitches, 4, 3, H, W]` preprocessed floats (every view present) as glitches' views, for `classifyTensor`
    /// and `profileBackbone`; a wrong length is an error naming the call, not a panic.
    fn tensor_glitches(&self, call: &str, views: &[f32], glitches: usize) -> Result<Vec<GlitchViews>, JsValue> {
        let per_view = 3 * self.classifier.card.input.height * self.classifier.card.input.width;
        let per_glitch = crate::views::VIEW_COUNT * per_view;
        if glitches == 0 || views.len() != glitches * per_glitch {
            return Err(js_err(format!("{call}: {} floats for {glitches} glitches, expected {glitches} x {per_glitch}", views.len())));
        }
        Ok(views
            .chunks(per_glitch)
            .map(|g| std::array::from_fn(|v| Some(g[v * per_view..(v + 1) * per_view].to_vec())))
            .collect())
    }
}

/// `setFusedCpuKernels(false)` runs the CPU backend on Burn's own operations instead of the fused depthwise
/// kernel (model/efficientnet/cpu_inference.rs), for the before/after profile of docs/profile.md; on by default.
#[wasm_bindgen(js_name = setFusedCpuKernels)]
pub fn set_fused_cpu_kernels(enabled: bool) {
    crate::model::efficientnet::set_fused_cpu_kernels(enabled);
}

// ================================================================================================================
// Discovery (issue #6): embedding map, clusters, unfamiliar score, similarity search. Thin wrappers over
// `crate::discovery`; www/discovery-worker.js drives the map, www/worker.js scores each result.
// ================================================================================================================

/// `new EmbeddingMap(flat, dim, options?)`: a t-SNE map and HDBSCAN clusters of `n` embeddings given as one
/// Float32Array of `n * dim` numbers. `options`: `{pcaDims, perplexity, iterations, seed, minClusterSize, minSamples}`, all
/// optional. Call `step(k)` until `done`, reading `coordinates()` in between to draw the map as it forms.
#[wasm_bindgen]
pub struct EmbeddingMap {
    session: crate::discovery::MapSession,
}

#[wasm_bindgen]
impl EmbeddingMap {
    #[wasm_bindgen(constructor)]
    pub fn new(flat: Vec<f32>, dim: usize, options: JsValue) -> Result<EmbeddingMap, JsValue> {
        ensure_runtime();
        let options: crate::discovery::MapOptions = if options.is_undefined() || options.is_null() {
            Default::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("map options: {e}")))?
        };
        let session = crate::discovery::MapSession::new(flat, dim, options).map_err(js_err)?;
        Ok(EmbeddingMap { session })
    }

    /// Number of glitches on the map.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.session.len()
    }

    /// Run up to `iterations` more t-SNE iterations; returns `{iteration, total, done, kl_divergence}`.
    pub fn step(&mut self, iterations: usize) -> Result<JsValue, JsValue> {
        to_js(&self.session.step(iterations))
    }

    /// The map so far as a Float32Array `[x0, y0, x1, y1, ...]`, in input order.
    pub fn coordinates(&self) -> Vec<f32> {
        self.session.coordinates_flat()
    }

    /// HDBSCAN cluster of each glitch (Int32Array; -1 = outlier, in no cluster).
    pub fn clusters(&self) -> Result<Vec<i32>, JsValue> {
        Ok(self.session.clusters().map_err(js_err)?.labels)
    }
}

/// `nearestAmong(flat, dim, row, k)`: the `k` glitches most similar to glitch `row` among the `n` given
/// (itself left out), best first: `[{index, similarity}]` (cosine similarity).
#[wasm_bindgen(js_name = nearestAmong)]
pub fn nearest_among(flat: Vec<f32>, dim: usize, row: usize, k: usize) -> Result<JsValue, JsValue> {
    ensure_runtime();
    let data = crate::discovery::Embeddings::from_flat(flat, dim).map_err(js_err)?;
    let index = crate::discovery::NeighbourIndex::new(&data).map_err(js_err)?;
    to_js(&index.neighbours_of(row, k).map_err(js_err)?)
}

/// A model's shipped reference set (`.gsref`): labelled example embeddings for similarity search and the
/// calibrated unfamiliar score.
#[wasm_bindgen]
pub struct ReferenceIndex {
    set: crate::discovery::ReferenceSet,
    scorer: Option<crate::discovery::NoveltyScorer>,
}

#[wasm_bindgen]
impl ReferenceIndex {
    /// Read a `.gsref` file; `name` is used in error messages.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8], name: String) -> Result<ReferenceIndex, JsValue> {
        ensure_runtime();
        let set = crate::discovery::ReferenceSet::from_bytes(bytes, &name).map_err(js_err)?;
        let scorer = match &set.calibration {
            Some(c) => Some(set.novelty_scorer(c.method).map_err(js_err)?),
            None => None,
        };
        Ok(ReferenceIndex { set, scorer })
    }

    /// Number of reference glitches.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.set.len()
    }

    /// Embedding dimension.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.set.dim()
    }

    /// Name of the model whose embeddings these are, if recorded.
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> Option<String> {
        self.set.model.clone()
    }

    /// Percentile at and above which a glitch is flagged as a new-class candidate (none without calibration).
    #[wasm_bindgen(getter, js_name = flagPercentile)]
    pub fn flag_percentile(&self) -> Option<f32> {
        self.set.calibration.as_ref().map(|c| c.flag_percentile)
    }

    /// Unfamiliar score of one embedding: `{score, percentile, new_class_candidate}`, or null when the set has no
    /// calibration. `key`: the glitch's key; a glitch that is in the set is scored without itself (as natively).
    pub fn assess(&self, embedding: &[f32], key: Option<String>) -> Result<JsValue, JsValue> {
        let Some(scorer) = &self.scorer else { return Ok(JsValue::NULL) };
        match self.set.assess(scorer, embedding, key.as_deref()).map_err(js_err)? {
            Some(unfamiliar) => to_js(&unfamiliar),
            None => Ok(JsValue::NULL),
        }
    }

    /// The `k` most similar reference glitches: `[{index, key, label, similarity}]`, best first.
    pub fn nearest(&self, embedding: &[f32], k: usize) -> Result<JsValue, JsValue> {
        to_js(&self.set.nearest(embedding, k).map_err(js_err)?)
    }
}

/// Read `[{name, bytes}]` from JS.
fn named_files(views: &JsValue) -> Result<Vec<NamedFile>, JsValue> {
    let array: Array = views.clone().dyn_into().map_err(|_| js_err("classify() takes an array of {name, bytes}"))?;
    let mut files = Vec::with_capacity(array.length() as usize);
    for item in array.iter() {
        if !item.is_object() {
            return Err(js_err("classify() takes an array of {name, bytes}"));
        }
        let _: &Object = item.unchecked_ref();
        let name = Reflect::get(&item, &"name".into())?.as_string().unwrap_or_default();
        let bytes = Reflect::get(&item, &"bytes".into())?;
        let bytes = if let Some(b) = bytes.dyn_ref::<Uint8Array>() {
            b.to_vec()
        } else if bytes.is_instance_of::<js_sys::ArrayBuffer>() {
            Uint8Array::new(&bytes).to_vec()
        } else {
            return Err(js_err(format!("view {name:?}: bytes must be a Uint8Array or ArrayBuffer")));
        };
        files.push(NamedFile { name, bytes });
    }
    Ok(files)
}

// ================================================================================================================
// Few-shot classes and strain upload (issue #6, part 2). The logic lives in `discovery::prototypes`,
// `discovery::few_shot_batch` and `strain`; these exports only move JSON, numbers and bytes across.
// ================================================================================================================

/// Parse a stored set (the page keeps it as JSON text) or start an empty one for this model.
fn few_shot_set_for(set_json: Option<String>, model: &str, dim: usize) -> Result<crate::discovery::FewShotSet, JsValue> {
    match set_json.filter(|s| !s.trim().is_empty()) {
        None => Ok(crate::discovery::FewShotSet::new(dim, Some(model.to_string()))),
        Some(json) => crate::discovery::FewShotSet::from_json(&json, "stored few-shot classes").map_err(js_err),
    }
}

/// `fewShotDefine(setJson | null, model, dim, name, flatEmbeddings, keys)`: the set with class `name` added (or
/// redefined) from the examples' embeddings; returns the set's JSON.
#[wasm_bindgen(js_name = fewShotDefine)]
pub fn few_shot_define(
    set_json: Option<String>,
    model: String,
    dim: usize,
    name: String,
    flat: Vec<f32>,
    keys: Vec<String>,
) -> Result<String, JsValue> {
    ensure_runtime();
    let mut set = few_shot_set_for(set_json, &model, dim)?;
    let examples = crate::discovery::Embeddings::from_flat(flat, dim).map_err(js_err)?;
    if examples.len() != keys.len() {
        return Err(js_err(format!("{} example keys for {} embeddings", keys.len(), examples.len())));
    }
    set.add_class(&name, &examples, keys).map_err(js_err)?;
    Ok(set.to_json())
}

/// `fewShotImport(setJson | null, model, dim, text, fileName)`: merge a shared file into the set (a class of the
/// same name is replaced). Refuses a malformed file and one made with another model or embedding size.
#[wasm_bindgen(js_name = fewShotImport)]
pub fn few_shot_import(set_json: Option<String>, model: String, dim: usize, text: String, file_name: String) -> Result<String, JsValue> {
    ensure_runtime();
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
        return Err(js_err(format!("{file_name}: not a few-shot classes file: it is not valid JSON ({e})")));
    }
    let imported = crate::discovery::FewShotSet::from_json(&text, &file_name).map_err(js_err)?;
    match imported.model.as_deref() {
        Some(m) if m == model => {}
        Some(m) => {
            return Err(js_err(format!(
                "{file_name}: these classes were made with the model \"{m}\", but this page runs \"{model}\"; \
                 few-shot classes only work with the model whose embeddings defined them"
            )));
        }
        None => return Err(js_err(format!("{file_name}: the file does not say which model made it (no \"model\" field)"))),
    }
    if imported.embedding_dim != dim {
        return Err(js_err(format!(
            "{file_name}: embeddings of {} numbers, but this model's have {dim}",
            imported.embedding_dim
        )));
    }
    let mut set = few_shot_set_for(set_json, &model, dim)?;
    set.import(imported).map_err(js_err)?;
    Ok(set.to_json())
}

/// `fewShotRemove(setJson, name)`: the set without class `name`.
#[wasm_bindgen(js_name = fewShotRemove)]
pub fn few_shot_remove(set_json: String, name: String) -> Result<String, JsValue> {
    ensure_runtime();
    let mut set = crate::discovery::FewShotSet::from_json(&set_json, "stored few-shot classes").map_err(js_err)?;
    if !set.remove_class(&name) {
        return Err(js_err(format!("there is no few-shot class {name:?}")));
    }
    Ok(set.to_json())
}

fn few_shot_rescore_with(
    set_json: &str,
    labels: &[String],
    keys: &[String],
    probabilities: &[f32],
    embeddings: Vec<f32>,
    dim: usize,
    known: Option<&crate::discovery::Prototypes>,
) -> Result<JsValue, JsValue> {
    let set = crate::discovery::FewShotSet::from_json(set_json, "stored few-shot classes").map_err(js_err)?;
    let data = crate::discovery::Embeddings::from_flat(embeddings, dim).map_err(js_err)?;
    let scored = crate::discovery::rescore_with_few_shot(
        &set,
        labels,
        probabilities,
        &data,
        keys,
        known,
        crate::discovery::DEFAULT_TEMPERATURE,
    )
    .map_err(js_err)?;
    to_js(&scored)
}

/// `fewShotRescore(setJson, labels, keys, flatProbabilities, flatEmbeddings, dim)`: every glitch's top-5 with the
/// few-shot classes competing; the model's classes get prototypes from the other glitches given.
/// Returns `[{top5: [{label, probability, few_shot}], few_shot_share, known_classes}]` in input order.
#[wasm_bindgen(js_name = fewShotRescore)]
pub fn few_shot_rescore(
    set_json: String,
    labels: Vec<String>,
    keys: Vec<String>,
    probabilities: Vec<f32>,
    embeddings: Vec<f32>,
    dim: usize,
) -> Result<JsValue, JsValue> {
    ensure_runtime();
    few_shot_rescore_with(&set_json, &labels, &keys, &probabilities, embeddings, dim, None)
}

/// As `fewShotRescore`, with the model's reference set: few-shot classes of 3 examples or more among the glitches
/// (counting, for a class of 1-2, the glitches the prototypes put in it at 50 %+) are fitted into the reference
/// head with them, self-trained on the glitches it takes, a glitch taking the prototypes' answer where only they
/// put it in a few-shot class (`discovery::few_shot_head::rescore_with_reference`); otherwise the model's classes
/// are represented by the set's class prototypes.
#[wasm_bindgen(js_name = fewShotRescoreWithReference)]
pub fn few_shot_rescore_with_reference(
    reference: &ReferenceIndex,
    set_json: String,
    labels: Vec<String>,
    keys: Vec<String>,
    probabilities: Vec<f32>,
    embeddings: Vec<f32>,
    dim: usize,
) -> Result<JsValue, JsValue> {
    ensure_runtime();
    let set = crate::discovery::FewShotSet::from_json(&set_json, "stored few-shot classes").map_err(js_err)?;
    let data = crate::discovery::Embeddings::from_flat(embeddings, dim).map_err(js_err)?;
    let scored = crate::discovery::few_shot_head::rescore_with_reference(
        &set,
        &reference.set,
        &labels,
        &probabilities,
        &data,
        &keys,
        crate::discovery::DEFAULT_TEMPERATURE,
    )
    .map_err(js_err)?;
    to_js(&scored)
}

/// `strainViews(fileName, bytes, sampleRate | undefined, center | undefined)`: read a strain upload (GWOSC ASCII
/// text or `.npy`; gzip already undone by the page), Q-transform it and render the four Gravity Spy views.
/// `sampleRate` overrides the file's header (default 4096 Hz); `center` is seconds from the start, or GPS when
/// the header gives the start GPS (default: the middle). Returns `{key, sample_rate, sample_rate_from,
/// gps_start, duration_s, center_s, views: [{name, duration, bytes: Uint8Array}]}`.
#[wasm_bindgen(js_name = strainViews)]
pub fn strain_views(file_name: String, bytes: &[u8], sample_rate: Option<f64>, center: Option<f64>) -> Result<JsValue, JsValue> {
    ensure_runtime();
    use crate::strain;
    let file = strain::read_strain(&file_name, bytes).map_err(js_err)?;
    let (rate, from) = match (sample_rate, file.sample_rate) {
        (Some(r), _) => (r, "field"),
        (None, Some(r)) => (r, "file header"),
        (None, None) => (strain::DEFAULT_SAMPLE_RATE, "default"),
    };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(js_err(strain::StrainError::BadSampleRate { name: file_name, rate }));
    }
    let center_s = strain::resolve_center(&file_name, &file, rate, center).map_err(js_err)?;
    let views = strain::gravity_spy_views(&file_name, &file.samples, rate, center_s).map_err(js_err)?;
    let key = strain::glitch_key(&file_name, center_s);
    let out = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&out, &k.into(), &v).map(|_| ());
    let list = Array::new();
    for (duration, image) in &views {
        let png = strain::encode_png(&file_name, *duration, image).map_err(js_err)?;
        let view = Object::new();
        Reflect::set(&view, &"name".into(), &format!("{key}_spectrogram_{}.png", duration.label()).into())?;
        Reflect::set(&view, &"duration".into(), &f64::from(duration.seconds()).into())?;
        Reflect::set(&view, &"bytes".into(), &Uint8Array::from(png.as_slice()).into())?;
        list.push(&view);
    }
    set("key", key.into())?;
    set("sample_rate", rate.into())?;
    set("sample_rate_from", from.into())?;
    set("gps_start", file.gps_start.map_or(JsValue::NULL, JsValue::from))?;
    set("duration_s", (file.samples.len() as f64 / rate).into())?;
    set("center_s", center_s.into())?;
    set("views", list.into())?;
    Ok(out.into())
}

// Triggers in strain files (issue 26): the page drops a GWOSC HDF5 file (up to 512 MiB) and a trigger list. The
// worker reads only what each trigger needs: the HDF5 metadata and the chunks of its window, through
// `Blob.slice` and `FileReaderSync` (synchronous, so usable as hdf5-pure's `Source`; workers only).

// Declared here rather than through web-sys features, so that adding them does not rebuild wgpu's web-sys.
#[wasm_bindgen]
extern "C" {
    /// A `Blob` (or the `File` the page was given).
    #[wasm_bindgen(js_name = Blob)]
    pub type JsBlob;
    #[wasm_bindgen(method, getter)]
    fn size(this: &JsBlob) -> f64;
    #[wasm_bindgen(method)]
    fn slice(this: &JsBlob, start: f64, end: f64) -> JsBlob;
    type FileReaderSync;
    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<FileReaderSync, JsValue>;
    #[wasm_bindgen(method, catch, js_name = readAsArrayBuffer)]
    fn read_as_array_buffer(this: &FileReaderSync, blob: &JsBlob) -> Result<js_sys::ArrayBuffer, JsValue>;
}

/// A dropped file read by byte ranges.
struct BlobSource {
    blob: JsBlob,
    reader: FileReaderSync,
}

// SAFETY: wasm32 here is single-threaded (no shared memory); hdf5-pure asks for Send + Sync only because its
// native sources may be shared between threads.
unsafe impl Send for BlobSource {}
unsafe impl Sync for BlobSource {}

impl hdf5_pure::Source for BlobSource {
    fn len(&self) -> u64 {
        self.blob.size() as u64
    }


    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), hdf5_pure::FormatError> {
        let fail = |e: JsValue| hdf5_pure::FormatError::Source(format!("reading the dropped file: {e:?}"));
        let end = offset + buf.len() as u64;
        if end > self.len() {
            return Err(hdf5_pure::FormatError::UnexpectedEof { expected: end as usize, available: self.len() as usize });
        }
        let slice = self.blob.slice(offset as f64, end as f64);
        let bytes = self.reader.read_as_array_buffer(&slice).map_err(fail)?;
        Uint8Array::new(&bytes).copy_to(buf);
        Ok(())
    }
}

/// The series of a dropped strain file: HDF5 by byte ranges, anything else (ASCII, .npy) read whole.
fn blob_series(blob: JsBlob, name: &str, sample_rate: Option<f64>) -> Result<Vec<crate::strain_series::StrainSeries>, JsValue> {
    let reader = FileReaderSync::new()?;
    let head = reader.read_as_array_buffer(&blob.slice(0.0, 8.0))?;
    if Uint8Array::new(&head).to_vec() == b"\x89HDF\r\n\x1a\n" {
        return crate::strain_hdf5::open_hdf5(name, BlobSource { blob, reader }).map_err(js_err);
    }
    let whole = reader.read_as_array_buffer(&blob)?;
    let bytes = Uint8Array::new(&whole).to_vec();
    crate::strain_series::read_strain_series(name, bytes, sample_rate).map_err(js_err)
}

/// `readTriggers(listName, bytes, snrMin, fmin, fmax)`: the triggers of a list (GPS times, CSV, Omicron text,
/// LIGO_LW XML) that pass the cuts, `[{gps, ifo, snr, frequency, line}]`, and how many the list held.
#[wasm_bindgen(js_name = readTriggers)]
pub fn read_triggers(list_name: String, bytes: &[u8], snr_min: f64, fmin: f64, fmax: f64) -> Result<JsValue, JsValue> {
    ensure_runtime();
    let all = crate::triggers::read_triggers(&list_name, bytes).map_err(js_err)?;
    let cuts = crate::triggers::TriggerCuts { snr_min, fmin, fmax };
    let kept = Array::new();
    for t in all.iter().filter(|t| cuts.keep(t)) {
        let o = Object::new();
        Reflect::set(&o, &"gps".into(), &t.gps.into())?;
        Reflect::set(&o, &"ifo".into(), &t.ifo.clone().map_or(JsValue::NULL, JsValue::from))?;
        Reflect::set(&o, &"snr".into(), &t.snr.map_or(JsValue::NULL, JsValue::from))?;
        Reflect::set(&o, &"frequency".into(), &t.frequency.map_or(JsValue::NULL, JsValue::from))?;
        Reflect::set(&o, &"line".into(), &(t.line as f64).into())?;
        kept.push(&o);
    }
    let out = Object::new();
    Reflect::set(&out, &"total".into(), &(all.len() as f64).into())?;
    Reflect::set(&out, &"triggers".into(), &kept.into())?;
    Ok(out.into())
}

/// `strainTriggerViews(file, fileName, gps, ifo | undefined, window | undefined, sampleRate | undefined)`: in a
/// worker, the views of one trigger (`StrainFile.open(...).triggerViews(...)` in one call; opens the file anew).
#[wasm_bindgen(js_name = strainTriggerViews)]
pub fn strain_trigger_views(
    file: JsBlob,
    file_name: String,
    gps: f64,
    ifo: Option<String>,
    window: Option<f64>,
    sample_rate: Option<f64>,
) -> Result<JsValue, JsValue> {
    StrainFile::open(file, file_name, sample_rate)?.trigger_views(gps, ifo, window)
}

/// A strain file dropped in the page, opened once in a worker (HDF5: its metadata and DQ mask; its samples are
/// read by byte ranges, trigger by trigger), so that many triggers of one file do not re-read its metadata.
#[wasm_bindgen]
pub struct StrainFile {
    name: String,
    series: Vec<crate::strain_series::StrainSeries>,
}

#[wasm_bindgen]
impl StrainFile {
    /// `StrainFile.open(file, fileName, sampleRate | undefined)`: every strain series of a `File`/`Blob` (GWOSC or
    /// gwpy HDF5 by byte ranges; ASCII or `.npy` whole). A file that is not readable strain is an error naming it.
    pub fn open(file: JsBlob, file_name: String, sample_rate: Option<f64>) -> Result<StrainFile, JsValue> {
        ensure_runtime();
        let series = blob_series(file, &file_name, sample_rate)?;
        Ok(StrainFile { name: file_name, series })
    }

    /// `[{channel, ifo, gps_start, gps_end, sample_rate, gaps}]`, one per series (detector) of the file.
    #[wasm_bindgen(getter)]
    pub fn series(&self) -> Result<JsValue, JsValue> {
        let out = Array::new();
        for s in &self.series {
            let o = Object::new();
            Reflect::set(&o, &"channel".into(), &s.channel.clone().into())?;
            Reflect::set(&o, &"ifo".into(), &s.ifo.clone().map_or(JsValue::NULL, JsValue::from))?;
            Reflect::set(&o, &"gps_start".into(), &s.gps_start.into())?;
            Reflect::set(&o, &"gps_end".into(), &s.gps_end().into())?;
            Reflect::set(&o, &"sample_rate".into(), &s.sample_rate.into())?;
            Reflect::set(&o, &"gaps".into(), &(s.gaps.len() as f64).into())?;
            out.push(&o);
        }
        Ok(out.into())
    }

    /// `triggerViews(gps, ifo | undefined, window | undefined)`: the four views of the trigger at `gps` in every
    /// series of the file that holds it (only that detector's when `ifo` is given), made exactly as `glitchscope
    /// classify --strain` makes them. Returns `[{key, ifo, gps, error | null, views: [{name, duration, bytes}]}]`;
    /// a trigger that cannot be rendered (edge, gap, NaN) or that no series holds has one item whose error names
    /// the file and the trigger.
    #[wasm_bindgen(js_name = triggerViews)]
    pub fn trigger_views(&self, gps: f64, ifo: Option<String>, window: Option<f64>) -> Result<JsValue, JsValue> {
        ensure_runtime();
        use crate::strain_series::{TRIGGER_WINDOW_S, trigger_key, trigger_views};
        let out = Array::new();
        let same_ifo = |s: &&crate::strain_series::StrainSeries| match (&ifo, &s.ifo) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let item = |key: String, item_ifo: Option<String>, error: Option<String>, views: Array| -> Result<(), JsValue> {
            let o = Object::new();
            Reflect::set(&o, &"key".into(), &key.into())?;
            Reflect::set(&o, &"ifo".into(), &item_ifo.map_or(JsValue::NULL, JsValue::from))?;
            Reflect::set(&o, &"gps".into(), &gps.into())?;
            Reflect::set(&o, &"error".into(), &error.map_or(JsValue::NULL, JsValue::from))?;
            Reflect::set(&o, &"views".into(), &views.into())?;
            out.push(&o);
            Ok(())
        };
        let candidates: Vec<&crate::strain_series::StrainSeries> = self.series.iter().filter(same_ifo).collect();
        if candidates.is_empty() {
            let have: Vec<&str> = self.series.iter().map(|s| s.ifo.as_deref().unwrap_or("?")).collect();
            let wanted = ifo.clone().unwrap_or_default();
            let error = format!("{}: trigger at GPS {gps} ({wanted}): the file holds no {wanted} strain (only {})", self.name, have.join(", "));
            item(trigger_key(ifo.as_deref(), gps), ifo.clone(), Some(error), Array::new())?;
            return Ok(out.into());
        }
        let holders: Vec<_> = candidates.iter().copied().filter(|s| gps >= s.gps_start && gps < s.gps_end()).collect();
        // No series holds the time: the first candidate's own error says where the file's data are.
        let todo = if holders.is_empty() { vec![candidates[0]] } else { holders };
        for s in todo {
            let key = trigger_key(s.ifo.as_deref(), gps);
            let views = Array::new();
            let error = match trigger_views(s, gps, window.unwrap_or(TRIGGER_WINDOW_S)) {
                Ok(made) => {
                    for (duration, image) in &made.views {
                        let png = crate::strain::encode_png(&self.name, *duration, image).map_err(js_err)?;
                        let view = Object::new();
                        Reflect::set(&view, &"name".into(), &format!("{key}_spectrogram_{}.png", duration.label()).into())?;
                        Reflect::set(&view, &"duration".into(), &f64::from(duration.seconds()).into())?;
                        Reflect::set(&view, &"bytes".into(), &Uint8Array::from(png.as_slice()).into())?;
                        views.push(&view);
                    }
                    None
                }
                Err(e) => Some(e.to_string()),
            };
            item(key, s.ifo.clone(), error, views)?;
        }
        Ok(out.into())
    }
}
