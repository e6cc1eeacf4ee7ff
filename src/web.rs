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
use crate::inference::{Classifier, GlitchViews, TopClass};
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

/// Whether a WebGPU adapter exists and is a real GPU (SwiftShader and other fallback adapters are slower than
/// our CPU backend, so "auto" skips them).
async fn hardware_webgpu_adapter() -> bool {
    let global: JsValue = js_sys::global().into();
    let Ok(navigator) = Reflect::get(&global, &"navigator".into()) else { return false };
    let Ok(gpu) = Reflect::get(&navigator, &"gpu".into()) else { return false };
    if gpu.is_undefined() || gpu.is_null() {
        return false;
    }
    let Ok(p) = call_method(&gpu, "requestAdapter", &[]).and_then(|p| p.dyn_into::<Promise>().map_err(JsValue::from))
    else {
        return false;
    };
    let Ok(adapter) = JsFuture::from(p).await else { return false };
    if adapter.is_null() || adapter.is_undefined() {
        return false;
    }
    let fallback = Reflect::get(&adapter, &"info".into())
        .ok()
        .and_then(|info| Reflect::get(&info, &"isFallbackAdapter".into()).ok())
        .and_then(|f| f.as_bool())
        .or_else(|| Reflect::get(&adapter, &"isFallbackAdapter".into()).ok().and_then(|f| f.as_bool()))
        .unwrap_or(false);
    !fallback
}

/// Create the device for a backend name; returns the device and the name actually used.
async fn make_device(backend: &str) -> Result<(Device, &'static str), JsValue> {
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
    top5: Vec<TopClass>,
    probabilities: Vec<f32>,
    embedding: Vec<f32>,
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
        let classifier = match Classifier::from_card(card.clone(), &weights_url, weights, &device) {
            Ok(c) => c,
            Err(e) => {
                // A cached file that no longer matches the card must not stick: drop it and fetch once more.
                if let Some(store) = open_cache().await {
                    if let Ok(p) = call_method(&store, "delete", &[weights_url.clone().into()]) {
                        if let Ok(p) = p.dyn_into::<Promise>() {
                            let _ = JsFuture::from(p).await;
                        }
                    }
                }
                let fresh = fetch_bytes(&weights_url, false).await?;
                Classifier::from_card(card, &weights_url, fresh, &device).map_err(|_| js_err(e))?
            }
        };
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
        let prepared = pipeline::prepare_glitch(&files, pipeline::input_spec(&self.classifier.card), true);
        let mut result = GlitchResult {
            key: prepared.key.clone(),
            views: prepared.reports,
            ok: false,
            error: None,
            top5: Vec::new(),
            probabilities: Vec::new(),
            embedding: Vec::new(),
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
                    }
                }
            }
        }
        result.ms = now_ms() - start;
        to_js(&result)
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
