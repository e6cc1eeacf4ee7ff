#!/usr/bin/env node
// Benchmark of the web front end (a command, not a test): download sizes, model load time (cold and warm) and
// time per glitch, on both backends (cpu = Burn's CPU backend in wasm, webgpu = SwiftShader on this machine), in
// the same headless Chromium, server and launch flags as the e2e tests (helpers.mjs).
//
//   node tests/e2e/bench-web.mjs [--runs N] [--out docs/bench-web.md] [--backend cpu,webgpu]
//
// Load times are measured on the page itself (www/index.html?backend=...): an init script watches the page's
// classification worker and records `performance.now()` (milliseconds since navigation) when its `ready` message
// arrives. Per-glitch times come from a ClassifierClient (the page's own worker.js and client) opened in that page,
// one `classify` call per glitch: the worker's own `result.ms` and the wall time around the call.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { HAS_SHARED, REPO, SHARED_REAL, launchBrowser, requireWasmPackage, startServer } from './helpers.mjs';

const BACKENDS = ['cpu', 'webgpu'];
const LOAD_TIMEOUT = 300_000; // 2 shared cores; WebGPU is software here
const GLITCH_TIMEOUT = 300_000;
const BUSY_LOAD = 1.5; // 1-minute load average above which 2 cores give unreliable numbers
const SYNTH = join(homedir(), '.cache', 'glitchscope', 'target', 'release', 'glitchscope');
const VIEW_NAME = /^(.+)_spectrogram_(\d+(?:\.\d+)?)\.(?:png|jpe?g|gif)$/i;

const USAGE = `usage: node tests/e2e/bench-web.mjs [--runs N] [--out FILE] [--backend cpu,webgpu]
  --runs N        glitches timed after the warm-up glitch (default 10)
  --out FILE      markdown report to write (default docs/bench-web.md in the repository)
  --backend LIST  comma-separated backends to measure (default cpu,webgpu)`;

