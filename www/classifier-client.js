// Promise-based client for worker.js, shared by the page (app.js) and the Web Component (glitch-classifier.js).
//
//   const client = new ClassifierClient();
//   const { backend, labels, card } = await client.load(cardUrl, 'auto');
//   const groups = await client.group(['H1_x_spectrogram_1.0.png', ...]);
//   await client.classify([{ key, files: [{ name, bytes: ArrayBuffer }] }], ({ done, total, result }) => ...);
//   client.terminate();
//
// The bytes' ArrayBuffers are transferred to the worker (they become detached here).

const WORKER_URL = new URL('./worker.js', import.meta.url);

// A module worker must come from the page's own origin. When this file is loaded from another origin (the widget
// embedded in someone else's page), start the worker from a tiny same-origin blob that imports the real one;
// that needs `worker-src blob:` in the host page's CSP and CORS headers on our files.
function startWorker(url) {
  if (url.origin === self.location.origin) return new Worker(url, { type: 'module', name: 'glitchscope' });
  const shim = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
  return new Worker(URL.createObjectURL(shim), { type: 'module', name: 'glitchscope' });
}

export class ClassifierClient {
  #worker;
  #nextId = 1;
  #pending = new Map(); // id -> { resolve, reject, onProgress }
  #dead = null; // the message that killed the worker, if it died

  constructor(workerUrl = WORKER_URL) {
    this.#worker = startWorker(new URL(workerUrl, self.location.href));
    this.#worker.addEventListener('message', (event) => this.#onMessage(event.data));
    // A module worker that fails to start (syntax error, 404) only raises an 'error' event without detail.
    this.#worker.addEventListener('error', (event) => {
      event.preventDefault();
      const detail = event.message ? `: ${event.message}` : '';
      this.#failAll(`the classification worker stopped${detail} (is www/worker.js served?)`);
    });
    this.#worker.addEventListener('messageerror', () => {
      this.#failAll('a message from the classification worker could not be read');
    });
  }

  /** Load the model card at `cardUrl` (absolute or relative to the page) on `backend` ("auto" | "webgpu" | "cpu"). */
  load(cardUrl, backend) {
    const absolute = new URL(cardUrl, document.baseURI).href;
    return this.#request({ type: 'load', cardUrl: absolute, backend });
  }

  /** Group file names into glitches: [{ key, ifo, files: [{ index, name, duration }] }]. */
  async group(names) {
    const reply = await this.#request({ type: 'group', names });
    return reply.groups;
  }

  /**
   * Classify glitches one after the other; `onProgress({ done, total, result })` is called for each.
   * Resolves when all are done.
   */
  async classify(glitches, onProgress = () => {}) {
    const transfer = [];
    for (const glitch of glitches) {
      for (const file of glitch.files) if (file.bytes instanceof ArrayBuffer) transfer.push(file.bytes);
    }
    await this.#request({ type: 'classify', glitches }, transfer, onProgress);
  }

  /**
   * A few-shot operation in the worker ("define" | "import" | "remove" | "rescore", see worker.js); resolves to
   * its value (the set's JSON text, or the re-scored glitches).
   */
  async fewShot(op, payload, transfer = []) {
    const reply = await this.#request({ type: 'fewshot', op, ...payload }, transfer);
    return reply.value;
  }

  /**
   * Q-transform a strain upload (`bytes`: an ArrayBuffer of GWOSC ASCII or .npy, transferred) into the four
   * Gravity Spy views and classify them; resolves to the glitch's result (with `.strain`: what was read).
   */
  async strain(name, bytes, { sampleRate = null, center = null } = {}) {
    let result = null;
    await this.#request({ type: 'strain', name, bytes, sampleRate, center }, [bytes], (message) => {
      result = message.result;
    });
    return result;
  }

  terminate() {
    this.#worker.terminate();
    this.#failAll('the classification worker was stopped');
  }

  #request(message, transfer = [], onProgress = null) {
    if (this.#dead) return Promise.reject(new Error(this.#dead));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ ...message, id }, transfer);
    });
  }

  #onMessage(message) {
    const pending = this.#pending.get(message?.id);
    if (!pending) return;
    switch (message.type) {
      case 'progress':
        try {
          pending.onProgress?.(message);
        } catch (err) {
          // A rendering bug must not leave the request hanging.
          console.error('GlitchScope: progress handler failed', err);
        }
        return;
      case 'error':
        this.#pending.delete(message.id);
        pending.reject(new Error(message.message));
        return;
      default: // ready, groups, done
        this.#pending.delete(message.id);
        pending.resolve(message);
    }
  }

  #failAll(reason) {
    this.#dead ??= reason;
    for (const { reject } of this.#pending.values()) reject(new Error(reason));
    this.#pending.clear();
  }
}
