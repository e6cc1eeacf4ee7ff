// The embedding map section (issue #6): a t-SNE map of every classified glitch, coloured by top class, with
// HDBSCAN outliers hollow and unfamiliar glitches ringed; hover for details, click for similar glitches.
//
// It only listens to results-store.js (no change to app.js is needed for the map) and runs all computation in
// discovery-worker.js, so the page stays responsive; the map is drawn on one <canvas>, not one element per point,
// so thousands of glitches stay cheap. The map is recomputed when glitches arrive (debounced) or on request.
// The section's data-state says where it stands: "pending" (glitches not on the map yet), "running", "done", "error".

import { DiscoveryClient } from './discovery-client.js';
import { results } from './results-store.js';
import { formatProbability } from './top5-chart.js';

const ITERATIONS = 750; // t-SNE iterations (250 of them exaggerated)
const PROGRESS_EVERY = 25; // iterations between intermediate layouts
const DEBOUNCE_MS = 1500; // quiet time after the last new glitch before the map is recomputed
const MAX_WAIT_MS = 20_000; // ... but never longer than this while glitches keep arriving
const NEIGHBOURS = 8;
const HIT_RADIUS = 10; // px: how close the pointer must be to a point to hover it
// Kenneth Kelly's colours of maximum contrast (white and black left out), then two more: 22 classes.
const PALETTE = ['#f3c300', '#875692', '#f38400', '#a1caf1', '#be0032', '#c2b280', '#848482', '#008856', '#e68fac',
  '#0067a5', '#f99379', '#604e97', '#f6a600', '#b3446c', '#dcd300', '#882d17', '#8db600', '#654522', '#e25822',
  '#2b3d26', '#1e90a0', '#ff00ff'];
const CANDIDATE_COLOUR = '#d7191c';

const $ = (id) => document.getElementById(id);
const ui = {
  section: $('embedding-map'),
  status: $('map-status'),
  canvas: $('map-canvas'),
  tooltip: $('map-tooltip'),
  legend: $('map-legend'),
  auto: $('map-auto'),
  recompute: $('map-recompute'),
  similarPanel: $('similar-panel'),
  similarAmong: $('similar-among'),
  similarReference: $('similar-reference'),
  similarHeading: $('similar-heading'),
  tableBody: document.querySelector('#results-table tbody'),
};

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const modelName = (new URLSearchParams(location.search).get('model') ?? 'default').replace(/\.json$/, '');

let discovery = null;
let referenceInfo = null; // { file, length, ... } when the model ships a reference set
let ready = Promise.resolve();
let map = null; // the map drawn: { keys, results, coordinates: Float32Array, clusters: Int32Array | null, running }
let latest = null; // the newest map asked for (drawn from its first layout on; until then the previous one stays)
let run = null; // the map computation in flight
let starting = false; // a recompute is between its checks and starting its run
let dirty = false; // glitches arrived that the newest map does not show (section data-state "pending")
let stale = false; // glitches arrived since the map in flight started
let debounceTimer = 0;
let firstPending = 0; // when the oldest unmapped glitch arrived (for MAX_WAIT_MS)
let hovered = -1;
let selectedKey = null;
const thumbnails = new Map(); // key -> [blob: URL] (revoked on clear)
const ctx = ui.canvas.getContext('2d');

// ---------------------------------------------------------------------------------------------- data

function mappable() {
  const ok = results.all().filter((r) => r.ok && r.embedding?.length);
  const dim = ok[0]?.embedding.length ?? 0;
  return ok.filter((r) => r.embedding.length === dim);
}

function flatten(list) {
  const dim = list[0].embedding.length;
  const flat = new Float32Array(list.length * dim);
  list.forEach((r, i) => flat.set(r.embedding, i * dim));
  return { flat, dim };
}

function classColour(label) {
  const index = (results.labels ?? []).indexOf(label);
  if (index >= 0) return PALETTE[index % PALETTE.length];
  let h = 0;
  for (const c of label ?? '') h = (h * 31 + c.charCodeAt(0)) % PALETTE.length;
  return PALETTE[h];
}

