// Few-shot classes in the page: tick glitches in the results table, name a class, and it joins every
// classification at once. The maths runs in the worker (wasm: discovery::prototypes and few_shot_batch); this
// module keeps the selection, the panel, IndexedDB storage (fewshot-store.js) and JSON export/import, and
// re-scores the page's results whenever the classes or the results change.
//
// A re-scored result keeps the model's own answer in `model_top5`; `top5` then holds the combined ranking, whose
// entries carry `few_shot: true` for the user's classes, and `few_shot` = {share, known_classes}.

import { loadFewShot, saveFewShot } from './fewshot-store.js';

const MAX_IMPORT_BYTES = 16 * 1024 * 1024; // a set of 1280-d prototypes is ~30 kB per class
// Every EfficientNet-Lite backbone here ends in a 1280-channel convolution; used only before any glitch is seen.
const FALLBACK_EMBEDDING_DIM = 1280;

const $ = (id) => document.getElementById(id);

export function createFewShot({ results, request, onRescored }) {
  const ui = {
    name: $('few-shot-name'),
    define: $('few-shot-define'),
    status: $('few-shot-status'),
    list: $('few-shot-list'),
    exportButton: $('few-shot-export'),
    importButton: $('few-shot-import'),
    file: $('few-shot-file'),
  };
  const selected = new Set(); // glitch keys ticked in the table
  let model = null; // model name (card name): sets are kept per model
  let labels = [];
  let set = null; // the set's JSON text, or null when there is none
  let rescoring = null; // the running re-score, so at most one is in flight
  let again = false;

  const classes = () => (set ? JSON.parse(set).classes ?? [] : []);
  const setDim = () => (set ? JSON.parse(set).embedding_dim : null);

  function status(text, state = 'ok') {
    ui.status.textContent = text;
    ui.status.dataset.state = state;
  }

  function embeddingDim() {
    const first = results.all().find((r) => r.ok && r.embedding?.length);
    return first?.embedding.length ?? setDim() ?? FALLBACK_EMBEDDING_DIM;
  }

  function render() {
    const list = classes();
    ui.list.replaceChildren(
      ...list.map((c) => {
        const item = document.createElement('li');
        item.dataset.name = c.name;
        const name = document.createElement('strong');
        name.textContent = c.name;
        const count = c.examples?.length ?? 0;
        const info = document.createElement('span');
        info.className = 'few-shot-examples';
        info.textContent = ` · ${count} example${count === 1 ? '' : 's'}`;
        if (count) info.title = c.examples.join(', ');
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'few-shot-remove';
        remove.textContent = 'Remove';
        remove.setAttribute('aria-label', `Remove the class ${c.name}`);
        remove.addEventListener('click', () => removeClass(c.name));
        item.append(name, info, ' ', remove);
        return item;
      }),
    );
    if (list.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'few-shot-empty';
      empty.textContent = 'No classes of your own yet.';
      ui.list.append(empty);
    }
    ui.exportButton.disabled = list.length === 0;
    updateDefineButton();
  }

  function updateDefineButton() {
    const ok = selected.size ? new Set(results.all().filter((r) => r.ok).map((r) => r.key)) : new Set();
    const n = [...selected].filter((k) => ok.has(k)).length;
    ui.define.textContent = `Define class from ${n} selected`;
    ui.define.disabled = n === 0 || !model;
  }

  async function store(json) {
    set = json;
    render();
    try {
      await saveFewShot(model, json);
    } catch (err) {
      status(`The classes work on this page but could not be saved for next time: ${err.message}`, 'warn');
    }
    await rescore();
  }

  async function define() {
    const name = ui.name.value.trim();
    const chosen = results.all().filter((r) => selected.has(r.key) && r.ok && r.embedding?.length);
    if (!name) return status('Give the new class a name first.', 'error');
    if (labels.includes(name)) return status(`"${name}" is already one of the model's classes; choose another name.`, 'error');
    if (chosen.length === 0) return status('Tick at least one classified glitch in the results table.', 'error');
    const dim = chosen[0].embedding.length;
    if (chosen.some((r) => r.embedding.length !== dim)) return status('The chosen glitches have embeddings of different sizes.', 'error');
    const embeddings = new Float32Array(chosen.length * dim);
    chosen.forEach((r, i) => embeddings.set(r.embedding, i * dim));
    try {
      const json = await request('define', { set, model, dim, name, embeddings, keys: chosen.map((r) => r.key) });
      selected.clear();
      ui.name.value = '';
      onRescored([], { selectionChanged: true });
      await store(json);
      status(`Class "${name}" defined from ${chosen.length} glitch${chosen.length === 1 ? '' : 'es'}; every result now includes it.`);
    } catch (err) {
      status(`Could not define "${name}": ${err.message}`, 'error');
    }
  }

  async function removeClass(name) {
    try {
      await store(await request('remove', { set, name }));
      status(`Class "${name}" removed.`);
    } catch (err) {
      status(`Could not remove "${name}": ${err.message}`, 'error');
    }
  }

  async function importFile(file) {
    try {
      if (file.size > MAX_IMPORT_BYTES) throw new Error(`the file is ${(file.size / 2 ** 20).toFixed(0)} MiB, far too large for few-shot classes`);
      const text = await file.text();
      const before = classes().length;
      const json = await request('import', { set, model, dim: setDim() ?? embeddingDim(), text, fileName: file.name });
      await store(json);
      const added = JSON.parse(json).classes.length - before;
      status(`Imported ${file.name}: ${classes().length} class${classes().length === 1 ? '' : 'es'} now (${added} new).`);
    } catch (err) {
      const message = err.message.startsWith(`${file.name}: `) ? err.message.slice(file.name.length + 2) : err.message;
      status(`Could not import ${file.name}: ${message}`, 'error');
    }
  }

  function exportSet() {
    if (!set) return;
    const url = URL.createObjectURL(new Blob([set], { type: 'application/json' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `glitchscope-few-shot-${model}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ------------------------------------------------------------------------------------------ re-scoring

  function restoreModelAnswer(result) {
    if (!result.model_top5) return false;
    result.top5 = result.model_top5;
    delete result.model_top5;
    delete result.few_shot;
    return true;
  }

  async function rescoreOnce() {
    const all = results.all().filter((r) => r.ok && r.embedding?.length);
    const changed = [];
    const dim = setDim();
    if (classes().length === 0) {
      for (const r of all) if (restoreModelAnswer(r)) changed.push(r.key);
      onRescored(changed);
      return;
    }
    const usable = all.filter((r) => r.embedding.length === dim && r.probabilities?.length === labels.length);
    if (usable.length === 0) return onRescored(changed);
    const n = usable.length;
    const probabilities = new Float32Array(n * labels.length);
    const embeddings = new Float32Array(n * dim);
    usable.forEach((r, i) => {
      probabilities.set(r.probabilities, i * labels.length);
      embeddings.set(r.embedding, i * dim);
    });
    const keys = usable.map((r) => r.key);
    const scored = await request('rescore', { set, labels, keys, probabilities, embeddings, dim });
    const current = new Map(results.all().map((x) => [x.key, x]));
    usable.forEach((r, i) => {
      if (current.get(r.key) !== r) return; // replaced meanwhile; the next round scores it
      r.model_top5 ??= r.top5;
      const before = JSON.stringify(r.top5);
      r.top5 = scored[i].top5;
      r.few_shot = { share: scored[i].few_shot_share, known_classes: scored[i].known_classes };
      if (JSON.stringify(r.top5) !== before) changed.push(r.key);
    });
    onRescored(changed);
  }

  /** Re-score every result (coalesced: a call during a running re-score runs once more afterwards). */
  async function rescore() {
    if (rescoring) {
      again = true;
      return rescoring;
    }
    rescoring = (async () => {
      do {
        again = false;
        try {
          await rescoreOnce();
        } catch (err) {
          status(`Few-shot classes could not be applied: ${err.message}`, 'error');
        }
      } while (again);
    })();
    try {
      await rescoring;
    } finally {
      rescoring = null;
    }
  }

  // ------------------------------------------------------------------------------------------ wiring

  ui.define.addEventListener('click', define);
  ui.name.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !ui.define.disabled) define();
  });
  ui.exportButton.addEventListener('click', exportSet);
  ui.importButton.addEventListener('click', () => ui.file.click());
  ui.file.addEventListener('change', () => {
    const file = ui.file.files?.[0];
    ui.file.value = '';
    if (file) importFile(file);
  });
  let pending = null;
  results.addEventListener('result', () => {
    updateDefineButton();
    if (classes().length === 0) return;
    // A batch brings many results at once: re-score once it pauses.
    clearTimeout(pending);
    pending = setTimeout(rescore, 250);
  });
  results.addEventListener('clear', () => {
    selected.clear();
    updateDefineButton();
  });
  render();

  return {
    /** The model is ready: load its stored classes. */
    async setModel(name, modelLabels) {
      model = name;
      labels = modelLabels;
      try {
        set = await loadFewShot(model);
        render();
        const n = classes().length;
        status(n ? `${n} class${n === 1 ? '' : 'es'} of your own loaded for ${model}.` : '', 'ok');
      } catch (err) {
        set = null;
        render();
        status(`Stored few-shot classes could not be read: ${err.message}`, 'warn');
      }
      await rescore();
    },
    isSelected: (key) => selected.has(key),
    toggle(key, on) {
      if (on) selected.add(key);
      else selected.delete(key);
      updateDefineButton();
    },
    rescore,
  };
}
