#!/usr/bin/env node
// Memory benchmark of the web front end (a command, not a test; issue 7): the classification worker's memory
// over one batch of N glitches dropped on the page (default 100), and its growth over many classifications of
// the same glitches (default 1,000) through the page's own ClassifierClient, in headless Chromium on the CPU
// (wasm) backend.
//
//   node tests/e2e/bench-memory.mjs [--glitches 100] [--classifications 1000] [--backend cpu] [--out docs/bench-memory.md]
//
// What is measured, and why these numbers:
// - wasm memory: `memory.buffer.byteLength` of the worker's wasm instance, read inside the worker (Playwright's
//   worker.evaluate imports the same pkg/glitchscope.js module, whose init returns the live instance's exports).
//   Linear memory only grows, so its size is the worker's high-water mark for model, buffers and allocator.
// - renderer RSS: VmRSS from /proc of this Chromium's renderer processes (the worker is a thread of the page's
//   renderer), sampled every 250 ms; peak = largest sample, and VmHWM (the kernel's own peak) at the end.
// `performance.measureUserAgentSpecificMemory` is not used: it needs a cross-origin-isolated page (COOP/COEP),
// which the page does not ask for.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { HAS_SHARED, REPO, SHARED_REAL, requireWasmPackage, startServer } from './helpers.mjs';

const VIEW_NAME = /^(.+)_spectrogram_(\d+(?:\.\d+)?)\.(?:png|jpe?g|gif)$/i;
const TIMEOUT = 3_600_000;
const MiB = 2 ** 20;
const { values: opts } = parseArgs({
  options: {
    glitches: { type: 'string', default: '100' },
    classifications: { type: 'string', default: '1000' },
    backend: { type: 'string', default: 'cpu' },
    out: { type: 'string', default: join(REPO, 'docs', 'bench-memory.md') },
  },
});
const N_BATCH = Number(opts.glitches);
const N_REPEAT = Number(opts.classifications);
const log = (line) => process.stderr.write(`${line}\n`);

/** Glitches (4 views each) under root/<Class>/, classes interleaved. */
function glitchesIn(root) {
  const byClass = [];
  for (const label of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const groups = new Map();
    for (const name of readdirSync(join(root, label)).sort()) {
      const m = VIEW_NAME.exec(name);
      if (!m) continue;
      if (!groups.has(m[1])) groups.set(m[1], []);
      groups.get(m[1]).push(join(root, label, name));
    }
    byClass.push([...groups].filter(([, f]) => f.length === 4).map(([key, files]) => ({ key, files })));
  }
  const out = [];
  for (let i = 0; byClass.some((l) => i < l.length); i++) for (const l of byClass) if (i < l.length) out.push(l[i]);
  return out;
}

/** Real O1 glitches, or synthetic ones from `glitchscope synth` when ../shared is absent. */
function inputs() {
  if (HAS_SHARED) return { glitches: glitchesIn(join(SHARED_REAL, 'o1_full_plots')), source: 'real Gravity Spy O1 glitches (../shared/data/real/o1_full_plots)' };
  const cli = join(process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache', 'glitchscope', 'target'), 'release', 'glitchscope');
  if (!existsSync(cli)) throw new Error(`no real images (../shared/data absent) and ${cli} is not built to synthesise some`);
  const dir = mkdtempSync(join(tmpdir(), 'glitchscope-bench-memory-'));
  log(`# real images absent; synthesising glitches with ${cli} synth`);
  execFileSync(cli, ['synth', '--out', dir, '--per-class', '5', '--seed', '1'], { stdio: 'ignore' });
  return { glitches: glitchesIn(dir), source: 'synthetic glitches (`glitchscope synth --per-class 5 --seed 1`)' };
}

/** VmRSS and VmHWM (bytes) of each renderer process of the Chromium using `profile`. */
function rendererMemory(profile) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    if (!cmdline.includes(`--user-data-dir=${profile}`) || !cmdline.includes('--type=renderer')) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'latin1');
      const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      out.push({ pid: Number(pid), rss: kb('VmRSS'), hwm: kb('VmHWM') });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** Sample the largest renderer's RSS every 250 ms until stop() is called; resolves to the peak. */
function sampler(profile) {
  let peak = 0;
  const timer = setInterval(() => {
    for (const r of rendererMemory(profile)) peak = Math.max(peak, r.rss);
  }, 250);
  return { stop: () => (clearInterval(timer), peak), peek: () => peak };
}