function thumbnailUrls(result) {
  if (!thumbnails.has(result.key)) {
    const urls = (result.views ?? [])
      .filter((v) => v.ok && v.thumbnail)
      .map((v) => ({ duration: v.duration, url: URL.createObjectURL(new Blob([v.thumbnail], { type: 'image/png' })) }));
    thumbnails.set(result.key, urls);
  }
  return thumbnails.get(result.key);
}

// ---------------------------------------------------------------------------------------------- computing

function setStatus(text, state = 'ok') {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
}

function ensureWorker() {
  if (discovery) return;
  discovery = new DiscoveryClient();
  const cardUrl = MODEL_NAME.test(modelName) ? `models/${modelName}.json` : null;
  ready = cardUrl
    ? discovery.load(cardUrl).then(
        (reply) => {
          referenceInfo = reply.reference;
          if (reply.referenceError) console.warn(`GlitchScope: ${reply.referenceError}`);
          ui.section.dataset.reference = referenceInfo ? String(referenceInfo.length) : '0';
        },
        (err) => setStatus(`The discovery worker could not start: ${err.message}`, 'error'),
      )
    : Promise.resolve();
}

function scheduleRecompute() {
  if (!ui.auto.checked) return;
  const now = performance.now();
  firstPending ||= now;
  clearTimeout(debounceTimer);
  const wait = Math.max(0, Math.min(DEBOUNCE_MS, firstPending + MAX_WAIT_MS - now));
  debounceTimer = setTimeout(() => recompute(), wait);
}

async function recompute() {
  clearTimeout(debounceTimer);
  firstPending = 0;
  if (run || starting) {
    stale = true; // finish this map first; a newer one follows
    return;
  }
  ensureWorker();
  starting = true;
  await ready;
  starting = false;
  const list = mappable(); // read after the wait: results may have been added or cleared meanwhile
  dirty = false;
  if (list.length < 2) {
    setStatus(list.length === 1 ? 'The map needs at least 2 classified glitches.' : '', 'ok');
    return;
  }
  const { flat, dim } = flatten(list);
  const started = performance.now();
  const count = list.length;
  // This map object stays this run's even if a clear or a newer run replaces `latest` meanwhile.
  const current = { keys: list.map((r) => r.key), results: list, coordinates: null, clusters: null, running: true };
  latest = current;
  ui.section.dataset.state = 'running';
  ui.canvas.dataset.points = String(count);
  setStatus(`Computing the map of ${count} glitches…`, 'busy');
  const mine = discovery.map(flat, dim, { iterations: ITERATIONS }, ({ iteration, total, coordinates }) => {
    if (latest !== current) return;
    current.coordinates = coordinates;
    map = current;
    setStatus(`Computing the map of ${count} glitches: iteration ${iteration} of ${total}…`, 'busy');
    draw();
  }, PROGRESS_EVERY);
  run = mine;
  try {
    const done = await mine.done;
    current.coordinates = done.coordinates;
    current.clusters = done.clusters;
    if (latest === current) {
      map = current;
      const nClusters = new Set([...done.clusters].filter((c) => c >= 0)).size;
      const outliers = done.clusters.filter((c) => c < 0).length;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      setStatus(`Map of ${count} glitches in ${seconds} s: ${nClusters} cluster${nClusters === 1 ? '' : 's'}, ${outliers} outlier${outliers === 1 ? '' : 's'} (hollow).`, 'ok');
      ui.section.dataset.state = dirty ? 'pending' : 'done';
      ui.section.dataset.clusters = String(nClusters);
    }
  } catch (err) {
    if (latest === current && !err.cancelled) {
      ui.section.dataset.state = 'error';
      setStatus(`The map could not be computed: ${err.message}`, 'error');
    }
  } finally {
    current.running = false;
    if (run === mine) run = null;
  }
  if (latest !== current) return;
  draw();
  renderLegend();
  if (stale) {
    stale = false;
    recompute();
  }
}

// ---------------------------------------------------------------------------------------------- drawing

let view = null; // { scale, ox, oy } from map coordinates to CSS pixels

