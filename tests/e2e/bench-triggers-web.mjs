#!/usr/bin/env node
// Benchmark (a command, not a test): triggers per second in the page (issue 26), on the same file and triggers as
// scripts/bench-triggers.sh (a GWOSC-layout HDF5 written by tests/fixtures/make_gwosc_h5.py, a burst at each of N
// evenly spaced triggers 40 s from the ends, their GPS times as a list). Both files go into the page's file input
// (as a drop) in headless Chromium with the tests' server and flags (helpers.mjs), CPU backend; timed from the
// drop to the strain panel's final status (the worker opens the file, reads each trigger's 64 s by byte ranges,
// Q-transforms, renders, classifies; the page shows every result).
//
//   node tests/e2e/bench-triggers-web.mjs [RATE=4096] [SECONDS=512] [TRIGGERS=32] [THREADS=1,2]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, launchBrowser, requireWasmPackage, startServer } from './helpers.mjs';

const [rate = 4096, seconds = 512, n = 32] = process.argv.slice(2, 5).map(Number);
const threadCounts = (process.argv[5] ?? '1,2').split(',').map(Number);
const TIMEOUT = 1_800_000;
const GPS0 = 1126259400;

requireWasmPackage();
const dir = mkdtempSync(join(tmpdir(), 'glitchscope-bench-triggers-'));
const strain = join(dir, `H-H1_GWOSC_${rate / 1024}KHZ_R1-${GPS0}-${seconds}.hdf5`);
const list = join(dir, 'gps.txt');
const offsets = Array.from({ length: n }, (_, i) => 40 + Math.floor((i * (seconds - 80)) / (n > 1 ? n - 1 : 1)));
const python = join(homedir(), '.cache', 'glitchscope', 'h5py-venv', 'bin', 'python');
execFileSync(python, [join(REPO, 'tests', 'fixtures', 'make_gwosc_h5.py'), strain, '--rate', String(rate), '--duration', String(seconds),
  ...offsets.flatMap((t) => ['--glitch', String(t)])]);
writeFileSync(list, offsets.map((t) => `${GPS0 + t}\n`).join(''));
console.log(`file: ${seconds} s at ${rate} Hz, ${(statSync(strain).size / 1e6).toFixed(0)} MB, ${n} triggers; ${cpus().length} cores, ` +
  `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}`);

const server = await startServer();
const browser = await launchBrowser();
try {
  for (const threads of threadCounts) {
    const page = await browser.context.newPage();
    await page.goto(`${server.origin}/index.html?backend=cpu&threads=${threads}`);
    await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: TIMEOUT });
    const workers = await page.locator('#model-info').getAttribute('data-workers');
    if (threads === threadCounts[0]) console.log(`# ${await page.evaluate(() => navigator.userAgent)}`);
    const started = Date.now();
    await page.locator('#file-input').setInputFiles([strain, list]);
    await page.waitForFunction(() => ['ok', 'warn', 'error'].includes(document.querySelector('#strain-status')?.dataset.state), null, { timeout: TIMEOUT });
    const wall = (Date.now() - started) / 1000;
    const text = await page.locator('#strain-status').textContent();
    const rows = await page.locator('#results-table tbody tr[data-ok="true"]').count();
    console.log(`page, ${workers} worker(s): ${rows} of ${n} triggers classified, ${(n / wall).toFixed(2)} triggers/s (${wall.toFixed(1)} s from the drop)`);
    console.log(`  status: ${text}`);
    // Where the time goes, per trigger, from the JSON export: the worker's views (read, Q-transform, render, PNG)
    // and its classification (decode, preprocess, network).
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-json').click()]);
    const glitches = JSON.parse(readFileSync(await download.path(), 'utf8')).glitches;
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`  per trigger (median, in each worker): views ${median(glitches.map((g) => g.trigger.views_ms)).toFixed(0)} ms, ` +
      `classification ${median(glitches.map((g) => g.ms)).toFixed(0)} ms`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