/** The worker's wasm linear memory, read inside the worker through its own module instance. */
async function wasmBytes(worker) {
  return worker.evaluate(async () => {
    const module = await import(new URL('/pkg/glitchscope.js', self.location.origin).href);
    const exports = await module.default();
    return exports.memory.buffer.byteLength;
  });
}

const mib = (b) => (b / MiB).toFixed(1);

async function main() {
  requireWasmPackage();
  const { glitches: available, source } = inputs();
  if (available.length === 0) throw new Error('no glitch with four views found');
  // N distinct glitches for the page: when fewer exist, the same pictures again under other names (a copy number
  // appended to the id), so the page groups them into N glitches as it would N real ones.
  const copies = mkdtempSync(join(tmpdir(), 'glitchscope-bench-memory-'));
  const batch = Array.from({ length: N_BATCH }, (_, i) => {
    const g = available[i % available.length];
    const round = Math.floor(i / available.length);
    if (round === 0) return g;
    const key = `${g.key}r${round}`;
    const files = g.files.map((path) => {
      const link = join(copies, path.split('/').pop().replace(`${g.key}_spectrogram_`, `${key}_spectrogram_`));
      symlinkSync(path, link);
      return link;
    });
    return { key, files };
  });
  const distinct = new Set(batch.map((g) => g.key)).size;
  const server = await startServer();
  // One browser per part, so that each part's renderer figures are of its own page only.
  let profile;
  let context;
  const launch = async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    profile = mkdtempSync(join(tmpdir(), 'glitchscope-bench-memory-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--enable-unsafe-webgpu'],
    });
  };
  const results = {};
  try {
    await launch();
    // ---- 1. One batch of N glitches dropped on the page, as a user would.
    const page = await context.newPage();
    const workers = [];
    page.on('worker', (w) => workers.push(w));
    await page.goto(`${server.origin}/index.html?backend=${opts.backend}`);
    await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: 600_000 });
    const status = await page.locator('#status').textContent();
    if ((await page.locator('#status').getAttribute('data-state')) !== 'ok') throw new Error(`model did not load: ${status}`);
    const worker = workers.find((w) => w.url().endsWith('/worker.js'));
    if (!worker) throw new Error(`the page's worker.js was not seen (workers: ${workers.map((w) => w.url()).join(', ')})`);
    const loaded = { wasm: await wasmBytes(worker), rss: Math.max(...rendererMemory(profile).map((r) => r.rss)) };
    log(`# model loaded: wasm ${mib(loaded.wasm)} MiB, renderer RSS ${mib(loaded.rss)} MiB`);
    const s1 = sampler(profile);
    const files = batch.flatMap((g) => g.files);
    const uniqueFiles = [...new Set(files)];
    const t0 = Date.now();
    await page.locator('#file-input').setInputFiles(uniqueFiles);
    log(`# dropped ${uniqueFiles.length} files (${distinct} glitches)`);
    await page.waitForFunction(() => /^(Done|Classification stopped)/.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: TIMEOUT });
    const done = await page.locator('#status').textContent();
    const batchPeak = s1.stop();
    results.batch = {
      status: done.trim().replace(/\.$/, ''), seconds: (Date.now() - t0) / 1000, files: uniqueFiles.length, glitches: distinct,
      wasm: await wasmBytes(worker), rssPeak: batchPeak, hwm: Math.max(...rendererMemory(profile).map((r) => r.hwm)), loaded,
    };
    log(`# batch: ${done} wasm ${mib(results.batch.wasm)} MiB, renderer RSS peak ${mib(batchPeak)} MiB`);
    await page.close();
    await launch();

    // ---- 2. Many classifications of the same glitches through one ClassifierClient (no page results kept),
    // in a fresh browser. The page itself also loads the model in its own worker; only the client's is measured
    // for wasm memory, while the renderer RSS covers both workers and the 400 pictures held in the page.
    const page2 = await context.newPage();
    const workers2 = [];
    page2.on('worker', (w) => workers2.push(w));
    await page2.goto(`${server.origin}/index.html?backend=${opts.backend}`);
    await page2.waitForFunction(() => document.querySelector('#status')?.dataset.state === 'ok', null, { timeout: 600_000 });
    const set = batch; // the batch's glitches again, in chunks of N per classify call
    await page2.evaluate(async (backend) => {
      const { ClassifierClient } = await import('/classifier-client.js');
      window.__memClient = new ClassifierClient();
      await window.__memClient.load('/models/default.json', backend);
      window.__memGlitches = [];
    }, opts.backend);
    for (const g of set) {
      const payload = g.files.map((p) => ({ name: p.split('/').pop(), b64: readFileSync(p).toString('base64') }));
      await page2.evaluate(({ key, payload }) => {
        const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
        window.__memGlitches.push({ key, files: payload.map((f) => ({ name: f.name, bytes: bytes(f.b64) })) });
      }, { key: g.key, payload });
    }
    const worker2 = workers2.filter((w) => w.url().endsWith('/worker.js')).at(-1); // the client's own worker
    const s2 = sampler(profile);
    const checkpoints = [];
    let classified = 0;
    const t1 = Date.now();
    while (classified < N_REPEAT) {
      const count = Math.min(set.length, N_REPEAT - classified);
      const ok = await page2.evaluate(async (count) => {
        // Copies: classify() transfers the buffers to the worker, which would empty ours.
        const glitches = window.__memGlitches.slice(0, count).map((g) => ({ key: g.key, files: g.files.map((f) => ({ name: f.name, bytes: f.bytes.slice(0) })) }));
        let ok = 0;
        await window.__memClient.classify(glitches, ({ result }) => {
          if (result.ok) ok += 1;
        });
        return ok;
      }, count);
      if (ok !== count) throw new Error(`only ${ok} of ${count} glitches were classified`);
      classified += count;
      const renderers = rendererMemory(profile);
      checkpoints.push({ classified, wasm: await wasmBytes(worker2), rss: Math.max(...renderers.map((r) => r.rss)), seconds: (Date.now() - t1) / 1000 });
      const c = checkpoints.at(-1);
      log(`# ${classified} classifications: wasm ${mib(c.wasm)} MiB, renderer RSS ${mib(c.rss)} MiB (${c.seconds.toFixed(0)} s)`);
    }
    results.repeat = { set: set.length, checkpoints, rssPeak: s2.stop(), hwm: Math.max(...rendererMemory(profile).map((r) => r.hwm)) };
    await page2.close();
  } finally {
    await context?.close();
    await server.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    rmSync(copies, { recursive: true, force: true });
  }
  const md = report(results, source);
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, md);
  process.stdout.write(md);
  log(`# written to ${opts.out}`);
}