function resizeCanvas() {
  const width = Math.max(240, ui.canvas.parentElement.clientWidth);
  const height = Math.round(Math.min(560, Math.max(260, width * 0.62)));
  const dpr = window.devicePixelRatio || 1;
  ui.canvas.style.width = `${width}px`;
  ui.canvas.style.height = `${height}px`;
  ui.canvas.width = Math.round(width * dpr);
  ui.canvas.height = Math.round(height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  draw();
}

function computeView() {
  const c = map.coordinates;
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < c.length; i += 2) {
    minX = Math.min(minX, c[i]);
    maxX = Math.max(maxX, c[i]);
    minY = Math.min(minY, c[i + 1]);
    maxY = Math.max(maxY, c[i + 1]);
  }
  const width = ui.canvas.clientWidth;
  const height = ui.canvas.clientHeight;
  const pad = 18;
  const scale = Math.min((width - 2 * pad) / Math.max(maxX - minX, 1e-9), (height - 2 * pad) / Math.max(maxY - minY, 1e-9));
  view = {
    scale,
    ox: width / 2 - ((minX + maxX) / 2) * scale,
    oy: height / 2 - ((minY + maxY) / 2) * scale,
  };
}

/** Screen position (CSS pixels in the canvas) of point i. */
function position(i) {
  return [map.coordinates[2 * i] * view.scale + view.ox, map.coordinates[2 * i + 1] * view.scale + view.oy];
}

function radius(result) {
  const p = result.unfamiliar?.percentile;
  return Number.isFinite(p) ? 3 + 4 * p : 4;
}

function draw() {
  const width = ui.canvas.clientWidth;
  const height = ui.canvas.clientHeight;
  ctx.clearRect(0, 0, width, height);
  if (!map?.coordinates) return;
  computeView();
  const n = map.keys.length;
  for (let i = 0; i < n; i++) {
    const result = map.results[i];
    const [x, y] = position(i);
    const r = radius(result);
    const colour = classColour(result.top5[0]?.label);
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    if (map.clusters && map.clusters[i] < 0) {
      ctx.lineWidth = 2;
      ctx.strokeStyle = colour;
      ctx.stroke();
    } else {
      ctx.fillStyle = colour;
      ctx.fill();
    }
    if (result.unfamiliar?.new_class_candidate) {
      ctx.beginPath();
      ctx.arc(x, y, r + 3, 0, 2 * Math.PI);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = CANDIDATE_COLOUR;
      ctx.stroke();
    }
  }
  for (const [i, style, width] of [[hovered, '#888', 2], [map.keys.indexOf(selectedKey), 'CanvasText', 2.5]]) {
    if (i < 0 || i >= n) continue;
    const [x, y] = position(i);
    ctx.beginPath();
    ctx.arc(x, y, radius(map.results[i]) + 5, 0, 2 * Math.PI);
    ctx.lineWidth = width;
    ctx.strokeStyle = style === 'CanvasText' ? getComputedStyle(ui.canvas).color : style;
    ctx.stroke();
  }
}

