// Discovery in the page (issue #6): real Gravity Spy glitches are classified, then the embedding map (t-SNE +
// HDBSCAN in discovery-worker.js) shows one point per glitch, hovering a point shows its tooltip, the results table
// has the calibrated "Unfamiliar" column, and choosing a glitch lists its nearest neighbours among the uploaded
// glitches and in the model's shipped reference set. Nothing may leave the origin.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ARTIFACTS, REPO, SHARED_REAL, SKIP_NO_SHARED, cspViolations, logSkip, skipIf, foreignRequests, launchBrowser,
  requireWasmPackage, startServer,
} from './helpers.mjs';

// Two glitches of each of three classes, all four views (o1_full_plots: full 800x600 Gravity Spy plots).
const GLITCHES = {
  Blip: ['H1_0Sug0tqkoL'],
  Whistle: ['L1_FOjcfFqddp'],
};
const DURATIONS = ['0.5', '1.0', '2.0', '4.0'];
const LOAD_TIMEOUT = 240_000;
const CLASSIFY_TIMEOUT = 480_000;
const MAP_TIMEOUT = 120_000;

let server;
let browser;

/** Up to `perClass` glitch keys of each class folder under o1_full_plots, the named ones first. */
function pickGlitches(perClass) {
  const root = join(SHARED_REAL, 'o1_full_plots');
  const picked = [];
  for (const cls of ['Blip', 'Whistle', 'Scratchy']) {
    const dir = join(root, cls);
    if (!existsSync(dir)) continue;
    const keys = new Set(GLITCHES[cls] ?? []);
    for (const line of readFileSync(join(SHARED_REAL, 'manifest.csv'), 'utf8').split('\n')) {
      if (keys.size >= perClass) break;
      const m = /o1_full_plots\/(\w+)\/([HLV]1_[A-Za-z0-9]+)_spectrogram_1\.0\.png/.exec(line);
      if (m && m[1] === cls) keys.add(m[2]);
    }
    for (const key of [...keys].slice(0, perClass)) {
      const files = DURATIONS.map((d) => join(dir, `${key}_spectrogram_${d}.png`)).filter(existsSync);
      if (files.length) picked.push({ key, cls, files });
    }
  }
  return picked;
}