function report({ batch, repeat }, source) {
  const first = repeat.checkpoints[0];
  const last = repeat.checkpoints.at(-1);
  const rows = repeat.checkpoints.map((c) => `| ${c.classified} | ${mib(c.wasm)} | ${mib(c.rss)} | ${c.seconds.toFixed(0)} |`).join('\n');
  const chromiumVersion = (() => {
    try {
      return execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'chromium';
    }
  })();
  return `# Memory of the web worker (issue 7)

Produced by \`node tests/e2e/bench-memory.mjs --glitches ${N_BATCH} --classifications ${N_REPEAT} --backend ${opts.backend}\`
on ${new Date().toISOString().slice(0, 10)}, ${chromiumVersion} headless, ${cpus().length} cores (load average
${loadavg()[0].toFixed(1)} at the end), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM. Inputs: ${source}.

- **wasm memory** is the worker's linear memory (\`memory.buffer.byteLength\`, read inside the worker). It never
  shrinks, so it is the worker's high-water mark: weights, activations, decoder buffers and allocator slack.
- **renderer RSS** is the resident memory of the page's renderer process (the worker is one of its threads), from
  \`/proc/PID/status\`, sampled every 250 ms. It includes the page itself (DOM, thumbnails, JS heap).

## One batch of ${batch.glitches} glitches dropped on the page

${batch.files} files, grouped by the page into ${batch.glitches} glitches, classified in ${batch.seconds.toFixed(0)} s
(${batch.status}).

| | wasm memory (MiB) | renderer RSS (MiB) |
|---|---:|---:|
| model loaded | ${mib(batch.loaded.wasm)} | ${mib(batch.loaded.rss)} |
| after the batch / peak during it | ${mib(batch.wasm)} | ${mib(batch.rssPeak)} (sampled peak; VmHWM ${mib(batch.hwm)}) |

## ${last.classified} classifications of the same ${repeat.set} glitches (one ClassifierClient, ${repeat.set} per call; the page keeps no results)

| classifications | wasm memory (MiB) | renderer RSS (MiB) | seconds |
|---:|---:|---:|---:|
${rows}

Growth from the first ${first.classified} to ${last.classified} classifications: wasm memory
${mib(last.wasm - first.wasm)} MiB, renderer RSS ${mib(last.rss - first.rss)} MiB. Renderer RSS peak
${mib(repeat.rssPeak)} MiB (largest 250 ms sample over all of this browser's renderer processes, including any
that ended), VmHWM ${mib(repeat.hwm)} MiB (the kernel's peak of the renderers alive at the end).
`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
