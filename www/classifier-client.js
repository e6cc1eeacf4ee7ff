// Promise-based client for worker.js, shared by the page (app.js) and the Web Component (glitch-classifier.js).
//
//   const client = new ClassifierClient();
//   const { backend, labels, card } = await client.load(cardUrl, 'auto');
//   const groups = await client.group(['H1_x_spectrogram_1.0.png', ...]);
//   await client.classify([{ key, files: [{ name, bytes: ArrayBuffer }] }], ({ done, total, result }) => ...);
//   await client.triggers(hdf5File, { list: triggerListFile, gps: [], onProgress: ({ done, total, results }) => ... });
//   client.terminate();
//
// The bytes' ArrayBuffers are transferred to the workers (they become detached here).

const WORKER_URL = new URL('./worker.js', import.meta.url);
const MAX_LIST_BYTES = 64 * 1024 * 1024; // a trigger list is read whole (Omicron CSV of a whole day: a few MiB)

// Workers keep a strain file open between triggers; they know it again by this id (a File posted to a worker
// arrives as a new object each time).
const fileIds = new WeakMap();
let nextFileId = 1;
function fileIdOf(file) {
  if (!fileIds.has(file)) fileIds.set(file, `f${nextFileId++}`);
  return fileIds.get(file);
}

// A module worker must come from the page's own origin. When this file is loaded from another origin (the widget
// embedded in someone else's page), start the worker from a tiny same-origin blob that imports the real one;
// that needs `worker-src blob:` in the host page's CSP and CORS headers on our files.
function startWorker(url) {
  if (url.origin === self.location.origin) return new Worker(url, { type: 'module', name: 'glitchscope' });
  const shim = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
  return new Worker(URL.createObjectURL(shim), { type: 'module', name: 'glitchscope' });
}

// With `threads` > 1 and the CPU backend, the client runs a pool of workers, each with its own single-threaded
// wasm instance and its own copy of the model, and hands glitches to whichever is free: glitches are
// independent, so N workers classify N at once. This needs no SharedArrayBuffer, so it works the same in a
// cross-origin isolated page and inside a host page that is not (the widget case), where wasm threads
// (wasm-bindgen-rayon) could not start; it costs one model per worker in memory. WebGPU keeps one worker (one GPU
// queue). Glitches and triggers go to whichever worker is free; grouping, few-shot, strain upload and reading a
// trigger list go to the first worker.

/** The page's default pool size: one worker per core the browser reports, at most 4. */
export function defaultThreads() {
  const cores = Number(self.navigator?.hardwareConcurrency) || 1;
  return Math.max(1, Math.min(4, cores));
}

export class ClassifierClient {
  #workerUrl;
  #threads;
  #channels = []; // WorkerChannel, the first one loaded first
  #idle = []; // channels free for the next glitch
  #jobs = []; // jobs waiting for a channel: { message, transfer, resolve, reject }
  #loaded = false; // glitches wait in #jobs until the model is loaded
  #failure = null; // why no glitch can be classified any more (the load failed, every worker stopped)
  #terminated = false;

  /** `threads`: how many workers may classify at once on the CPU backend (1: a single worker). */
  constructor(workerUrl = WORKER_URL, { threads = 1 } = {}) {
    this.#workerUrl = new URL(workerUrl, self.location.href);
    this.#threads = Math.max(1, Math.floor(Number(threads) || 1));
    this.#channels.push(new WorkerChannel(this.#workerUrl));
  }