before(async () => {
  requireWasmPackage();
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('embedding map, unfamiliar score and similarity search', { skip: skipIf(SKIP_NO_SHARED, 'discovery.test.mjs: embedding map, unfamiliar score and similarity search') }, () => {
  test('map, tooltip, unfamiliar column and neighbours (uploaded + reference set), all same-origin', async () => {
    const card = JSON.parse(readFileSync(join(REPO, 'models', 'default.json'), 'utf8'));
    assert.ok(card.reference?.file, 'models/default.json names no reference set (run scripts/make-reference-set.sh)');
    const glitches = pickGlitches(2);
    assert.ok(glitches.length >= 4, `found only ${glitches.length} real glitches under ${SHARED_REAL}/o1_full_plots`);

    const page = await browser.context.newPage();
    try {
      await page.goto(`${server.origin}/index.html?backend=cpu`);
      await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator('#status').getAttribute('data-state'), 'ok', await page.locator('#status').textContent());
      assert.equal(await page.locator('#embedding-map').isHidden(), true, 'the map is hidden before any glitch');

      await page.locator('#file-input').setInputFiles(glitches.flatMap((g) => g.files));
      await page.waitForFunction(() => /^Done/.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: CLASSIFY_TIMEOUT });

      // The map: one point per glitch, clusters computed.
      await page.waitForFunction(() => document.querySelector('#embedding-map')?.dataset.state === 'done', null, { timeout: MAP_TIMEOUT });
      const mapStatus = await page.locator('#map-status').textContent();
      console.log(`# ${mapStatus}`);
      assert.equal(await page.locator('#map-canvas').getAttribute('data-points'), String(glitches.length));
      await page.locator('#map-canvas').scrollIntoViewIfNeeded();
      const points = await page.locator('#map-canvas').evaluate((canvas) => canvas.glitchscopePoints());
      assert.equal(points.length, glitches.length);
      assert.deepEqual(new Set(points.map((p) => p.key)), new Set(glitches.map((g) => g.key)));
      assert.ok(points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && Number.isInteger(p.cluster)), JSON.stringify(points));
      const legend = await page.locator('#map-legend li').allTextContents();
      assert.ok(legend.some((t) => /outlier/.test(t)), `legend: ${legend}`);

      // The map is drawn: the canvas has coloured pixels where a point is.
      const painted = await page.locator('#map-canvas').evaluate((canvas, p) => {
        const rect = canvas.getBoundingClientRect();
        const dpr = canvas.width / rect.width;
        const data = canvas.getContext('2d').getImageData(Math.round((p.x - rect.left) * dpr) - 3, Math.round((p.y - rect.top) * dpr) - 3, 7, 7).data;
        return data.some((v, i) => i % 4 === 3 && v > 0);
      }, points[0]);
      assert.ok(painted, 'nothing is drawn where the first point is');

      // Hover: the tooltip names the glitch and shows its view thumbnails and top classes.
      const target = points[0];
      await page.mouse.move(target.x, target.y);
      const tooltip = page.locator('#map-tooltip');
      await tooltip.waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await tooltip.getAttribute('data-key'), target.key);
      assert.ok((await tooltip.locator('img').count()) >= 1, 'no thumbnails in the tooltip');
      assert.ok((await tooltip.locator('ol li').count()) >= 1, 'no classes in the tooltip');
      await page.screenshot({ path: join(ARTIFACTS, 'discovery-map.png'), fullPage: true });

      // Unfamiliar column: a percentage for every classified glitch.
      assert.equal(await page.locator('#results-table th[data-column="unfamiliar"]').count(), 1);
      const unfamiliar = await page.locator('#results-table tbody tr[data-ok="true"] td.unfamiliar').allTextContents();
      assert.equal(unfamiliar.length, glitches.length);
      for (const text of unfamiliar) assert.match(text, /^\d+(\.\d+)?\s?%/, `unfamiliar cell "${text}"`);

      // Click: the glitch is selected and its neighbours are listed.
      await page.mouse.click(target.x, target.y);
      await page.waitForFunction(() => document.querySelector('#similar-panel')?.dataset.state === 'done', null, { timeout: 30_000 });
      assert.equal(await page.locator(`#results-table tbody tr.selected`).getAttribute('data-key'), target.key);
      const among = await page.locator('#similar-among li[data-source="uploaded"]').evaluateAll((items) => items.map((li) => li.dataset.key));
      assert.equal(among.length, glitches.length - 1, `neighbours among uploaded: ${among}`);
      assert.ok(!among.includes(target.key), 'a glitch is not its own neighbour');
      assert.ok((await page.locator('#similar-among li img').count()) >= 1, 'uploaded neighbours have thumbnails');
      const reference = await page.locator('#similar-reference li[data-source="reference"]').allTextContents();
      assert.equal(reference.length, 8, `reference neighbours: ${reference}`);
      // The real o1_full_plots glitches are part of the shipped reference set: the nearest reference glitch of an
      // uploaded one is that same glitch, at (almost) zero distance (f16 storage, same network in wasm).
      assert.match(reference[0], new RegExp(`^${target.key} `), `nearest reference glitch: ${reference[0]}`);
      const distance = Number(/distance (\d+\.\d+)/.exec(reference[0])?.[1]);
      assert.ok(distance < 0.01, `distance of the glitch to itself in the reference set: ${distance}`);
      await page.screenshot({ path: join(ARTIFACTS, 'discovery-similar.png'), fullPage: true });

      // Keyboard: the arrow keys on the focused map select the next glitch.
      await page.locator('#map-canvas').focus();
      await page.keyboard.press('ArrowRight');
      const next = points[(points.findIndex((p) => p.key === target.key) + 1) % points.length].key;
      await page.waitForFunction((key) => document.querySelector('#results-table tbody tr.selected')?.dataset.key === key &&
        document.querySelector('#similar-heading')?.textContent.includes(key), next, { timeout: 10_000 });

      // Clearing empties and hides the map.
      await page.locator('#clear').click();
      assert.equal(await page.locator('#embedding-map').isHidden(), true);

      assert.deepEqual(foreignRequests(browser.requests, server.origin), [], 'requests left the origin');
      assert.deepEqual(await cspViolations(page), []);
      assert.deepEqual(browser.cspLog, []);
      assert.deepEqual(browser.problems, [], `errors in the page or its workers: ${browser.problems.join('\n')}`);
    } finally {
      await page.close();
    }
  });

  // The same unfamiliar score in the page as natively (`glitchscope embed` + `cluster --reference`, the shipped
  // reference set and its calibration): O1 glitches that are in the reference set (each scored without itself)
  // and two O3 Fast_Scattering glitches no model here was trained on.
  test('unfamiliar percentiles equal the native CLI', async () => {
    const cli = join(process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'glitchscope', 'target'), 'release', 'glitchscope');
    if (!existsSync(cli)) {
      assert.ok(process.env.CI !== 'true', `native parity needs ${cli} under CI (cargo build --release -p glitchscope-trainer)`);
      logSkip('discovery.test.mjs: unfamiliar score vs native', `${cli} is not built`);
      return;
    }
    const fastDir = join(SHARED_REAL, 'o3_l1_4s', 'Fast_Scattering');
    const fast = readdirSync(fastDir).filter((f) => f.endsWith('.png')).sort().slice(0, 2).map((f) => join(fastDir, f));
    const files = [...pickGlitches(1).flatMap((g) => g.files), ...fast];
    const tmp = mkdtempSync(join(tmpdir(), 'glitchscope-unfamiliar-'));
    let native;
    try {
      execFileSync(cli, ['embed', '--model', join(REPO, 'models', 'default.json'), '--out', join(tmp, 'e.csv'), ...files], { stdio: 'pipe' });
      execFileSync(cli, ['cluster', '--embeddings', join(tmp, 'e.csv'), '--reference', join(REPO, 'models', 'default.gsref'), '--out', join(tmp, 'map')], { stdio: 'pipe' });
      const [header, ...rows] = readFileSync(join(tmp, 'map', 'clusters.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
      const col = (name) => header.indexOf(name);
      native = Object.fromEntries(rows.map((r) => [r[col('key')], { percentile: Number(r[col('unfamiliar_percentile')]), flagged: r[col('new_class_candidate')] === 'true' }]));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const page = await browser.context.newPage();
    try {
      await page.goto(`${server.origin}/index.html?backend=cpu`);
      await page.waitForFunction(() => document.querySelector('#status')?.dataset.state === 'ok', null, { timeout: LOAD_TIMEOUT });
      await page.locator('#file-input').setInputFiles(files);
      await page.waitForFunction(() => /^Done/.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: CLASSIFY_TIMEOUT });
      const cells = await page.locator('#results-table tbody tr[data-ok="true"]').evaluateAll((rows) =>
        rows.map((tr) => ({ key: tr.dataset.key, text: tr.querySelector('td.unfamiliar')?.textContent ?? '' })));
      assert.equal(cells.length, Object.keys(native).length, `page rows ${JSON.stringify(cells)} vs native ${JSON.stringify(native)}`);
      for (const { key, text } of cells) {
        assert.ok(native[key], `${key} is not in the native output`);
        const shown = Number(/([\d.]+)\s?%/.exec(text)?.[1]);
        console.log(`# ${key}: page ${text}, native ${(100 * native[key].percentile).toFixed(1)} %${native[key].flagged ? ' (flagged)' : ''}`);
        // The page shows one decimal of a percent; the same network and reference set give the same score.
        assert.ok(Math.abs(shown - 100 * native[key].percentile) <= 0.051, `${key}: page ${text}, native ${native[key].percentile}`);
      }
      // Fast_Scattering (no model here was trained on it) is stranger than the known O1 glitches (measured
      // 2026-12-07 with the distance alone: 95.0 and 97.1 % against 9.0-43.3 %; 2026-12-08 with the reference
      // head's doubt joined: 100.0 and 100.0 % against 17.9-26.9 %).
      const fastKeys = new Set(fast.map((f) => /([HLV]1_[\d.]+)_spectrogram/.exec(f)[1]));
      const pct = (keep) => Object.entries(native).filter(([k]) => keep(fastKeys.has(k))).map(([, v]) => v.percentile);
      assert.ok(Math.min(...pct((f) => f)) > Math.max(...pct((f) => !f)), `Fast_Scattering not above the O1 glitches: ${JSON.stringify(native)}`);
      assert.deepEqual(foreignRequests(browser.requests, server.origin), [], 'requests left the origin');
    } finally {
      await page.close();
    }
  });
});