function parseCli(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: '10' },
        out: { type: 'string', default: join(REPO, 'docs', 'bench-web.md') },
        backend: { type: 'string', default: BACKENDS.join(',') },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    fail(`${err.message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!/^\d+$/.test(values.runs) || Number(values.runs) < 1 || Number(values.runs) > 1000) {
    fail(`--runs must be a whole number from 1 to 1000, not "${values.runs}"\n${USAGE}`);
  }
  const backends = values.backend.split(',').map((b) => b.trim()).filter(Boolean);
  const unknown = backends.filter((b) => !BACKENDS.includes(b));
  if (backends.length === 0 || unknown.length) {
    fail(`--backend takes ${BACKENDS.join(' and/or ')}, not "${values.backend}"\n${USAGE}`);
  }
  return { runs: Number(values.runs), out: resolve(values.out), backends };
}

function fail(message) {
  console.error(`bench-web: ${message}`);
  process.exit(2);
}

const log = (message) => console.error(`[bench-web] ${message}`);

// ------------------------------------------------------------------------------------------------ the machine

function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: fall back to what node knows
  }
  return cpus()[0]?.model ?? 'unknown';
}

// ------------------------------------------------------------------------------------------------ sizes

function sizes() {
  const wasm = join(REPO, 'www', 'pkg', 'glitchscope_bg.wasm');
  const cardPath = join(REPO, 'models', 'default.json');
  let card;
  try {
    card = JSON.parse(readFileSync(cardPath, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the model card ${cardPath}: ${err.message}`);
  }
  const weightsName = card?.weights?.file;
  if (typeof weightsName !== 'string' || weightsName === '') {
    throw new Error(`${cardPath} names no weights file (weights.file)`);
  }
  const weights = resolve(dirname(cardPath), weightsName);
  if (!existsSync(weights)) throw new Error(`${weights} (the weights named by ${cardPath}) is missing`);
  const files = [wasm, weights].map((path) => {
    const bytes = readFileSync(path);
    return { file: relative(REPO, path), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  // Debug names are not needed to run; their size says what stripping them (wasm-opt, wasm-strip) would save.
  const names = WebAssembly.Module.customSections(new WebAssembly.Module(readFileSync(wasm)), 'name');
  files[0].nameSection = names.reduce((sum, section) => sum + section.byteLength, 0);
  // serve.py maps /models/ to <repo>/models/: the URL the worker fetches the weights from.
  return { files, weightsUrlPath: `/models/${relative(join(REPO, 'models'), weights).split('\\').join('/')}` };
}

// ------------------------------------------------------------------------------------------------ inputs

/** Glitches (4 views each) under root/<Class>/, classes interleaved so the timed set is not one class only. */
function glitchesIn(root) {
  const byClass = [];
  for (const label of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const groups = new Map();
    for (const name of readdirSync(join(root, label)).sort()) {
      const match = VIEW_NAME.exec(name);
      if (!match) continue;
      if (!groups.has(match[1])) groups.set(match[1], []);
      groups.get(match[1]).push(join(root, label, name));
    }
    byClass.push([...groups].filter(([, files]) => files.length === 4).map(([key, files]) => ({ key, label, files })));
  }
  const out = [];
  for (let i = 0; byClass.some((list) => i < list.length); i++) {
    for (const list of byClass) if (i < list.length) out.push(list[i]);
  }
  return out;
}

/** The real Gravity Spy glitches, or synthetic Blips from `glitchscope synth` when ../shared is absent. */
function inputs() {
  if (HAS_SHARED) {
    const root = join(SHARED_REAL, 'o1_full_plots');
    return { glitches: glitchesIn(root), source: `real Gravity Spy O1 glitches from ${root}`, cleanup: () => {} };
  }
  // On stderr with the progress lines, so that stdout stays the markdown report.
  log(`real Gravity Spy images absent at ${join(SHARED_REAL, 'o1_full_plots')}; using a synthetic Blip from \`glitchscope synth\` instead`);
  if (!existsSync(SYNTH)) {
    throw new Error(
      `${SYNTH} is missing: build it with CARGO_TARGET_DIR=$HOME/.cache/glitchscope/target cargo build --release -p glitchscope-trainer`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'glitchscope-bench-'));
  execFileSync(SYNTH, ['synth', '--out', dir, '--per-class', '1', '--seed', '1', '--classes', 'Blip'], { stdio: 'ignore' });
  return {
    glitches: glitchesIn(dir),
    source: 'synthetic Blip (`glitchscope synth --per-class 1 --seed 1 --classes Blip`)',
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `count` glitches, reusing the available ones in turn when there are fewer. */
function pick(glitches, count) {
  if (glitches.length === 0) throw new Error('no glitch with all four views found');
  return Array.from({ length: count }, (_, i) => glitches[i % glitches.length]);
}

// ------------------------------------------------------------------------------------------------ the browser

// Installed before any page script: note when each worker the page starts answers `ready` (ms since navigation).
function watchWorkers() {
  const NativeWorker = window.Worker;
  window.__benchWorkers = [];
  window.Worker = class extends NativeWorker {
    constructor(...args) {
      super(...args);
      const record = { ready: null, backend: null, error: null };
      window.__benchWorkers.push(record);
      this.addEventListener('message', (event) => {
        const message = event.data;
        if (record.ready !== null || record.error !== null) return;
        if (message?.type === 'ready') {
          record.ready = performance.now();
          record.backend = message.backend;
        } else if (message?.type === 'error') {
          record.error = message.message;
        }
      });
    }
  };
}

/** Open the page on `backend`; resolve to { ms, backend, weightsFetched } once its worker is ready. */
async function loadPage(browser, origin, backend, weightsPath) {
  const before = browser.requests.length;
  const page = await browser.context.newPage();
  await page.goto(`${origin}/index.html?backend=${backend}`);
  const handle = await page.waitForFunction(
    () => {
      const w = window.__benchWorkers?.[0];
      return w && (w.ready !== null || w.error !== null) ? w : null;
    },
    null,
    { timeout: LOAD_TIMEOUT },
  );
  const record = await handle.jsonValue();
  if (record.error) throw new Error(`the page could not load the model on ${backend}: ${record.error}`);
  const weightsFetched = browser.requests.slice(before).some((url) => new URL(url).pathname === weightsPath);
  return { page, ms: record.ready, backend: record.backend, weightsFetched };
}

/** In the page: a ClassifierClient of its own (the page's worker.js) with the model loaded; resolves to its load ms. */
async function openClient(page, backend) {
  return page.evaluate(async (backend) => {
    const { ClassifierClient } = await import('/classifier-client.js');
    window.__benchClient = new ClassifierClient();
    const started = performance.now();
    const info = await window.__benchClient.load('/models/default.json', backend);
    return { ms: performance.now() - started, backend: info.backend };
  }, backend);
}

/** Classify one glitch in the page; resolves to { wall, ms, top } (wall = around client.classify). */
async function classifyOne(page, glitch) {
  const files = glitch.files.map((path) => ({ name: path.split('/').pop(), b64: readFileSync(path).toString('base64') }));
  const timing = page.evaluate(async ({ key, files }) => {
    const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
    const glitch = { key, files: files.map((f) => ({ name: f.name, bytes: bytes(f.b64) })) };
    let result = null;
    const started = performance.now();
    await window.__benchClient.classify([glitch], (progress) => {
      result = progress.result;
    });
    const wall = performance.now() - started;
    if (!result) return { error: 'no result came back' };
    if (!result.ok) return { error: result.error ?? 'not ok' };
    return { wall, ms: result.ms, top: result.top5?.[0] ?? null };
  }, { key: glitch.key, files });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`classifying ${glitch.key} took over ${GLITCH_TIMEOUT / 1000} s`)), GLITCH_TIMEOUT);
  });
  try {
    const out = await Promise.race([timing, timeout]);
    if (out.error) throw new Error(`classifying ${glitch.key} failed: ${out.error}`);
    return out;
  } finally {
    clearTimeout(timer);
  }
}

