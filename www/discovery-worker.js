// GlitchScope discovery worker (a module Web Worker): the embedding map (t-SNE), its clusters (HDBSCAN) and
// similarity search, in wasm, away from the page and from the classification worker (a long map never delays a
// classification, and a backend switch there does not lose the map).
//
// Messages in (each with an `id` that the replies repeat):
//   {type: "load", id, cardUrl}                        -> {type: "ready", id, reference, referenceError}
//   {type: "map", id, flat: Float32Array, dim, options, every}
//        -> {type: "progress", id, iteration, total, coordinates: Float32Array} every `every` iterations,
//           then {type: "done", id, coordinates, clusters: Int32Array, ms: {prepare, tsne, clusters}}
//   {type: "cancel", target}                           stops map run `target` (it answers {type: "cancelled", id})
//   {type: "similar", id, flat, dim, row, k}           -> {type: "neighbours", id, among: [{index, similarity}],
//                                                          reference: [{index, key, label, similarity}]}
// Errors: {type: "error", id, message}. Float32Array buffers are transferred both ways.

import { loadReference } from './reference-loader.js';

const PKG_URL = new URL('./pkg/glitchscope.js', import.meta.url);

let wasmModule = null;
let reference = null; // ReferenceIndex of the model's shipped set, if any
const cancelled = new Set(); // ids of map runs to stop at their next step

function wasm() {
  wasmModule ??= import(PKG_URL.href).then(
    async (module) => {
      await module.default();
      return module;
    },
    (err) => {
      throw new Error(`cannot load the wasm package ${PKG_URL.pathname} (${err?.message ?? err}); build it with scripts/build-web.sh`);
    },
  );
  return wasmModule;
}

const message = (err) => (err instanceof Error ? err.message : typeof err === 'string' ? err : String(err));
// Let queued messages (a cancel, a similarity search) run between steps.
const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

// serde hands back Maps for objects; the page wants plain ones.
function plain(value) {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

async function load({ id, cardUrl }) {
  const module = await wasm();
  const response = await fetch(cardUrl);
  if (!response.ok) throw new Error(`cannot fetch the model card ${cardUrl}: HTTP ${response.status}`);
  const card = await response.json();
  const ref = await loadReference(module, card, cardUrl);
  reference = ref.index;
  self.postMessage({ type: 'ready', id, reference: ref.info, referenceError: ref.error });
}

async function map({ id, flat, dim, options = {}, every = 25 }) {
  const module = await wasm();
  const t0 = performance.now();
  const run = new module.EmbeddingMap(flat, dim, options);
  const t1 = performance.now();
  try {
    for (;;) {
      const progress = plain(run.step(Math.max(1, every)));
      if (cancelled.delete(id)) {
        self.postMessage({ type: 'cancelled', id });
        return;
      }
      if (progress.done) break;
      const coordinates = run.coordinates();
      self.postMessage({ type: 'progress', id, iteration: progress.iteration, total: progress.total, coordinates }, [coordinates.buffer]);
      await yieldToEvents();
      if (cancelled.delete(id)) {
        self.postMessage({ type: 'cancelled', id });
        return;
      }
    }
    const t2 = performance.now();
    const clusters = run.clusters();
    const t3 = performance.now();
    const coordinates = run.coordinates();
    self.postMessage(
      { type: 'done', id, coordinates, clusters, ms: { prepare: t1 - t0, tsne: t2 - t1, clusters: t3 - t2 } },
      [coordinates.buffer, clusters.buffer],
    );
  } finally {
    run.free();
  }
}

async function similar({ id, flat, dim, row, k = 8 }) {
  const module = await wasm();
  const among = plain(module.nearestAmong(flat, dim, row, k));
  let found = [];
  if (reference) {
    const query = flat.subarray(row * dim, (row + 1) * dim);
    found = plain(reference.nearest(query, k));
  }
  self.postMessage({ type: 'neighbours', id, among, reference: found });
}

const HANDLERS = { load, map, similar };

self.onmessage = async (event) => {
  const msg = event.data ?? {};
  if (msg.type === 'cancel') {
    cancelled.add(msg.target);
    return;
  }
  const handler = HANDLERS[msg.type];
  try {
    if (!handler) throw new Error(`unknown message type "${msg.type}"`);
    await handler(msg);
  } catch (err) {
    self.postMessage({ type: 'error', id: msg.id, message: message(err) });
  }
};