function renderLegend() {
  const counts = new Map();
  for (const r of map?.results ?? []) {
    const label = r.top5[0]?.label ?? '?';
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const items = [...counts].sort((a, b) => b[1] - a[1]).map(([label, count]) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = classColour(label);
    li.append(swatch, `${label} (${count})`);
    return li;
  });
  const mark = (className, text) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch ${className}`;
    li.append(swatch, text);
    return li;
  };
  items.push(mark('swatch-outlier', 'outlier (no cluster)'));
  if (referenceInfo) items.push(mark('swatch-candidate', 'new-class candidate'));
  ui.legend.replaceChildren(...items);
}

// ---------------------------------------------------------------------------------------------- hover and select

function pointAt(event) {
  if (!map?.coordinates || !view) return -1;
  const rect = ui.canvas.getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  let best = -1;
  let bestD = HIT_RADIUS * HIT_RADIUS;
  for (let i = 0; i < map.keys.length; i++) {
    const [px, py] = position(i);
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

function showTooltip(i, event) {
  const result = map.results[i];
  const box = ui.tooltip;
  const title = document.createElement('strong');
  title.textContent = result.key;
  const images = document.createElement('div');
  images.className = 'tooltip-views';
  for (const { duration, url } of thumbnailUrls(result)) {
    const img = document.createElement('img');
    img.src = url;
    img.alt = `${result.key}, ${duration} s view`;
    images.append(img);
  }
  const classes = document.createElement('ol');
  for (const { label, probability } of result.top5.slice(0, 3)) {
    const li = document.createElement('li');
    li.textContent = `${label} ${formatProbability(probability)}`;
    classes.append(li);
  }
  const facts = document.createElement('p');
  const cluster = map.clusters ? (map.clusters[i] < 0 ? 'outlier (no cluster)' : `cluster ${map.clusters[i] + 1}`) : 'clustering…';
  const unfamiliar = result.unfamiliar
    ? `unfamiliar ${formatProbability(result.unfamiliar.percentile)}${result.unfamiliar.new_class_candidate ? ' (new-class candidate)' : ''}`
    : '';
  facts.textContent = [cluster, unfamiliar].filter(Boolean).join(' · ');
  box.replaceChildren(title, images, classes, facts);
  box.dataset.key = result.key;
  box.hidden = false;
  const wrap = ui.canvas.parentElement.getBoundingClientRect();
  const left = Math.min(event.clientX - wrap.left + 14, wrap.width - box.offsetWidth - 4);
  const top = event.clientY - wrap.top + 14;
  box.style.left = `${Math.max(0, left)}px`;
  box.style.top = `${top}px`;
}

function select(key) {
  selectedKey = key;
  markSelectedRow();
  const row = ui.tableBody.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  row?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  draw();
  findSimilar(key);
}

function markSelectedRow() {
  for (const tr of ui.tableBody.querySelectorAll('tr.selected')) {
    if (tr.dataset.key !== selectedKey) tr.classList.remove('selected');
  }
  if (selectedKey) ui.tableBody.querySelector(`tr[data-key="${CSS.escape(selectedKey)}"]`)?.classList.add('selected');
}

async function findSimilar(key) {
  const list = mappable();
  const row = list.findIndex((r) => r.key === key);
  if (row < 0) return;
  ensureWorker();
  await ready;
  const { flat, dim } = flatten(list);
  ui.similarHeading.textContent = `Glitches similar to ${key}`;
  ui.similarPanel.hidden = false;
  ui.similarPanel.dataset.state = 'busy';
  try {
    const found = await discovery.similar(flat, dim, row, NEIGHBOURS);
    if (selectedKey !== key) return;
    ui.similarAmong.replaceChildren(...found.among.map((n) => neighbourItem(list[n.index], n.similarity)));
    if (found.among.length === 0) ui.similarAmong.replaceChildren(note('No other glitches yet.'));
    ui.similarReference.replaceChildren(...found.reference.map((m) => referenceItem(m)));
    if (!referenceInfo) ui.similarReference.replaceChildren(note('This model ships no reference set.'));
    ui.similarPanel.dataset.state = 'done';
  } catch (err) {
    ui.similarAmong.replaceChildren(note(`Search failed: ${err.message}`));
    ui.similarPanel.dataset.state = 'error';
  }
}

function note(text) {
  const li = document.createElement('li');
  li.className = 'similar-note';
  li.textContent = text;
  return li;
}

function distanceText(similarity) {
  return `distance ${(1 - similarity).toFixed(3)}`;
}

function neighbourItem(result, similarity) {
  const li = document.createElement('li');
  li.dataset.key = result.key;
  li.dataset.source = 'uploaded';
  const thumb = thumbnailUrls(result).find((t) => t.duration === 1) ?? thumbnailUrls(result)[0];
  if (thumb) {
    const img = document.createElement('img');
    img.src = thumb.url;
    img.alt = `${result.key}, ${thumb.duration} s view`;
    li.append(img);
  }
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'link-button';
  button.textContent = result.key;
  button.addEventListener('click', () => select(result.key));
  li.append(button, ` ${result.top5[0]?.label ?? '?'} · uploaded · ${distanceText(similarity)}`);
  return li;
}

function referenceItem(match) {
  const li = document.createElement('li');
  li.dataset.key = match.key;
  li.dataset.source = 'reference';
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = classColour(match.label);
  li.append(swatch, `${match.key} ${match.label} · reference set · ${distanceText(match.similarity)}`);
  return li;
}

// ---------------------------------------------------------------------------------------------- wiring

function clearAll() {
  run?.cancel();
  run = null;
  stale = false;
  clearTimeout(debounceTimer);
  firstPending = 0;
  dirty = false;
  map = null;
  latest = null;
  selectedKey = null;
  hovered = -1;
  for (const urls of thumbnails.values()) for (const { url } of urls) URL.revokeObjectURL(url);
  thumbnails.clear();
  ui.tooltip.hidden = true;
  ui.similarPanel.hidden = true;
  ui.legend.replaceChildren();
  ui.section.hidden = true;
  delete ui.section.dataset.state;
  ui.canvas.dataset.points = '0';
  setStatus('');
  draw();
}

results.addEventListener('result', (event) => {
  const { result } = event.detail;
  thumbnails.delete(result.key); // a re-classified glitch brings new thumbnails (old URLs are left to the page)
  if (!result.ok) return;
  if (ui.section.hidden) {
    ui.section.hidden = false;
    resizeCanvas();
  }
  ensureWorker();
  dirty = true;
  if (ui.section.dataset.state !== 'running') ui.section.dataset.state = 'pending';
  if (ui.auto.checked) scheduleRecompute();
  else setStatus('New glitches since this map: choose "Recompute map".', 'warn');
});
results.addEventListener('clear', clearAll);

ui.recompute.addEventListener('click', () => recompute());
ui.auto.addEventListener('change', () => {
  if (ui.auto.checked) scheduleRecompute();
});

ui.canvas.addEventListener('pointermove', (event) => {
  const i = pointAt(event);
  if (i !== hovered) {
    hovered = i;
    draw();
  }
  ui.canvas.style.cursor = i >= 0 ? 'pointer' : 'default';
  if (i >= 0) showTooltip(i, event);
  else ui.tooltip.hidden = true;
});
ui.canvas.addEventListener('pointerleave', () => {
  hovered = -1;
  ui.tooltip.hidden = true;
  draw();
});
ui.canvas.addEventListener('click', (event) => {
  const i = pointAt(event);
  if (i >= 0) select(map.keys[i]);
});

// Keyboard: with the map focused, the arrow keys step through the glitches (each one selected in turn).
ui.canvas.addEventListener('keydown', (event) => {
  if (!map?.coordinates || !['ArrowRight', 'ArrowDown', 'ArrowLeft', 'ArrowUp'].includes(event.key)) return;
  event.preventDefault();
  const step = event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : -1;
  const n = map.keys.length;
  const at = map.keys.indexOf(selectedKey);
  const next = at < 0 ? (step > 0 ? 0 : n - 1) : (at + step + n) % n;
  select(map.keys[next]);
  ui.canvas.setAttribute('aria-label', `Embedding map; selected ${map.keys[next]}, ${map.results[next].top5[0]?.label ?? ''}`);
});

// A click on a table row chooses its glitch too.
ui.tableBody.addEventListener('click', (event) => {
  if (event.target.closest('input, button, a')) return; // the row's own controls (pick box, key link) do their job
  const tr = event.target.closest('tr[data-key]');
  if (tr && tr.dataset.ok === 'true') select(tr.dataset.key);
});
// app.js rebuilds the table as results arrive: keep the selected row marked.
new MutationObserver(markSelectedRow).observe(ui.tableBody, { childList: true });
new ResizeObserver(() => {
  if (!ui.section.hidden) resizeCanvas();
}).observe(ui.canvas.parentElement);

// For tests and tools: where each glitch is drawn, in page coordinates.
ui.canvas.glitchscopePoints = () => {
  if (!map?.coordinates || !view) return [];
  const rect = ui.canvas.getBoundingClientRect();
  return map.keys.map((key, i) => {
    const [x, y] = position(i);
    return { key, x: rect.left + x, y: rect.top + y, cluster: map.clusters ? map.clusters[i] : null };
  });
};