  /**
   * Load the model card at `cardUrl` (absolute or relative to the page) on `backend` ("auto" | "webgpu" | "cpu").
   * On the CPU with `threads` > 1 the other workers load the same card; one that fails is left out with a console
   * warning (the pool is smaller, nothing else changes).
   */
  async load(cardUrl, backend) {
    const absolute = new URL(cardUrl, document.baseURI).href;
    let info;
    try {
      info = await this.#channels[0].request({ type: 'load', cardUrl: absolute, backend });
    } catch (err) {
      this.#fail(err.message); // glitches already waiting must not wait for ever
      throw err;
    }
    if (info.backend === 'cpu' && this.#threads > 1) {
      const extra = Array.from({ length: this.#threads - 1 }, () => new WorkerChannel(this.#workerUrl));
      const loaded = await Promise.all(
        extra.map((channel) =>
          channel.request({ type: 'load', cardUrl: absolute, backend: 'cpu' }).then(
            () => channel,
            (err) => {
              console.warn(`GlitchScope: an extra classification worker could not load the model (${err.message}); using fewer`);
              channel.terminate();
              return null;
            },
          ),
        ),
      );
      const ready = loaded.filter(Boolean);
      // Terminated while they loaded (the page switched backend): they are not ours to keep.
      if (this.#terminated) ready.forEach((channel) => channel.terminate());
      else this.#channels.push(...ready);
    }
    this.#idle = [...this.#channels];
    this.#loaded = true;
    this.#pump();
    return { ...info, workers: this.#channels.length };
  }

  /** Group file names into glitches: [{ key, ifo, files: [{ index, name, duration }] }]. */
  async group(names) {
    const reply = await this.#channels[0].request({ type: 'group', names });
    return reply.groups;
  }

  /**
   * Classify glitches; `onProgress({ done, total, result })` is called for each, in the order given (with several
   * workers a glitch that finishes early waits for those before it, so that the page's results, tables and exports
   * keep one order whatever the pool). Resolves when all are done.
   */
  async classify(glitches, onProgress = () => {}) {
    const jobs = glitches.map((glitch) => ({
      message: { type: 'classify', glitches: [glitch] },
      transfer: glitch.files.map((f) => f.bytes).filter((b) => b instanceof ArrayBuffer),
    }));
    await this.#runInOrder(jobs, ({ done, total, results }) => onProgress({ done, total, result: results[0] }));
  }

  /**
   * Classify the triggers of a strain file (issue 26). `file`: a File (GWOSC/gwpy HDF5, ASCII or .npy); the
   * workers read HDF5 by byte ranges, so it is never loaded whole. `list`: a trigger-list File (GPS times, CSV,
   * Omicron text, LIGO_LW XML, .gz) or null; `gps`: GPS times; `cuts`: { snrMin, fmin, fmax } (default 7.5, 10,
   * 2048 Hz, as Gravity Spy and the CLI). `onPlan({ series, total, triggers })` once the file and list are read;
   * `onProgress({ done, total, trigger, results })` per trigger, in list order, with one result per detector of
   * the file holding it (a trigger that cannot be rendered has a failed result naming the file and the trigger).
   * Rejects when the file is no readable strain or no trigger is left; resolves to the plan.
   */
  async triggers(file, { list = null, gps = [], cuts = {}, window = null, sampleRate = null, onPlan = () => {}, onProgress = () => {} } = {}) {
    if (this.#failure) throw new Error(this.#failure);
    const fileId = fileIdOf(file);
    const fileName = file.name ?? 'strain';
    let listMessage = null;
    if (list) {
      if (list.size > MAX_LIST_BYTES) throw new Error(`${list.name}: the trigger list is ${(list.size / 2 ** 20).toFixed(0)} MiB, more than ${MAX_LIST_BYTES / 2 ** 20} MiB`);
      listMessage = { name: list.name, bytes: await list.arrayBuffer() };
    }
    const common = { file, fileId, fileName, sampleRate };
    const plan = await this.#channels[0].request(
      { type: 'trigger-plan', ...common, list: listMessage, gps, cuts },
      listMessage ? [listMessage.bytes] : [],
    );
    const info = { series: plan.series, total: plan.total, triggers: plan.triggers };
    onPlan(info);
    const jobs = plan.triggers.map((trigger) => ({ message: { type: 'trigger', ...common, window, trigger }, transfer: [] }));
    await this.#runInOrder(jobs, ({ done, total, results }) => onProgress({ done, total, trigger: plan.triggers[done - 1], results }));
    return info;
  }

  // Run jobs ({ message, transfer }) on the pool, one message per job; `report({ done, total, results })` for each
  // job in the order given, with the results of its progress messages.
  async #runInOrder(jobs, report) {
    if (this.#failure) throw new Error(this.#failure);
    const total = jobs.length;
    const results = new Array(total);
    let done = 0; // jobs reported so far: 0..done-1, in order
    const flush = () => {
      for (; done < total && results[done] !== undefined; done++) {
        try {
          report({ done: done + 1, total, results: results[done] });
        } catch (err) {
          // A rendering bug must not leave the batch hanging.
          console.error('GlitchScope: progress handler failed', err);
        }
      }
    };
    const finished = jobs.map((job, i) =>
      new Promise((resolve, reject) => this.#jobs.push({ ...job, resolve, reject })).then((got) => {
        results[i] = got;
        flush();
      }),
    );
    this.#pump();
    await Promise.all(finished);
  }

  // Give waiting jobs to free workers, one job per message.
  #pump() {
    if (!this.#loaded) return; // not loaded yet: load() pumps when it is
    // Every worker has stopped: nothing will take the waiting glitches.
    if (this.#channels.every((channel) => channel.dead)) this.#fail('every classification worker stopped');
    while (this.#idle.length && this.#jobs.length) {
      const channel = this.#idle.shift();
      const { message, transfer, resolve, reject } = this.#jobs.shift();
      const got = [];
      channel
        .request(message, transfer, (progress) => got.push(progress.result))
        .then(
          () => resolve(got),
          (err) => reject(err),
        )
        .finally(() => {
          if (!channel.dead) this.#idle.push(channel);
          this.#pump();
        });
    }
  }

  /**
   * A few-shot operation in the worker ("define" | "import" | "remove" | "rescore", see worker.js); resolves to
   * its value (the set's JSON text, or the re-scored glitches).
   */
  async fewShot(op, payload, transfer = []) {
    const reply = await this.#channels[0].request({ type: 'fewshot', op, ...payload }, transfer);
    return reply.value;
  }

  /**
   * Q-transform a strain upload (`bytes`: an ArrayBuffer of GWOSC ASCII or .npy, transferred) into the four
   * Gravity Spy views and classify them; resolves to the glitch's result (with `.strain`: what was read).
   */
  async strain(name, bytes, { sampleRate = null, center = null } = {}) {
    let result = null;
    await this.#channels[0].request({ type: 'strain', name, bytes, sampleRate, center }, [bytes], (message) => {
      result = message.result;
    });
    return result;
  }

  terminate() {
    this.#terminated = true;
    for (const channel of this.#channels) channel.terminate();
    this.#fail('the classification worker was stopped');
  }

  // No glitch can be classified from now on: reject the waiting ones and every later classify().
  #fail(reason) {
    this.#failure ??= reason;
    for (const job of this.#jobs.splice(0)) job.reject(new Error(reason));
  }
}

// One worker.js and its pending requests.
class WorkerChannel {
  #worker;
  #nextId = 1;
  #pending = new Map(); // id -> { resolve, reject, onProgress }
  #dead = null; // the message that killed the worker, if it died

  constructor(workerUrl) {
    this.#worker = startWorker(workerUrl);
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

  get dead() {
    return this.#dead !== null;
  }

  terminate() {
    this.#worker.terminate();
    this.#failAll('the classification worker was stopped');
  }

  request(message, transfer = [], onProgress = null) {
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
