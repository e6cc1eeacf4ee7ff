// Promise-based client for discovery-worker.js (embedding map, clusters, similarity search), used by the page's
// embedding-map.js and by tests/e2e/bench-discovery.mjs (so the benchmark times exactly what the page runs).
//
//   const discovery = new DiscoveryClient();
//   const { reference } = await discovery.load('models/default.json');
//   const run = discovery.map(flat, dim, { iterations: 750 }, ({ iteration, total, coordinates }) => draw(...));
//   const { coordinates, clusters, ms } = await run.done;   // run.cancel() stops it (done rejects with .cancelled)
//   const { among, reference } = await discovery.similar(flat, dim, row, 8);

const WORKER_URL = new URL('./discovery-worker.js', import.meta.url);

export class DiscoveryClient {
  #worker;
  #nextId = 1;
  #pending = new Map(); // id -> { resolve, reject, onProgress }
  #dead = null;

  constructor(workerUrl = WORKER_URL) {
    this.#worker = new Worker(new URL(workerUrl, self.location.href), { type: 'module', name: 'glitchscope-discovery' });
    this.#worker.addEventListener('message', (event) => this.#onMessage(event.data));
    this.#worker.addEventListener('error', (event) => {
      event.preventDefault();
      this.#failAll(`the discovery worker stopped${event.message ? `: ${event.message}` : ''}`);
    });
  }

  /** Load the wasm package and the reference set named by the card: resolves to { reference, referenceError }. */
  load(cardUrl) {
    return this.#request({ type: 'load', cardUrl: new URL(cardUrl, document.baseURI).href });
  }

  /**
   * Start a map of n embeddings (`flat`: Float32Array of n * dim, transferred). Returns { id, done, cancel }.
   * `onProgress({ iteration, total, coordinates })` is called every `every` iterations.
   */
  map(flat, dim, options = {}, onProgress = () => {}, every = 25) {
    let id = 0;
    const done = this.#request({ type: 'map', flat, dim, options, every }, [flat.buffer], onProgress, (assigned) => {
      id = assigned;
    });
    return { id, done, cancel: () => this.#worker.postMessage({ type: 'cancel', target: id }) };
  }

  /** Nearest neighbours of glitch `row` among all n, and in the reference set. `flat` is copied, not transferred. */
  similar(flat, dim, row, k = 8) {
    return this.#request({ type: 'similar', flat, dim, row, k });
  }

  terminate() {
    this.#worker.terminate();
    this.#failAll('the discovery worker was stopped');
  }

  #request(message, transfer = [], onProgress = null, onId = null) {
    if (this.#dead) return Promise.reject(new Error(this.#dead));
    const id = this.#nextId++;
    onId?.(id);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ ...message, id }, transfer);
    });
  }

  #onMessage(message) {
    const pending = this.#pending.get(message?.id);
    if (!pending) return;
    if (message.type === 'progress') {
      try {
        pending.onProgress?.(message);
      } catch (err) {
        console.error('GlitchScope: map progress handler failed', err);
      }
      return;
    }
    this.#pending.delete(message.id);
    if (message.type === 'error') pending.reject(new Error(message.message));
    else if (message.type === 'cancelled') pending.reject(Object.assign(new Error('map cancelled'), { cancelled: true }));
    else pending.resolve(message);
  }

  #failAll(reason) {
    this.#dead ??= reason;
    for (const { reject } of this.#pending.values()) reject(new Error(reason));
    this.#pending.clear();
  }
}
