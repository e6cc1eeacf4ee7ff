// GlitchScope classification worker (a module Web Worker).
//
// It owns the wasm GlitchClassifier so that decoding, preprocessing and inference never block the page.
// One worker holds one model on one backend: to change backend, the page starts a new worker (switching Burn
// backends inside one wasm instance has panicked before, burn #840).
//
// Messages in (each carries an `id` that the replies repeat):
//   {type: "load", id, cardUrl, backend}           -> {type: "ready", id, backend, labels, card, reference, referenceError}
//                                                     | {type: "error", id, message}
//   {type: "group", id, names}                     -> {type: "groups", id, groups}               | {type: "error", id, message}
//   {type: "classify", id, glitches: [{key, files: [{name, bytes: ArrayBuffer}]}]}
//                                                  -> {type: "progress", id, done, total, result} per glitch, then {type: "done", id}
//   {type: "trigger-plan" | "trigger", ...}          triggers in a strain file: see worker-triggers.js
// Results carry `unfamiliar: {score, percentile, new_class_candidate}` when the card ships a reference set.
// ArrayBuffers are transferred both ways (image bytes in, thumbnail PNGs out).

import { loadReference } from './reference-loader.js';
import { triggerHandlers } from './worker-triggers.js';

const BACKENDS = new Set(['auto', 'webgpu', 'cpu']);
const PKG_URL = new URL('./pkg/glitchscope.js', import.meta.url);

let wasmModule = null; // the promise of the initialised wasm package, created on first use
let classifier = null; // the GlitchClassifier, once loaded
let reference = null; // the model's ReferenceIndex (unfamiliar score), when its card ships one
let queue = Promise.resolve(); // messages are handled one at a time, in order

// Import and initialise the wasm package once. A dynamic import (rather than a static one) lets a missing or
// broken build be reported as a clear message instead of an anonymous worker error event.
function wasm() {
  if (!wasmModule) {
    wasmModule = import(PKG_URL.href).then(
      async (module) => {
        await module.default();
        return module;
      },
      (err) => {
        throw new Error(
          `cannot load the wasm package ${PKG_URL.pathname} (${errorMessage(err)}); ` +
            'build it with scripts/build-web.sh',
        );
      },
    );
  }
  return wasmModule;
}

function errorMessage(err) {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

// wasm-bindgen/serde may hand back Maps and typed arrays; the page wants plain objects and arrays it can
// structured-clone, render and export as JSON. Byte arrays (thumbnails) stay Uint8Array.
function plain(value) {
  if (value instanceof Map) {
    const out = {};
    for (const [k, v] of value) out[k] = plain(v);
    return out;
  }
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value)) out[k] = plain(value[k]);
    return out;
  }
  return value;
}

function normaliseResult(raw, glitch) {
  const result = plain(raw);
  result.key ??= glitch.key;
  result.views = (result.views ?? []).map((view) => {
    if (Array.isArray(view.thumbnail)) view.thumbnail = Uint8Array.from(view.thumbnail);
    return view;
  });
  result.top5 ??= [];
  result.probabilities ??= [];
  result.embedding ??= [];
  return result;
}

// A result for a glitch the classifier could not even attempt (it threw, which its API says it should not).
function failedResult(glitch, message) {
  return {
    key: glitch.key,
    ok: false,
    error: message,
    views: glitch.files.map((f) => ({ name: f.name, duration: null, ok: false, error: message })),
    top5: [],
    probabilities: [],
    embedding: [],
    backend: classifier?.backend ?? null,
    ms: 0,
  };
}

// The calibrated unfamiliar score (issue #6): {score, percentile, new_class_candidate}, or an error message.
function addUnfamiliar(result) {
  if (!reference || !result.ok || result.embedding.length === 0) return;
  try {
    const assessed = reference.assess(Float32Array.from(result.embedding), result.key);
    if (assessed) result.unfamiliar = plain(assessed);
  } catch (err) {
    result.unfamiliarError = errorMessage(err);
  }
}

async function load({ id, cardUrl, backend }) {
  if (typeof cardUrl !== 'string' || cardUrl === '') throw new Error('load: cardUrl must be a non-empty string');
  if (!BACKENDS.has(backend)) throw new Error(`load: unknown backend "${backend}" (expected auto, webgpu or cpu)`);
  if (classifier) throw new Error('load: this worker already holds a model; start a new worker for another one');
  const module = await wasm();
  classifier = await module.GlitchClassifier.load(cardUrl, backend);
  let card = {};
  try {
    card = JSON.parse(classifier.cardJson);
  } catch (err) {
    card = { error: `the model card is not valid JSON: ${errorMessage(err)}` };
  }
  // The reference set is optional: without it results simply carry no `unfamiliar` score.
  const ref = await loadReference(module, card, cardUrl);
  reference = ref.index;
  self.postMessage({
    type: 'ready', id, backend: classifier.backend, labels: Array.from(classifier.labels), card,
    reference: ref.info, referenceError: ref.error,
  });
}