async function chromiumVersion(browser) {
  const page = await browser.context.newPage();
  try {
    const cdp = await browser.context.newCDPSession(page);
    return (await cdp.send('Browser.getVersion')).product;
  } finally {
    await page.close();
  }
}

/** The WebGPU adapter the page sees (navigator.gpu exists only in a secure context such as http://127.0.0.1). */
async function webgpuAdapter(page) {
  return page.evaluate(async () => {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return null;
    const { vendor, architecture, description, isFallbackAdapter } = adapter.info ?? {};
    return { vendor, architecture, description, isFallbackAdapter };
  });
}

async function benchBackend(origin, backend, glitches, weightsPath) {
  const browser = await launchBrowser(); // a fresh profile: the first load is cold
  try {
    await browser.context.addInitScript(watchWorkers);
    const product = await chromiumVersion(browser);
    log(`${backend}: cold load`);
    const cold = await loadPage(browser, origin, backend, weightsPath);
    await cold.page.close(); // its worker stops; the profile (and its Cache API) stays
    log(`${backend}: ${(cold.ms / 1000).toFixed(1)} s; warm load`);
    const warm = await loadPage(browser, origin, backend, weightsPath);
    log(`${backend}: ${(warm.ms / 1000).toFixed(1)} s; a client of our own in the page`);
    const gpu = await webgpuAdapter(warm.page);
    const client = await openClient(warm.page, backend);
    const times = [];
    for (const [i, glitch] of glitches.entries()) {
      const t = await classifyOne(warm.page, glitch);
      log(`${backend}: glitch ${i + 1}/${glitches.length} ${glitch.key}: worker ${t.ms.toFixed(0)} ms, wall ${t.wall.toFixed(0)} ms`);
      times.push(t);
    }
    const problems = [...new Set(browser.problems)];
    return { backend, about: { product, gpu }, cold, warm, client, warmup: times[0], timed: times.slice(1), problems };
  } finally {
    await browser.close();
  }
}

