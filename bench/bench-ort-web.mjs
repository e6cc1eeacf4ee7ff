#!/usr/bin/env node
// Browser half of scripts/bench-compare.sh (issue #7): GlitchNet in this machine's headless Chromium (the e2e
// tests' launch flags, tests/e2e/helpers.mjs), ours (www/pkg, GlitchClassifier.classifyTensor) against
// onnxruntime-web (bench/node_modules) on the same exported network: our CPU backend vs ORT's wasm EP, our WebGPU
// vs ORT's WebGPU EP, for each batch size. A batch is B glitches x 4 views, i.e. 4B images through the backbone
// for both. Each (runtime, backend, batch) gets a fresh browser profile, so its load time is a cold first load.
//
//   node bench/bench-ort-web.mjs --onnx DIR [--batches 1,16] [--runs-cpu 5] [--runs-webgpu 2] [--ort-threads 1]
//                                [--threads N] [--backends cpu,webgpu] [--out results.json]
//   node bench/bench-ort-web.mjs --profile [--unfused] [--batches 1,16] [--runs-cpu 5] [--out profile.json]
//
// --profile times our CPU backend operation by operation instead (GlitchClassifier.profileBackbone; the
// median of each operation over the runs; docs/profile.md); it needs no ONNX files. --unfused: Burn's own
// operations instead of the fused CPU kernels.
//
// Served same-origin by a small static server of its own: /pkg/ (www/pkg), /models/ (models), /ort/ (the
// onnxruntime-web dist files), /onnx/ (DIR, from bench/export_onnx.py) and / (bench/web). It sends COOP/COEP so
// the page is cross-origin isolated (ORT may then use wasm threads; --ort-threads picks how many; ours is
// single-threaded in wasm, and --threads N gives ours N workers as the page's pool does and ORT N threads).
// Prints one JSON document (and writes it to --out).

import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchBrowser } from '../tests/e2e/helpers.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const REPO = resolve(here, '..');
// The input size is the default model card's (the 2026-11-26 runs used a 176x208 card; the model of
// 2026-12-01 takes 88x104), so every runtime gets what the shipped model takes.
const CARD = JSON.parse(readFileSync(join(REPO, 'models', 'default.json'), 'utf8'));
const HEIGHT = CARD.input.height;
const WIDTH = CARD.input.width;
const log = (m) => console.error(`[bench-ort-web] ${m}`);

const { values } = parseArgs({
  options: {
    onnx: { type: 'string' },
    batches: { type: 'string', default: '1,16' },
    backends: { type: 'string', default: 'cpu,webgpu' },
    'runs-cpu': { type: 'string', default: '5' },
    'runs-webgpu': { type: 'string', default: '2' },
    'ort-threads': { type: 'string', default: '1' },
    threads: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'boolean', default: false },
    unfused: { type: 'boolean', default: false },
  },
});
if (!values.onnx && !values.profile) {
  console.error('usage: node bench/bench-ort-web.mjs --onnx DIR [--batches 1,16] [--runs-cpu N] [--runs-webgpu N] [--out FILE]');
  process.exit(2);
}
const batches = values.batches.split(',').map(Number);
const backends = values.backends.split(',');
const runs = { cpu: Number(values['runs-cpu']), webgpu: Number(values['runs-webgpu']) };
// --threads N: ORT with N wasm threads and ours, on the CPU, with a pool of N workers (the page's pool,
// www/classifier-client.js); --ort-threads N alone keeps ours on the page's main thread.
const ortThreads = Number(values.threads ?? values['ort-threads']);
const ourWorkers = Number(values.threads ?? 1);
// Our backend name -> onnxruntime-web execution provider doing the same job.
const ORT_EP = { cpu: 'wasm', webgpu: 'webgpu' };

const ROOTS = [
  ['/pkg/', join(REPO, 'www', 'pkg')],
  ['/models/', join(REPO, 'models')],
  ...(values.profile ? [] : [['/ort/', join(here, 'node_modules', 'onnxruntime-web', 'dist')]]),
  ...(values.onnx ? [['/onnx/', resolve(values.onnx)]] : []),
  ['/', join(here, 'web')],
];
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

