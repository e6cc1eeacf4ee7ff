// GlitchScope page: file input, grouping, classification through the worker, results, export.
//
// URL parameters: ?model=<name> loads models/<name>.json (default "default"); ?backend=auto|webgpu|cpu.
// The page itself never loads wasm: grouping and classification both happen in worker.js.

import { ClassifierClient, defaultThreads } from './classifier-client.js';
import { results } from './results-store.js';
import { renderTop5, formatProbability } from './top5-chart.js';
import { TABLE_COLUMNS, toRow, sortRows, toCsv, toJson } from './results-export.js';
import { createFewShot } from './fewshot.js';
import { createStrainUpload } from './strain-upload.js';

const IMAGE_NAME = /\.(png|jpe?g|gif)$/i;
const MAX_FILE_BYTES = 64 * 1024 * 1024; // far above any spectrogram; stops someone dropping a video
const GLITCHES_PER_MESSAGE = 8; // bounds the bytes held in memory at once for big folders
const BACKEND_NAMES = { auto: 'Auto', webgpu: 'WebGPU', cpu: 'CPU (WebAssembly)' };
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const $ = (id) => document.getElementById(id);
const ui = {
  dropZone: $('drop-zone'),
  fileInput: $('file-input'),
  folderInput: $('folder-input'),
  chooseFolder: $('choose-folder'),
  backend: $('backend'),
  clear: $('clear'),
  status: $('status'),
  modelInfo: $('model-info'),
  problems: $('problems'),
  problemList: $('problem-list'),
  exportCsv: $('export-csv'),
  exportJson: $('export-json'),
  tableHead: document.querySelector('#results-table thead tr'),
  tableBody: document.querySelector('#results-table tbody'),
  emptyNote: $('empty-note'),
  tableWrap: document.querySelector('.table-wrap'),
  glitches: $('glitches'),
};

const params = new URLSearchParams(location.search);
const model = parseModelParam(params.get('model'));
// CPU workers classifying at once (classifier-client.js): ?threads=N, else one per core (at most 4).
const threads = parseThreadsParam(params.get('threads'));

let client = null; // the current ClassifierClient (one per backend)
let ready = Promise.reject(new Error('no model loaded'));
ready.catch(() => {});
let modelInfo = null; // { backend, labels, card } once ready
let work = Promise.resolve(); // batches run one after the other
let sort = { column: 'key', direction: 'ascending' };
const cardIds = new Map(); // glitch key -> element id
const thumbnailUrls = new Map(); // glitch key -> blob: URLs to revoke when replaced

// ---------------------------------------------------------------------------------------------- model

function parseThreadsParam(value) {
  const n = Number(value);
  return value !== null && Number.isInteger(n) && n >= 1 && n <= 16 ? n : defaultThreads();
}

function parseModelParam(value) {
  const name = (value ?? 'default').replace(/\.json$/, '');
  if (!MODEL_NAME.test(name)) {
    return { name, cardUrl: null, error: `?model= must be a model name such as "default" (letters, digits, . _ -), not "${name}"` };
  }
  return { name, cardUrl: `models/${name}.json`, error: null };
}

function startModel(backend) {
  client?.terminate();
  modelInfo = null;
  if (model.error) {
    setStatus(model.error, 'error');
    ready = Promise.reject(new Error(model.error));
    ready.catch(() => {});
    return;
  }
  const mine = new ClassifierClient(undefined, { threads });
  client = mine;
  setStatus(`Loading model "${model.name}" (${BACKEND_NAMES[backend]})…`, 'busy');
  const started = performance.now();
  ready = mine.load(model.cardUrl, backend).then(
    (info) => {
      if (client !== mine) return info; // superseded by another backend choice
      modelInfo = info;
      fewShot.setModel(info.card?.name ?? model.name, info.labels);
      results.labels = info.labels;
      showModelInfo(info, backend);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      setStatus(`Ready: model loaded on ${BACKEND_NAMES[info.backend]} in ${seconds} s. Add spectrograms.`, 'ok');
      return info;
    },
    (err) => {
      if (client === mine) {
        const hint = backend === 'auto' ? '' : ' Try another backend.';
        setStatus(`Could not load the model "${model.name}" on ${BACKEND_NAMES[backend]}: ${err.message}.${hint}`, 'error');
        ui.modelInfo.textContent = '';
      }
      throw err;
    },
  );
  ready.catch(() => {}); // reported above; batches await it again
}