// ------------------------------------------------------------------------------------------------ the report

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${Math.round(x).toLocaleString('en-US')} ms`;
const sec = (x) => `${(x / 1000).toFixed(1)} s`;
const spread = (xs) => `${ms(median(xs))} (${ms(Math.min(...xs))} – ${ms(Math.max(...xs))})`;
const size = (n) => `${(n / 2 ** 20).toFixed(2)} MiB (${n.toLocaleString('en-US')} B)`;

// The request log sees the worker's fetches only if it saw the cold load fetch the weights.
function cacheHit(r) {
  if (!r.cold.weightsFetched) return 'unknown (the cold fetch was not seen)';
  return r.warm.weightsFetched ? 'yes (no Cache API hit)' : 'no (Cache API hit)';
}

function report({ date, command, machine, files, source, glitchCount, distinct, runs, results }) {
  const lines = [
    '# Web front end benchmark',
    '',
    `Made by \`tests/e2e/bench-web.mjs\` (see tests/e2e/README.md). Headless Chromium with the e2e tests' flags, page`,
    'served by scripts/serve.py on 127.0.0.1.',
    '',
    `- Date: ${date}`,
    `- Command: \`${command}\``,
    `- Chromium: ${machine.chromium}`,
    `- WebGPU adapter: ${machine.gpu}`,
    `- CPU: ${machine.cpu}, ${machine.cores} logical cores`,
    `- Load average at start: ${machine.load.map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min)` +
      (machine.load[0] > BUSY_LOAD ? ` — **above ${BUSY_LOAD}: other work shared the 2 cores, numbers are unreliable**` : ''),
    `- Load average at end: ${machine.loadEnd.map((x) => x.toFixed(2)).join(', ')}` +
      (machine.loadEnd[0] > BUSY_LOAD ? ` — **above ${BUSY_LOAD}: other work ran during the run**` : ''),
    `- Glitches: ${glitchCount} (1 warm-up + ${runs} timed), 4 views each, ${distinct} distinct, ${source}`,
    '',
    '## Download sizes',
    '',
    '| file | raw | gzip -9 |',
    '|---|---:|---:|',
    ...files.map((f) => `| \`${f.file}\` | ${size(f.raw)} | ${size(f.gzip)} |`),
    '',
    `Of the wasm, ${size(files[0].nameSection)} is the custom \`name\` section (function names for stack traces and`,
    'profiles; not needed to run).',
    '',
    '## Load and classification times',
    '',
    `| | ${results.map((r) => r.backend).join(' | ')} |`,
    `|---|${results.map(() => '---:').join('|')}|`,
    `| backend the worker reports | ${results.map((r) => r.cold.backend).join(' | ')} |`,
    `| first load, cold profile: navigation → \`ready\` | ${results.map((r) => sec(r.cold.ms)).join(' | ')} |`,
    `| second load, same profile: navigation → \`ready\` | ${results.map((r) => sec(r.warm.ms)).join(' | ')} |`,
    `| weights fetched from the server on the second load | ${results.map(cacheHit).join(' | ')} |`,
    `| new worker in an open page: \`client.load\` → \`ready\` | ${results.map((r) => sec(r.client.ms)).join(' | ')} |`,
    `| first glitch (warm-up): worker \`result.ms\` | ${results.map((r) => ms(r.warmup.ms)).join(' | ')} |`,
    `| first glitch (warm-up): wall around \`classify\` | ${results.map((r) => ms(r.warmup.wall)).join(' | ')} |`,
    `| next ${runs}: worker \`result.ms\`, median (min – max) | ${results.map((r) => spread(r.timed.map((t) => t.ms))).join(' | ')} |`,
    `| next ${runs}: wall around \`classify\`, median (min – max) | ${results.map((r) => spread(r.timed.map((t) => t.wall))).join(' | ')} |`,
    '',
    '`result.ms` is what the page shows: measured in the worker around decoding, preprocessing and inference of the',
    "four views. The wall time adds the messages to and from the worker (the page's ClassifierClient).",
  ];
  const problems = results.flatMap((r) => r.problems.map((p) => `- ${r.backend}: ${p}`));
  if (problems.length) lines.push('', '## Errors the browser logged', '', ...problems);
  return `${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------------------------------------ main

async function main() {
  const { runs, out, backends } = parseCli(process.argv.slice(2));
  const load = loadavg();
  if (load[0] > BUSY_LOAD) {
    log(`warning: load average ${load[0].toFixed(2)} > ${BUSY_LOAD}: on 2 shared cores the numbers are unreliable`);
  }
  requireWasmPackage();
  const { files, weightsUrlPath: weightsPath } = sizes();
  const { glitches: available, source, cleanup } = inputs();
  const glitches = pick(available, runs + 1);
  const distinct = new Set(glitches.map((g) => g.key)).size;
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const server = await startServer();
  const results = [];
  try {
    for (const backend of backends) results.push(await benchBackend(server.origin, backend, glitches, weightsPath));
  } finally {
    await server.stop();
    cleanup();
  }
  const gpu = results.map((r) => r.about.gpu).find(Boolean);
  const machine = {
    chromium: `${results[0].about.product} (${process.env.CHROMIUM ?? '/usr/bin/chromium'})`,
    gpu: gpu ? `${gpu.vendor} / ${gpu.architecture} / ${gpu.description || '-'}${gpu.isFallbackAdapter ? ' (fallback adapter)' : ''}` : 'none',
    cpu: cpuModel(),
    cores: cpus().length,
    load,
    loadEnd: loadavg(),
  };
  const command = ['node tests/e2e/bench-web.mjs', ...process.argv.slice(2)].join(' ');
  const markdown = report({ date, command, machine, files, source, glitchCount: glitches.length, distinct, runs, results });
  process.stdout.write(markdown);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, markdown);
  log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(`bench-web: ${err.message}`);
  process.exit(1);
});