for (const [, dir] of ROOTS) if (!existsSync(dir)) throw new Error(`${dir} is missing (see scripts/bench-compare.sh)`);

function serve() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const root = ROOTS.find(([prefix]) => path.startsWith(prefix));
    const file = resolve(root[1], `.${sep}${path.slice(root[0].length) || 'index.html'}`);
    if (!file.startsWith(root[1]) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-cache',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function once(origin, fn, args) {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => window.benchReady === true);
    const result = await page.evaluate(({ fn, args }) => window[fn](args), { fn, args });
    result.problems = [...new Set(browser.problems)];
    return result;
  } finally {
    await browser.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** --profile: every operation's median time over the runs, for each batch. */
async function profile(origin) {
  const out = [];
  for (const batch of batches) {
    log(`profile of ours (cpu), batch ${batch}`);
    const args = { batch, runs: runs.cpu, height: HEIGHT, width: WIDTH, fused: !values.unfused };
    const { passes, problems } = await once(origin, 'profileOurs', args);
    const rows = passes[0].map((row, j) => ({ ...row, ms: median(passes.map((p) => p[j].ms)) }));
    log(`  total ${rows.reduce((a, r) => a + r.ms, 0).toFixed(0)} ms`);
    out.push({ batch, images: batch * 4, runs: runs.cpu, rows, problems });
  }
  return out;
}

async function main() {
  const server = await serve();
  if (values.profile) {
    const origin = `http://127.0.0.1:${server.address().port}`;
    try {
      const json = JSON.stringify({ height: HEIGHT, width: WIDTH, viewsPerGlitch: 4, profiles: await profile(origin) }, null, 1);
      if (values.out) writeFileSync(values.out, json);
      process.stdout.write(`${json}\n`);
    } finally {
      server.close();
    }
    return;
  }
  const origin = `http://127.0.0.1:${server.address().port}`;
  const results = [];
  try {
    for (const backend of backends) {
      for (const batch of batches) {
        const common = { batch, runs: runs[backend], height: HEIGHT, width: WIDTH };
        log(`ours ${backend}, batch ${batch}`);
        const pooled = backend === 'cpu' && ourWorkers > 1;
        const ours = pooled
          ? await once(origin, 'benchOursWorkers', { ...common, workers: ourWorkers })
          : { ...(await once(origin, 'benchOurs', { ...common, backend })), workers: 0 };
        log(`  load ${ours.loadMs.toFixed(0)} ms, warm-up ${ours.warmupMs.toFixed(0)} ms, runs ${ours.times.map((t) => t.toFixed(0)).join(', ')} ms`);
        log(`onnxruntime-web ${ORT_EP[backend]}, batch ${batch}`);
        const ort = await once(origin, 'benchOrt', { ...common, ep: ORT_EP[backend], threads: ortThreads });
        log(`  load ${ort.loadMs.toFixed(0)} ms, warm-up ${ort.warmupMs.toFixed(0)} ms, runs ${ort.times.map((t) => t.toFixed(0)).join(', ')} ms`);
        const diff = Math.max(...ours.probabilities.map((p, i) => Math.abs(p - ort.probabilities[i])));
        results.push({
          backend, ortEp: ORT_EP[backend], batch, runs: runs[backend],
          ours: { loadMs: ours.loadMs, warmupMs: ours.warmupMs, times: ours.times, medianMs: median(ours.times), workers: ours.workers, problems: ours.problems },
          ort: { loadMs: ort.loadMs, warmupMs: ort.warmupMs, times: ort.times, medianMs: median(ort.times), threads: ortThreads, crossOriginIsolated: ort.crossOriginIsolated, problems: ort.problems },
          maxAbsProbabilityDiff: diff,
        });
      }
    }
  } finally {
    server.close();
  }
  const json = JSON.stringify({ height: HEIGHT, width: WIDTH, viewsPerGlitch: 4, results }, null, 1);
  if (values.out) writeFileSync(values.out, json);
  process.stdout.write(`${json}\n`);
}

main().catch((err) => {
  console.error(`bench-ort-web: ${err.stack ?? err}`);
  process.exit(1);
});