async function group({ id, names }) {
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
    throw new Error('group: names must be an array of strings');
  }
  const module = await wasm();
  self.postMessage({ type: 'groups', id, groups: plain(module.groupViews(names)) });
}

/** Classify one glitch's views ({key, files: [{name, bytes: Uint8Array}]}); never throws. */
async function classifyGlitch(glitch) {
  if (!classifier) throw new Error('classify: no model loaded yet');
  try {
    const result = normaliseResult(await classifier.classify(glitch.files), glitch);
    addUnfamiliar(result);
    return result;
  } catch (err) {
    return failedResult(glitch, `classification failed: ${errorMessage(err)}`);
  }
}

/** One result to the page, its thumbnails' bytes transferred. */
function postResult(id, done, total, result) {
  const transfer = [...new Set(result.views.filter((v) => v.thumbnail).map((v) => v.thumbnail.buffer))];
  self.postMessage({ type: 'progress', id, done, total, result }, transfer);
}

async function classify({ id, glitches }) {
  if (!classifier) throw new Error('classify: no model loaded yet');
  if (!Array.isArray(glitches)) throw new Error('classify: glitches must be an array');
  const total = glitches.length;
  for (let i = 0; i < total; i++) {
    const glitch = glitches[i];
    const files = glitch.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) }));
    postResult(id, i + 1, total, await classifyGlitch({ key: glitch.key, files }));
  }
  self.postMessage({ type: 'done', id });
}

// ---- few-shot classes and strain upload (issue #6, part 2) ----
// {type: "fewshot", id, op: "define"|"import"|"remove"|"rescore", ...} -> {type: "fewshot", id, value}
// {type: "strain", id, name, bytes: ArrayBuffer, sampleRate|null, center|null}
//   -> {type: "progress", id, done: 1, total: 1, result} (result.strain: what was read) then {type: "done", id}

async function fewshot(message) {
  const module = await wasm();
  const { id, op } = message;
  let value;
  switch (op) {
    case 'define':
      value = module.fewShotDefine(message.set ?? undefined, message.model, message.dim, message.name,
        message.embeddings, message.keys);
      break;
    case 'import':
      value = module.fewShotImport(message.set ?? undefined, message.model, message.dim, message.text, message.fileName);
      break;
    case 'remove':
      value = module.fewShotRemove(message.set, message.name);
      break;
    case 'rescore': {
      const args = [message.set, message.labels, message.keys, message.probabilities, message.embeddings, message.dim];
      // Prototypes of the model's classes come from its reference set when it ships one (labelled examples),
      // else from the page's other glitches grouped by predicted class.
      const useReference = reference && typeof module.fewShotRescoreWithReference === 'function' && reference.dim === message.dim;
      value = plain(useReference ? module.fewShotRescoreWithReference(reference, ...args) : module.fewShotRescore(...args));
      break;
    }
    default:
      throw new Error(`fewshot: unknown operation "${op}"`);
  }
  self.postMessage({ type: 'fewshot', id, value });
}

async function strain({ id, name, bytes, sampleRate, center }) {
  if (!classifier) throw new Error('strain: no model loaded yet');
  const module = await wasm();
  const started = performance.now();
  const made = module.strainViews(name, new Uint8Array(bytes), sampleRate ?? undefined, center ?? undefined);
  const qMs = performance.now() - started;
  const views = Array.from(made.views, (v) => ({ name: v.name, bytes: v.bytes }));
  const result = await classifyGlitch({ key: made.key, files: views });
  result.strain = {
    file: name, sample_rate: made.sample_rate, sample_rate_from: made.sample_rate_from, gps_start: made.gps_start,
    duration_s: made.duration_s, center_s: made.center_s, qtransform_ms: qMs,
  };
  postResult(id, 1, 1, result);
  self.postMessage({ type: 'done', id });
}

const HANDLERS = {
  load, group, classify, fewshot, strain,
  ...triggerHandlers({ wasm, classifyGlitch, failedResult, postResult }),
};

self.onmessage = (event) => {
  const message = event.data ?? {};
  const handler = HANDLERS[message.type];
  queue = queue.then(async () => {
    try {
      if (!handler) throw new Error(`unknown message type "${message.type}"`);
      await handler(message);
    } catch (err) {
      self.postMessage({ type: 'error', id: message.id, message: errorMessage(err) });
    }
  });
};
