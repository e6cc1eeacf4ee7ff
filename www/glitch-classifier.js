// <glitch-classifier>: a Web Component that classifies the views of one glitch and shows its top-5 classes.
//
//   <script type="module" src="glitch-classifier.js"></script>
//   <glitch-classifier model="models/default.json" backend="auto"
//                      src="H1_x_spectrogram_0.5.png H1_x_spectrogram_1.0.png"></glitch-classifier>
//
// Attributes:
//   src      space-separated image URLs (the views of ONE glitch), relative to the page; re-runs when it changes
//   model    model card URL, relative to the page (default: models/default.json next to this script)
//   backend  "auto" (default) | "webgpu" | "cpu"
//   threads  CPU workers classifying at once for the widgets of this model (default 1: a guest on someone
//            else's page keeps to one core; N > 1 loads the model N times, see classifier-client.js)
// Events:
//   classified         detail = the classifier's result ({ key, ok, error?, views, top5, probabilities, embedding,
//                      backend, ms }); also fired with ok=false when no image could be fetched or decoded
//   classifier-error   detail = { message } when the model cannot be loaded
// Property: .result, the last result (or null).
// Method (issue 26): classifyTriggers(file, triggers, { snrMin, fmin, fmax }) classifies the triggers of a strain
//   file (a File or Blob: GWOSC/gwpy HDF5, read by byte ranges in the worker so never whole; or ASCII/.npy);
//   `triggers` is a trigger-list File (GPS times, CSV, Omicron text, LIGO_LW XML, .gz; cut at SNR >= snrMin and
//   fmin..fmax Hz, default 7.5, 10, 2048) or an array of GPS times. Each trigger fires `classified` (detail.trigger
//   = { file, gps, ifo, snr, frequency, line }; a trigger that cannot be rendered has ok=false and an error naming
//   the file and the trigger); resolves to every result in list order (also in .results). Rejects (and shows why)
//   when the file is no readable strain or no trigger is left.
//
// The widget renders into an open shadow root with its own constructed stylesheet (no inline styles, so a strict
// CSP on the host page is fine). Images are fetched by the page; inference runs in a worker shared by all widgets
// that use the same model and backend.

import { ClassifierClient } from './classifier-client.js';
import { renderTop5 } from './top5-chart.js';

const DEFAULT_MODEL = new URL('models/default.json', import.meta.url).href;
const BACKENDS = new Set(['auto', 'webgpu', 'cpu']);
const BACKEND_NAMES = { auto: 'Auto', webgpu: 'WebGPU', cpu: 'CPU (WebAssembly)' };

const STYLES = `
:host {
  display: block;
  --gc-accent: var(--glitchscope-accent, #3b4cca);
  --gc-muted: var(--glitchscope-muted, #59636e);
  --gc-error: var(--glitchscope-error, #b3261e);
  --gc-track: var(--glitchscope-track, rgba(127, 127, 127, 0.18));
  font: inherit;
  color: inherit;
}
:host([hidden]) { display: none; }
.widget { display: grid; gap: 0.4rem; }
.status { margin: 0; font-size: 0.85rem; color: var(--gc-muted); }
.status[data-state="error"] { color: var(--gc-error); }
.meta { margin: 0; font-size: 0.8rem; color: var(--gc-muted); }
.meta:empty { display: none; }
.errors { margin: 0; padding-left: 1.1rem; color: var(--gc-error); font-size: 0.8rem; overflow-wrap: anywhere; }
.errors:empty { display: none; }
.top5 { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.25rem; }
.top5 li {
  display: grid;
  grid-template-columns: minmax(5.5rem, 8.5rem) 1fr 3.6rem;
  gap: 0.5rem;
  align-items: center;
  font-size: 0.9rem;
}
.top5 li:first-child { font-weight: 600; }
.top5-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.top5-bar { height: 0.75rem; background: var(--gc-track); border-radius: 0.375rem; overflow: hidden; }
.top5-fill { display: block; height: 100%; width: calc(var(--p, 0) * 100%); background: var(--gc-accent); }
.top5-value { text-align: right; font-variant-numeric: tabular-nums; }
.triggers { margin: 0; padding-left: 1.1rem; font-size: 0.85rem; max-height: 16rem; overflow: auto; overflow-wrap: anywhere; }
.triggers li[data-ok="false"] { color: var(--gc-error); }
`;

let sharedSheet = null;
function styleSheet() {
  if (!sharedSheet) {
    sharedSheet = new CSSStyleSheet();
    sharedSheet.replaceSync(STYLES);
  }
  return sharedSheet;
}