function showModelInfo({ backend, card, workers }, requested) {
  const parts = [`Model: ${card.name ?? model.name}`];
  if (card.backbone) parts.push(`backbone ${card.backbone}`);
  if (card.input?.width && card.input?.height) parts.push(`input ${card.input.width}×${card.input.height} px`);
  // metrics is free-form in the card; show a headline accuracy when there is one.
  const accuracy = card.metrics?.accuracy ?? card.metrics?.test_accuracy ?? card.metrics?.test?.accuracy;
  if (Number.isFinite(accuracy)) parts.push(`test accuracy ${formatProbability(accuracy)}`);
  const via = requested === 'auto' ? ` (auto picked ${BACKEND_NAMES[backend]})` : '';
  parts.push(`running on ${BACKEND_NAMES[backend]}${via}`);
  if (workers > 1) parts.push(`${workers} workers`);
  ui.modelInfo.textContent = parts.join(' · ');
  ui.modelInfo.dataset.workers = String(workers ?? 1);
  ui.modelInfo.dataset.backend = backend;
}

// ---------------------------------------------------------------------------------------------- status and problems

function setStatus(text, state) {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
}

function addProblem(fileName, message) {
  // The classifier's messages often start with the file name already; do not say it twice.
  if (message.startsWith(`${fileName}: `)) message = message.slice(fileName.length + 2);
  const item = document.createElement('li');
  item.dataset.file = fileName;
  const name = document.createElement('strong');
  name.textContent = fileName;
  item.append(name, `: ${message}`);
  ui.problemList.append(item);
  ui.problems.hidden = false;
}

// ---------------------------------------------------------------------------------------------- files in

/** Split a list of Files into the ones worth sending to the classifier and per-file problems for the rest. */
function screenFiles(files) {
  const accepted = [];
  for (const file of files) {
    const shown = file.webkitRelativePath || file.name;
    if (!IMAGE_NAME.test(file.name) && !file.type.startsWith('image/')) {
      addProblem(shown, 'not an image (GlitchScope reads PNG, JPEG or GIF spectrograms); skipped');
    } else if (file.size === 0) {
      addProblem(shown, 'the file is empty; skipped');
    } else if (file.size > MAX_FILE_BYTES) {
      addProblem(shown, `the file is ${(file.size / 2 ** 20).toFixed(0)} MiB, too large for a spectrogram; skipped`);
    } else {
      accepted.push(file);
    }
  }
  return accepted;
}

function addFiles(fileList, { strain = true } = {}) {
  // Strain (GWOSC .txt/.txt.gz, .npy, HDF5) and trigger lists picked or dropped go to the strain panel; images to
  // the classifier. A whole folder of spectrograms is images only (a stray readme.txt there is no strain).
  const sorted = strain ? strainUpload.sort([...fileList]) : { strain: [], lists: [], rest: [...fileList] };
  if (sorted.strain.length || sorted.lists.length) strainUpload.handle(sorted.strain, sorted.lists);
  if (sorted.rest.length === 0) return;
  const files = screenFiles(sorted.rest);
  if (files.length === 0) {
    setStatus('None of those files is an image GlitchScope can read; see the list of problems.', 'error');
    return;
  }
  work = work.then(() => classifyFiles(files)).catch((err) => setStatus(`Classification stopped: ${err.message}`, 'error'));
}

/** Read the bytes of a glitch's files; unreadable files become problems and are left out. */
async function readGlitch(group, files) {
  const read = await Promise.all(
    group.files.map(async ({ index }) => {
      const file = files[index];
      try {
        return { name: file.name, bytes: await file.arrayBuffer() };
      } catch (err) {
        addProblem(file.webkitRelativePath || file.name, `could not be read (${err.message}); skipped`);
        return null;
      }
    }),
  );
  return { key: group.key, files: read.filter(Boolean) };
}

