#!/usr/bin/env node
// Benchmark of the embedding map in the browser (a command, not a test): time to prepare (unit length + PCA to 50
// dimensions), run t-SNE (750 iterations, intermediate layouts every 25 as the page asks) and cluster (HDBSCAN) n
// embeddings, through the page's own discovery-client.js / discovery-worker.js / wasm, in the same headless
// Chromium and server as the e2e tests. Also a similarity search (nearest 8 among n + in the reference set) and
// the longest gap between the page's animation frames during the map (the page must stay responsive).
//
//   node tests/e2e/bench-discovery.mjs [--sizes 500,2000] [--out docs/bench-discovery.md]
//
// Input: synthetic embeddings, Gaussian clusters in the embedding dimension (1280): 20 blobs, each point at
// distance ~0.5 from its blob's unit-length centre (what discovery::synthetic::gaussian_blobs makes natively).
// The timings do not depend on the values, only on n and the dimension; the cluster count is a sanity check.

import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, launchBrowser, requireWasmPackage, startServer } from './helpers.mjs';

const DIM = 1280;
const BLOBS = 20;
const ITERATIONS = 750; // as www/embedding-map.js
const EVERY = 25;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '500,2000' },
    out: { type: 'string', default: join(REPO, 'docs', 'bench-discovery.md') },
  },
});
const sizes = values.sizes.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 20000)) {
  console.error(`bench-discovery: --sizes takes whole numbers from 2 to 20000, not "${values.sizes}"`);
  process.exit(2);
}
const log = (m) => console.error(`[bench-discovery] ${m}`);

requireWasmPackage();
const server = await startServer();
const browser = await launchBrowser();
const rows = [];
try {
  const page = await browser.context.newPage();
  // A model name that does not exist: the page's classifier stops at once and leaves the cores to the benchmark.
  await page.goto(`${server.origin}/index.html?model=bench-no-model`);
  await page.waitForFunction(() => document.querySelector('#status')?.dataset.state === 'error', null, { timeout: 60_000 });
  for (const n of sizes) {
    log(`n = ${n}…`);
    const row = await page.evaluate(
      async ({ n, dim, blobs, iterations, every }) => {
        const { DiscoveryClient } = await import('/discovery-client.js');
        // Seeded normal numbers (mulberry32 + Box-Muller), so every run maps the same points.
        let s = 2026;
        const uniform = () => {
          s = (s + 0x6d2b79f5) | 0;
          let t = Math.imul(s ^ (s >>> 15), 1 | s);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
        const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
        const centres = Array.from({ length: blobs }, () => {
          const c = Float64Array.from({ length: dim }, normal);
          const norm = Math.hypot(...c);
          return c.map((v) => v / norm);
        });
        const flat = new Float32Array(n * dim);
        const sigma = 0.5 / Math.sqrt(dim);
        for (let i = 0; i < n; i++) {
          const c = centres[i % blobs];
          for (let d = 0; d < dim; d++) flat[i * dim + d] = c[d] + sigma * normal();
        }
        const client = new DiscoveryClient();
        const { reference } = await client.load('models/default.json');
        // Warm-up: compile and instantiate the wasm in the worker before timing.
        await client.map(flat.slice(0, 20 * dim), dim, { iterations: 10 }).done;

        let maxFrameGap = 0;
        let last = performance.now();
        let frames = true;
        const tick = (now) => {
          maxFrameGap = Math.max(maxFrameGap, now - last);
          last = now;
          if (frames) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
        let progressMessages = 0;
        const t0 = performance.now();
        const run = client.map(flat.slice(), dim, { iterations }, () => (progressMessages += 1), every);
        const done = await run.done;
        const wall = performance.now() - t0;
        frames = false;
        const clusters = new Set([...done.clusters].filter((c) => c >= 0)).size;
        const outliers = done.clusters.filter((c) => c < 0).length;
        const t1 = performance.now();
        const found = await client.similar(flat, dim, 0, 8);
        const similarMs = performance.now() - t1;
        client.terminate();
        return { n, wall, prepare: done.ms.prepare, tsne: done.ms.tsne, hdbscanMs: done.ms.clusters, progressMessages,
          clusterCount: clusters, outliers, maxFrameGap, similarMs,
          referenceNeighbours: found.reference.length, referenceSize: reference?.length ?? 0 };
      },
      { n, dim: DIM, blobs: BLOBS, iterations: ITERATIONS, every: EVERY },
    );
    // The same n through the page itself: n synthetic results added to the page's results store, then the map
    // section's "Recompute map" (the page draws every intermediate layout on its canvas, and app.js has a table
    // row and a card per glitch).
    const pageView = await browser.context.newPage();
    await pageView.goto(`${server.origin}/index.html?model=bench-no-model`);
    await pageView.waitForFunction(() => document.querySelector('#status')?.dataset.state === 'error', null, { timeout: 60_000 });
    const inPage = await pageView.evaluate(
      async ({ n, dim, blobs }) => {
        const { results } = await import('/results-store.js');
        let s = 2026;
        const uniform = () => {
          s = (s + 0x6d2b79f5) | 0;
          let t = Math.imul(s ^ (s >>> 15), 1 | s);
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
          return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
        };
        const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
        const centres = Array.from({ length: blobs }, () => {
          const c = Float64Array.from({ length: dim }, normal);
          const norm = Math.hypot(...c);
          return c.map((v) => v / norm);
        });
        results.labels = Array.from({ length: 22 }, (_, i) => `Class_${i}`);
        document.querySelector('#map-auto').checked = false;
        const sigma = 0.5 / Math.sqrt(dim);
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const c = centres[i % blobs];
          const embedding = Array.from(c, (v) => v + sigma * normal());
          results.add({ key: `SYN_${String(i).padStart(5, '0')}`, ok: true, views: [], top5: [{ label: results.labels[i % blobs], probability: 0.9 }],
            probabilities: [], embedding, backend: 'cpu', ms: 1 });
        }
        const addMs = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 500)); // let the table render settle
        let maxFrameGap = 0;
        let last = performance.now();
        let frames = true;
        const tick = (now) => {
          maxFrameGap = Math.max(maxFrameGap, now - last);
          last = now;
          if (frames) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
        const t1 = performance.now();
        document.querySelector('#map-recompute').click();
        await new Promise((resolve, reject) => {
          const check = () => {
            const state = document.querySelector('#embedding-map').dataset.state;
            if (state === 'done') resolve();
            else if (state === 'error') reject(new Error(document.querySelector('#map-status').textContent));
            else setTimeout(check, 20);
          };
          check();
        });
        const mapMs = performance.now() - t1;
        frames = false;
        const points = document.querySelector('#map-canvas').glitchscopePoints().length;
        // Hover cost: one pointer move over the canvas (nearest-point search + redraw).
        const canvas = document.querySelector('#map-canvas');
        const rect = canvas.getBoundingClientRect();
        const t2 = performance.now();
        canvas.dispatchEvent(new PointerEvent('pointermove', { clientX: rect.left + rect.width / 2, clientY: rect.top + rect.height / 2, bubbles: true }));
        const hoverMs = performance.now() - t2;
        return { addMs, mapMs, maxFrameGap, points, hoverMs };
      },
      { n, dim: DIM, blobs: BLOBS },
    );
    await pageView.close();
    Object.assign(row, { page: inPage });
    log(JSON.stringify(row));
    rows.push(row);
  }
} finally {
  await browser.close();
  await server.stop();
}