// One worker per (model, backend), shared by every widget on the page, so ten widgets load the model once.
const workers = new Map();
function classifierFor(cardUrl, backend, threads) {
  const id = `${backend} ${threads} ${cardUrl}`;
  let entry = workers.get(id);
  if (!entry) {
    const client = new ClassifierClient(undefined, { threads });
    entry = { client, ready: client.load(cardUrl, backend) };
    workers.set(id, entry);
    // A failed load is forgotten so that a later run (new src, page retry) tries again.
    entry.ready.catch(() => {
      if (workers.get(id) === entry) workers.delete(id);
      client.terminate();
    });
  }
  return entry;
}

function fileName(url) {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'image';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

async function fetchView(url) {
  const name = fileName(url);
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    return { name, bytes: await response.arrayBuffer() };
  } catch (err) {
    return { name, error: `${url}: could not be fetched (${err.message})` };
  }
}

function emptyResult(key, views, error) {
  return { key, ok: false, error, views, top5: [], probabilities: [], embedding: [], backend: null, ms: 0 };
}

class GlitchClassifierElement extends HTMLElement {
  static observedAttributes = ['src', 'model', 'backend', 'threads'];

  #run = 0; // increases with every (re)run; a run whose number is stale drops its result
  #scheduled = false;
  #ui;
  result = null;
  results = [];

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    if ('adoptedStyleSheets' in root) {
      root.adoptedStyleSheets = [styleSheet()];
    } else {
      const style = document.createElement('style'); // old browsers; needs style-src 'unsafe-inline' there
      style.textContent = STYLES;
      root.append(style);
    }
    const widget = document.createElement('div');
    widget.className = 'widget';
    widget.setAttribute('part', 'widget');
    const status = document.createElement('p');
    status.className = 'status';
    status.setAttribute('part', 'status');
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');
    const output = document.createElement('div');
    output.setAttribute('part', 'output');
    const meta = document.createElement('p');
    meta.className = 'meta';
    meta.setAttribute('part', 'meta');
    const errors = document.createElement('ul');
    errors.className = 'errors';
    errors.setAttribute('part', 'errors');
    widget.append(status, output, meta, errors);
    root.append(widget);
    this.#ui = { status, output, meta, errors };
  }

  connectedCallback() {
    this.#schedule();
  }

  attributeChangedCallback(_name, oldValue, newValue) {
    if (oldValue !== newValue && this.isConnected) this.#schedule();
  }

  // Several attributes set in one go (src and backend) give one run, not three.
  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#classify();
    });
  }

  #setStatus(text, state = 'busy') {
    this.#ui.status.textContent = text;
    this.#ui.status.dataset.state = state;
    this.setAttribute('aria-busy', String(state === 'busy'));
  }

  async #classify() {
    const run = ++this.#run;
    const stale = () => run !== this.#run || !this.isConnected;
    const urls = (this.getAttribute('src') ?? '').split(/\s+/).filter(Boolean);
    this.#ui.output.replaceChildren();
    this.#ui.meta.textContent = '';
    this.#ui.errors.replaceChildren();
    if (urls.length === 0) {
      this.#setStatus('No image to classify (the src attribute is empty).', 'idle');
      return;
    }

    let absolute;
    let settings;
    try {
      absolute = urls.map((u) => new URL(u, document.baseURI).href);
      settings = this.#settings();
    } catch (err) {
      this.#setStatus(`Bad URL in src or model: ${err.message}`, 'error');
      return;
    }
    const { cardUrl, backend, threads } = settings;

    this.#setStatus('Loading the classifier…');
    const { client, ready } = classifierFor(cardUrl, backend, threads);
    const fetching = Promise.all(absolute.map(fetchView));
    let info;
    try {
      info = await ready;
    } catch (err) {
      if (stale()) return;
      const message = `Could not load the model ${cardUrl} on ${BACKEND_NAMES[backend]}: ${err.message}`;
      this.#setStatus(message, 'error');
      this.dispatchEvent(new CustomEvent('classifier-error', { detail: { message }, bubbles: true, composed: true }));
      return;
    }
    const fetched = await fetching;
    if (stale()) return;

    const good = fetched.filter((f) => f.bytes);
    const fetchErrors = fetched.filter((f) => f.error).map((f) => ({ name: f.name, duration: null, ok: false, error: f.error }));
    const key = (good[0] ?? fetched[0]).name.replace(/_spectrogram_.*$|\.[^.]*$/, '');
    let result;
    if (good.length === 0) {
      result = emptyResult(key, fetchErrors, 'none of the images could be fetched');
    } else {
      this.#setStatus(`Classifying ${good.length} view${good.length === 1 ? '' : 's'} on ${BACKEND_NAMES[info.backend]}…`);
      try {
        await client.classify([{ key, files: good }], ({ result: r }) => {
          result = r;
        });
      } catch (err) {
        result = emptyResult(key, fetchErrors, `classification failed: ${err.message}`);
      }
      result ??= emptyResult(key, fetchErrors, 'the classifier returned no result');
      result = { ...result, views: [...fetchErrors, ...result.views] };
    }
    if (stale()) return;
    this.#show(result);
    this.result = result;
    this.dispatchEvent(new CustomEvent('classified', { detail: result, bubbles: true, composed: true }));
  }

  // The model card URL, backend and CPU workers the attributes ask for (throws on a bad model URL).
  #settings() {
    const cardUrl = this.hasAttribute('model') ? new URL(this.getAttribute('model'), document.baseURI).href : DEFAULT_MODEL;
    const requested = this.getAttribute('backend') ?? 'auto';
    const backend = BACKENDS.has(requested) ? requested : 'auto';
    const threads = Math.max(1, Math.min(16, Math.floor(Number(this.getAttribute('threads') ?? 1)) || 1));
    return { cardUrl, backend, threads };
  }

  /** Classify the triggers of a strain file; see the comment at the top of this file. */
  async classifyTriggers(file, triggers, { snrMin = 7.5, fmin = 10, fmax = 2048 } = {}) {
    const run = ++this.#run; // a later src change or call takes the display over
    const shown = () => run === this.#run;
    const { cardUrl, backend, threads } = this.#settings();
    const list = Array.isArray(triggers) ? null : triggers;
    const gps = Array.isArray(triggers) ? triggers.map(Number) : [];
    this.#ui.output.replaceChildren();
    this.#ui.meta.textContent = '';
    this.#ui.errors.replaceChildren();
    this.#setStatus('Loading the classifier…');
    const { client, ready } = classifierFor(cardUrl, backend, threads);
    try {
      await ready;
    } catch (err) {
      const message = `Could not load the model ${cardUrl} on ${BACKEND_NAMES[backend]}: ${err.message}`;
      if (shown()) this.#setStatus(message, 'error');
      this.dispatchEvent(new CustomEvent('classifier-error', { detail: { message }, bubbles: true, composed: true }));
      throw new Error(message);
    }
    const all = [];
    const rows = document.createElement('ul');
    rows.className = 'triggers';
    rows.setAttribute('part', 'triggers');
    if (shown()) this.#ui.output.replaceChildren(rows);
    const started = performance.now();
    try {
      await client.triggers(file, {
        list,
        gps,
        cuts: { snrMin, fmin, fmax },
        onPlan: ({ triggers: kept }) => {
          if (shown()) this.#setStatus(`Classifying ${kept.length} trigger${kept.length === 1 ? '' : 's'} of ${file.name ?? 'the strain file'}…`);
        },
        onProgress: ({ done, total, results }) => {
          for (const result of results) {
            all.push(result);
            const li = document.createElement('li');
            li.dataset.key = result.key;
            li.dataset.ok = String(Boolean(result.ok));
            li.textContent = result.ok ? `${result.key}: ${result.top5[0]?.label} ${(100 * result.top5[0]?.probability).toFixed(1)} %` : `${result.key}: ${result.error}`;
            rows.append(li);
            this.dispatchEvent(new CustomEvent('classified', { detail: result, bubbles: true, composed: true }));
          }
          if (shown()) this.#setStatus(`Classifying triggers: ${done} of ${total} done…`);
        },
      });
    } catch (err) {
      if (shown()) this.#setStatus(`Not classified: ${err.message}`, 'error');
      throw err;
    }
    this.results = all;
    this.result = all.at(-1) ?? null;
    if (shown()) {
      const failed = all.filter((r) => !r.ok).length;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      this.#setStatus(`${all.length - failed} of ${all.length} triggers classified in ${seconds} s`, failed === all.length ? 'error' : 'ok');
    }
    return all;
  }

  #show(result) {
    const errors = result.views.filter((v) => !v.ok).map((v) => v.error ?? `${v.name}: could not be used`);
    // A picture that is no Gravity Spy spectrogram never shows a class without saying so.
    if (result.warning) errors.unshift(`Warning: ${result.warning}`);
    this.#ui.errors.replaceChildren(
      ...errors.map((text) => {
        const li = document.createElement('li');
        li.textContent = text;
        return li;
      }),
    );
    if (!result.ok) {
      this.#setStatus(`Not classified: ${result.error ?? 'no usable view'}`, 'error');
      return;
    }
    this.#setStatus(`Top 5 classes for ${result.key}`, 'ok');
    const chart = renderTop5(document, result.top5, `Top 5 classes for ${result.key}`);
    chart.setAttribute('part', 'top5');
    this.#ui.output.replaceChildren(chart);
    const used = result.views.filter((v) => v.ok).length;
    const ms = Number.isFinite(result.ms) ? ` · ${Math.round(result.ms)} ms` : '';
    this.#ui.meta.textContent = `${used} view${used === 1 ? '' : 's'} · ${BACKEND_NAMES[result.backend] ?? result.backend}${ms}`;
  }
}

if (!customElements.get('glitch-classifier')) customElements.define('glitch-classifier', GlitchClassifierElement);

export { GlitchClassifierElement };