/** Run `task(client)`; if the backend is switched meanwhile (the old worker stops), run it again on the new one. */
async function onCurrentClient(task) {
  for (;;) {
    const current = client;
    try {
      await ready;
      return await task(current);
    } catch (err) {
      if (current === client) throw err;
    }
  }
}

async function classifyFiles(files) {
  let info;
  try {
    info = await ready;
  } catch (err) {
    setStatus(`Cannot classify: the model is not loaded (${err.message}).`, 'error');
    return;
  }
  const groups = await onCurrentClient((c) => c.group(files.map((f) => f.name)));
  const total = groups.length;
  const started = performance.now();
  const finished = new Set(); // keys done, so a chunk redone after a backend switch is not counted twice
  let failed = 0;
  setStatus(`Classifying ${total} glitch${total === 1 ? '' : 'es'} from ${files.length} file${files.length === 1 ? '' : 's'}…`, 'busy');

  for (let start = 0; start < total; start += GLITCHES_PER_MESSAGE) {
    const chunk = groups.slice(start, start + GLITCHES_PER_MESSAGE);
    // If the backend is switched mid-batch the old worker is stopped; the unfinished part of this chunk is then
    // read again (its bytes were transferred away) and sent to the new worker.
    await onCurrentClient(async (current) => {
      info = await ready;
      const todo = chunk.filter((g) => !finished.has(g.key));
      const glitches = (await Promise.all(todo.map((g) => readGlitch(g, files)))).filter((g) => g.files.length);
      await current.classify(glitches, ({ result }) => {
        finished.add(result.key);
        if (!result.ok) failed += 1;
        reportViewProblems(result);
        results.add(result);
        setStatus(`Classifying: ${finished.size} of ${total} glitches done (${BACKEND_NAMES[info.backend]})…`, 'busy');
      });
    });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const done = finished.size;
  const problems = failed ? `; ${failed} could not be classified (see the list of problems)` : '';
  setStatus(`Done: ${done - failed} of ${total} glitch${total === 1 ? '' : 'es'} classified in ${seconds} s on ${BACKEND_NAMES[info.backend]}${problems}.`, failed ? 'warn' : 'ok');
}

function reportViewProblems(result) {
  const bad = (result.views ?? []).filter((v) => !v.ok);
  for (const view of bad) addProblem(view.name, view.error ?? 'could not be used');
  if (!result.ok && bad.length === 0) addProblem(result.key, result.error ?? 'could not be classified');
}

/** Files from a drop, walking into dropped folders when the browser exposes entries. */
async function droppedFiles(dataTransfer) {
  const entries = [...(dataTransfer.items ?? [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 0) return [...dataTransfer.files];
  const files = [];
  async function walk(entry) {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries returns the folder in batches until an empty one.
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  }
  for (const entry of entries) {
    try {
      await walk(entry);
    } catch (err) {
      addProblem(entry.name, `could not be read (${err.message}); skipped`);
    }
  }
  return files;
}

// ---------------------------------------------------------------------------------------------- results out

function cardId(key) {
  if (!cardIds.has(key)) cardIds.set(key, `glitch-${cardIds.size + 1}`);
  return cardIds.get(key);
}

function renderCard(result) {
  const article = document.createElement('article');
  article.className = 'glitch';
  article.id = cardId(result.key);
  article.dataset.key = result.key;
  article.dataset.ok = String(Boolean(result.ok));
  article.setAttribute('aria-labelledby', `${article.id}-title`);

  const title = document.createElement('h3');
  title.id = `${article.id}-title`;
  title.textContent = result.key;
  const meta = document.createElement('p');
  meta.className = 'glitch-meta';
  const usable = result.views.filter((v) => v.ok).length;
  const ms = Number.isFinite(result.ms) ? `${Math.round(result.ms)} ms` : '';
  const t = result.trigger;
  const trigger = t ? [`${t.file} GPS ${t.gps}`, t.snr != null ? `SNR ${t.snr}` : '', t.frequency != null ? `${t.frequency} Hz` : ''].filter(Boolean).join(', ') : '';
  meta.textContent = [trigger, `${usable} of ${result.views.length} view${result.views.length === 1 ? '' : 's'} used`,
    result.backend ? BACKEND_NAMES[result.backend] ?? result.backend : '', ms].filter(Boolean).join(' · ');
  meta.dataset.backend = result.backend ?? '';
  meta.dataset.ms = String(result.ms ?? '');

  const views = document.createElement('div');
  views.className = 'views';
  for (const view of result.views) views.append(renderView(result, view));

  article.append(title, meta, views);
  if (result.warning) {
    // Not a Gravity Spy spectrogram: the class below must never be shown without this.
    const warning = document.createElement('p');
    warning.className = 'glitch-warning';
    warning.setAttribute('role', 'alert');
    warning.textContent = `Warning: ${result.warning}`;
    article.append(warning);
  }
  if (result.ok) {
    const chart = renderTop5(document, result.top5, `Top 5 classes for ${result.key}`);
    article.append(chart);
    const note = markFewShot(chart, result);
    if (note) article.append(note);
  } else {
    const error = document.createElement('p');
    error.className = 'glitch-error';
    error.textContent = `Not classified: ${result.error ?? 'no usable view'}`;
    article.append(error);
  }
  return article;
}

function renderView(result, view) {
  const figure = document.createElement('figure');
  figure.className = view.ok ? 'view' : 'view view-failed';
  const duration = Number.isFinite(view.duration) ? `${view.duration} s` : 'unknown duration';
  if (view.ok && view.thumbnail) {
    const url = URL.createObjectURL(new Blob([view.thumbnail], { type: 'image/png' }));
    thumbnailUrls.get(result.key)?.push(url) ?? thumbnailUrls.set(result.key, [url]);
    const img = document.createElement('img');
    img.src = url;
    img.alt = `${result.key}, ${duration} view`;
    img.loading = 'lazy';
    figure.append(img);
  } else if (!view.ok) {
    const error = document.createElement('p');
    error.className = 'view-error';
    error.textContent = view.error ?? 'could not be used';
    figure.append(error);
  }
  // A failed view is captioned with its file name unless the error message already names it.
  if (view.ok || !(view.error ?? '').includes(view.name)) {
    const caption = document.createElement('figcaption');
    caption.textContent = view.ok ? duration : view.name;
    const share = viewShare(result, view);
    if (share !== null) {
      // Which view mattered: this view's part of the top class's logit (the head is linear over the views).
      const part = document.createElement('span');
      part.className = 'view-share';
      part.dataset.contribution = String(share.contribution);
      part.textContent = ` · ${share.contribution >= 0 ? '+' : ''}${share.contribution.toFixed(1)}`;
      part.title = `This view adds ${share.contribution.toFixed(2)} to the logit of ${result.top5[0]?.label ?? 'the top class'}` +
        (share.largest ? ' — the view that mattered most' : '');
      if (share.largest) part.classList.add('view-share-top');
      caption.append(part);
    }
    figure.append(caption);
  }
  return figure;
}

/** This view's contribution to the top class, and whether it is the largest of the glitch's views. */
function viewShare(result, view) {
  if (!view.ok || !result.ok || !Array.isArray(result.view_contributions)) return null;
  const slot = SLOT_OF_DURATION.get(view.duration) ?? 1;
  const contribution = result.view_contributions[slot];
  if (!Number.isFinite(contribution)) return null;
  const present = result.view_contributions.filter(Number.isFinite);
  return { contribution, largest: present.length > 1 && contribution === Math.max(...present) };
}

// View slots of the 0.5, 1, 2 and 4 s views; a view of unknown duration takes the 1 s slot (as in Rust).
const SLOT_OF_DURATION = new Map([[0.5, 0], [1, 1], [2, 2], [4, 3]]);

function showResult(result) {
  for (const url of thumbnailUrls.get(result.key) ?? []) URL.revokeObjectURL(url);
  thumbnailUrls.delete(result.key);
  const card = renderCard(result);
  const old = document.getElementById(card.id);
  if (old) old.replaceWith(card);
  else ui.glitches.append(card);
  scheduleTable();
  updateButtons();
}

function clearResults() {
  for (const urls of thumbnailUrls.values()) for (const url of urls) URL.revokeObjectURL(url);
  thumbnailUrls.clear();
  cardIds.clear();
  ui.glitches.replaceChildren();
  ui.problemList.replaceChildren();
  ui.problems.hidden = true;
  scheduleTable();
  updateButtons();
}

function updateButtons() {
  const any = results.size > 0;
  ui.exportCsv.disabled = !any;
  ui.exportJson.disabled = !any;
  ui.clear.disabled = !any && ui.problemList.children.length === 0;
  ui.emptyNote.hidden = any;
  ui.tableWrap.hidden = !any;
}

// The table is rebuilt at most once per frame: a big folder produces results faster than it is worth redrawing.
let tablePending = false;
function scheduleTable() {
  if (tablePending) return;
  tablePending = true;
  requestAnimationFrame(() => {
    tablePending = false;
    renderTable();
  });
}

function renderTableHead() {
  ui.tableHead.replaceChildren(
    ...TABLE_COLUMNS.map((column) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.column = column.id;
      if (column.numeric) th.className = 'numeric';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'sort-button';
      button.textContent = column.title;
      button.addEventListener('click', () => {
        sort = {
          column: column.id,
          direction: sort.column === column.id && sort.direction === 'ascending' ? 'descending' : 'ascending',
        };
        renderTable();
      });
      th.append(button);
      return th;
    }),
  );
}

function renderTable() {
  for (const th of ui.tableHead.children) {
    if (th.dataset.column === sort.column) th.setAttribute('aria-sort', sort.direction);
    else th.removeAttribute('aria-sort');
  }
  const rows = sortRows(results.all().map(toRow), sort.column, sort.direction);
  ui.tableBody.replaceChildren(...rows.map(renderRow));
}

function renderRow(row) {
  const tr = document.createElement('tr');
  tr.dataset.key = row.key;
  tr.dataset.ok = String(row.ok);
  const cell = (text, className) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  const keyCell = document.createElement('th');
  keyCell.append(pickBox(row)); // tick to use the glitch as an example of a few-shot class
  keyCell.scope = 'row';
  const link = document.createElement('a');
  link.href = `#${cardId(row.key)}`;
  link.textContent = row.key;
  keyCell.append(link);
  if (!row.ok) {
    tr.className = 'failed';
    const td = cell(`Not classified: ${row.error}`, 'error');
    td.colSpan = TABLE_COLUMNS.length - 2;
    tr.append(keyCell, td, cell(row.ms != null ? String(Math.round(row.ms)) : '–', 'numeric'));
    return tr;
  }
  tr.append(
    keyCell,
    cell(row.top_class),
    cell(formatProbability(row.top_probability), 'numeric'),
    cell(row.second_class ?? '–'),
    cell(formatProbability(row.second_probability), 'numeric'),
    unfamiliarCell(row),
    cell(row.ms != null ? String(Math.round(row.ms)) : '–', 'numeric'),
  );
  return tr;
}

// The unfamiliar percentile; a new-class candidate (at or above the calibration's flag) is marked.
function unfamiliarCell(row) {
  const td = document.createElement('td');
  td.className = 'numeric unfamiliar';
  if (row.unfamiliar == null) {
    td.textContent = '–';
    return td;
  }
  td.textContent = formatProbability(row.unfamiliar);
  if (row.new_class_candidate) {
    td.classList.add('candidate');
    td.title = 'Candidate for a new class: stranger than the flag threshold of known-class glitches';
    const mark = document.createElement('span');
    mark.className = 'candidate-mark';
    mark.textContent = ' new?';
    td.append(mark);
  }
  return td;
}

function download(text, fileName, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke after the browser has started the download.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function labelsForExport() {
  return modelInfo?.labels ?? results.labels ?? [];
}

// ---------------------------------------------------------------------------------------------- few-shot marks

/** A checkbox in the glitch's table row to pick it as an example of a few-shot class. */
function pickBox(row) {
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.className = 'pick-box';
  box.checked = fewShot.isSelected(row.key);
  box.disabled = !row.ok;
  box.setAttribute('aria-label', `Pick ${row.key} as an example for a new class`);
  box.addEventListener('change', () => fewShot.toggle(row.key, box.checked));
  return box;
}

/**
 * Mark the user's few-shot classes in a top-5 chart; returns a note saying how much of the probability they
 * took (or why they could not compete), or null when no few-shot class is defined.
 */
function markFewShot(chart, result) {
  result.top5.forEach((entry, i) => {
    if (!entry.few_shot) return;
    const item = chart.children[i];
    item.dataset.fewShot = 'true';
    item.classList.add('few-shot');
    item.title = 'Your few-shot class (prototype over embeddings), not one of the model\'s';
  });
  if (!result.few_shot) return null;
  const note = document.createElement('p');
  note.className = 'few-shot-note';
  note.textContent = result.few_shot.known_classes === 0
    ? 'Your classes could not compete yet: no glitch of a known class to compare with.'
    : `Your few-shot classes took ${formatProbability(result.few_shot.share)} of the probability; the model's classes share the rest.`;
  return note;
}

// ---------------------------------------------------------------------------------------------- wiring

ui.dropZone.addEventListener('click', () => ui.fileInput.click());
ui.chooseFolder.addEventListener('click', () => ui.folderInput.click());
for (const input of [ui.fileInput, ui.folderInput]) {
  input.addEventListener('change', () => {
    if (input.files?.length) addFiles(input.files, { strain: input !== ui.folderInput });
    input.value = ''; // choosing the same files again must fire 'change' again
  });
}

// The whole page accepts drops, so a near miss does not make the browser open the image instead.
let dragDepth = 0;
document.addEventListener('dragenter', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  dragDepth += 1;
  ui.dropZone.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.dropZone.classList.remove('dragging');
});
document.addEventListener('dragover', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('drop', async (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  dragDepth = 0;
  ui.dropZone.classList.remove('dragging');
  addFiles(await droppedFiles(event.dataTransfer));
});

ui.backend.addEventListener('change', () => startModel(ui.backend.value));

ui.clear.addEventListener('click', () => {
  results.clear();
  setStatus(modelInfo ? 'Results cleared. Add spectrograms.' : ui.status.textContent, ui.status.dataset.state);
});

ui.exportCsv.addEventListener('click', () => {
  download(toCsv(results.all(), labelsForExport()), 'glitchscope-results.csv', 'text/csv');
});
ui.exportJson.addEventListener('click', () => {
  const json = toJson(results.all(), { labels: labelsForExport(), card: modelInfo?.card, backend: modelInfo?.backend });
  download(json, 'glitchscope-results.json', 'application/json');
});

results.addEventListener('result', (event) => showResult(event.detail.result));
// Few-shot re-scoring changes results in place: redraw their cards and the table.
function onRescored(keys) {
  const byKey = new Map(results.all().map((r) => [r.key, r]));
  for (const key of keys) {
    const result = byKey.get(key);
    if (result) showResult(result);
  }
  scheduleTable();
}
const fewShot = createFewShot({
  results,
  request: (op, payload) => onCurrentClient((c) => c.fewShot(op, payload)),
  onRescored,
});
const strainUpload = createStrainUpload({
  classify: async (name, bytes, options) => {
    await ready;
    return client.strain(name, bytes, options);
  },
  classifyTriggers: async (file, options) => {
    await ready;
    return client.triggers(file, options);
  },
  onResult: (result) => {
    reportViewProblems(result);
    results.add(result);
  },
  onProblem: addProblem,
});
results.addEventListener('clear', clearResults);

const requestedBackend = params.get('backend');
if (requestedBackend && requestedBackend in BACKEND_NAMES) ui.backend.value = requestedBackend;
renderTableHead();
renderTable();
updateButtons();
startModel(ui.backend.value);