const s = (ms) => (ms / 1000).toFixed(2);
const table = [
  '| glitches | prepare (PCA) s | t-SNE 750 it. s | HDBSCAN s | total (wall) s | layouts drawn | clusters found (of 20) | outliers | longest page frame gap ms | similarity search ms |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.n} | ${s(r.prepare)} | ${s(r.tsne)} | ${s(r.hdbscanMs)} | ${s(r.wall)} | ${r.progressMessages} | ${r.clusterCount} | ${r.outliers} | ${Math.round(r.maxFrameGap)} | ${Math.round(r.similarMs)} |`),
];
const pageTable = [
  '| glitches | points drawn | map in the page, wall s | longest page frame gap during the map ms | one hover (search + redraw) ms | adding the results to the page (app.js table + cards) s |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.n} | ${r.page.points} | ${s(r.page.mapMs)} | ${Math.round(r.page.maxFrameGap)} | ${r.page.hoverMs.toFixed(1)} | ${s(r.page.addMs)} |`),
];
const load = loadavg();
const markdown = `# Embedding map benchmark (browser)

Produced by \`node tests/e2e/bench-discovery.mjs --sizes ${sizes.join(',')}\` on ${new Date().toISOString().slice(0, 10)}:
headless Chromium, the page's own discovery worker and wasm (Rust \`discovery::MapSession\`), ${cpus().length} CPU cores
(${cpus()[0]?.model ?? 'unknown'}), load average ${load.map((l) => l.toFixed(2)).join(' / ')} at the end (the cores
are shared, so treat the numbers as upper bounds).

Input: ${BLOBS} Gaussian clusters of synthetic ${DIM}-d embeddings. Steps: unit length + PCA to 50 dimensions
("prepare"), Barnes-Hut t-SNE for ${ITERATIONS} iterations with an intermediate layout posted to the page every ${EVERY},
HDBSCAN (min cluster size 5) on the PCA coordinates. "Longest page frame gap" is the longest time between two
animation frames of the page while the map was computed (the work runs in a worker). Similarity search: nearest 8
among the n glitches plus nearest 8 in the shipped reference set, one query. In this first table the page itself
does nothing while the worker computes, so a frame gap above ~17 ms there measures the machine (other processes on
the shared cores), not the page.

${table.join('\n')}

Through the page (www/index.html with its embedding-map.js): the n results added to the page's results store, then
"Recompute map"; the page draws every intermediate layout on its canvas. The wall time of this first map in a fresh
page also includes starting the discovery worker (compiling the wasm) and copying the embeddings to it.

${pageTable.join('\n')}
`;
writeFileSync(resolve(values.out), markdown);
console.log(markdown);
