// Few-shot classes in the page (issue #6): define a class from real glitches the model was never trained on
// (O3 Fast_Scattering), see it in the predictions of every glitch, keep it across a reload (IndexedDB), export it,
// remove it, import it back, and refuse malformed files and files of another model with a clear message.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIFACTS, HAS_SHARED, REPO, SHARED_REAL, cspViolations, launchBrowser, requireWasmPackage, skipIf, startServer } from './helpers.mjs';

const O3 = join(SHARED_REAL, 'o3_l1_4s');
const SKIP = HAS_SHARED ? false : `needs real Gravity Spy images at ${O3} (../shared/data next to the repository), absent here`;
const LOAD_TIMEOUT = 240_000;
const CLASSIFY_TIMEOUT = 480_000;
const NEW_CLASS = 'Fast_Scattering'; // an O3 class, not among the model's 22

let server;
let browser;
let dir;
const files = {}; // class -> [file paths]

before(async () => {
  requireWasmPackage();
  if (!HAS_SHARED) return;
  server = await startServer();
  browser = await launchBrowser();
  dir = mkdtempSync(join(tmpdir(), 'glitchscope-fewshot-'));
  for (const [cls, n] of [[NEW_CLASS, 7], ['Koi_Fish', 3], ['Scattered_Light', 3]]) {
    const names = readdirSync(join(O3, cls)).filter((f) => f.endsWith('.png')).sort().slice(0, n);
    files[cls] = names.map((name) => {
      copyFileSync(join(O3, cls, name), join(dir, name));
      return join(dir, name);
    });
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const keyOf = (path) => path.split('/').pop().replace(/_spectrogram_.*$/, '');

async function openPage(page) {
  await page.goto(`${server.origin}/index.html?backend=cpu`);
  await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: LOAD_TIMEOUT });
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'ok', await page.locator('#status').textContent());
}

async function classify(page, paths) {
  await page.locator('#file-input').setInputFiles(paths);
  await page.waitForFunction(() => /^Done/.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: CLASSIFY_TIMEOUT });
}

/** Top-5 of every card: key -> [{label, probability, fewShot}]. */
async function top5s(page) {
  return page.locator('article.glitch').evaluateAll((cards) =>
    Object.fromEntries(cards.map((card) => [card.dataset.key, [...card.querySelectorAll('ol.top5 li')].map((li) => ({
      label: li.dataset.label, probability: Number(li.dataset.probability), fewShot: li.dataset.fewShot === 'true',
    }))])),
  );
}

/** Wait until the few-shot class is (or is no longer) in some card's top-5. */
async function waitForClassInPredictions(page, present) {
  await page.waitForFunction(
    ([name, want]) => [...document.querySelectorAll('ol.top5 li')].some((li) => li.dataset.label === name) === want,
    [NEW_CLASS, present],
    { timeout: 60_000 },
  );
}

async function panelClasses(page) {
  return page.locator('#few-shot-list li[data-name]').evaluateAll((items) => items.map((li) => li.dataset.name));
}

test('few-shot class: define from 2 glitches, predictions, reload, export, remove, import, bad files', { skip: skipIf(SKIP, 'fewshot.test.mjs: few-shot class') }, async () => {
  const page = await browser.context.newPage();
  try {
    await openPage(page);
    const fast = files[NEW_CLASS].slice(0, 4);
    const all = [...fast, ...files.Koi_Fish, ...files.Scattered_Light];
    await classify(page, all);
    const before = await top5s(page);
    for (const [key, top5] of Object.entries(before)) {
      assert.ok(!top5.some((t) => t.label === NEW_CLASS), `${key}: ${NEW_CLASS} predicted before it was defined`);
    }

    // Pick the first two Fast_Scattering glitches in the table and name the class.
    const examples = fast.slice(0, 2).map(keyOf);
    const heldOut = fast.slice(2).map(keyOf);
    for (const key of examples) await page.locator(`#results-table tr[data-key="${key}"] input.pick-box`).check();
    assert.equal(await page.locator('#few-shot-define').textContent(), 'Define class from 2 selected');
    await page.locator('#few-shot-name').fill(NEW_CLASS);
    await page.locator('#few-shot-define').click();
    await page.waitForFunction(() => /defined from 2 glitches/.test(document.querySelector('#few-shot-status')?.textContent ?? ''), null, { timeout: 60_000 });
    await waitForClassInPredictions(page, true);
    assert.deepEqual(await panelClasses(page), [NEW_CLASS]);

    const after1 = await top5s(page);
    for (const key of [...examples, ...heldOut]) {
      console.log(`# ${key}: ${after1[key].map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join(', ')}`);
    }
    // The held-out Fast_Scattering glitches (never shown as examples) now rank the new class high. Measured
    // 2026-12-08: both first at 99.5 and 99.7 %, since a class of 2 examples borrows the glitches the prototypes
    // are sure of and goes to the self-trained head rule (few_shot_head.rs); with the prototypes alone (2026-12-07)
    // 99.7 % first, and 25.1 % second behind Low_Frequency_Burst (56.8 %) for L1_1265131252, a glitch the model's
    // head calls Low_Frequency_Burst. How often a few-shot class takes its glitches is measured
    // over many draws by trainer/tests/discovery_real.rs (1/5/10 examples: 71.7 / 92.8 / 94.0 %) and
    // `glitchscope unseen`; here, one draw of two examples: at least one held-out glitch first with at least half
    // the probability, and every one with the new class in its top 2 at 10 % or more.
    let first = 0;
    for (const key of heldOut) {
      const rank = after1[key].findIndex((t) => t.label === NEW_CLASS);
      assert.ok(rank === 0 || rank === 1, `${key}: held-out ${NEW_CLASS} is not in the top 2: ${after1[key].map((t) => t.label).join(', ')}`);
      assert.ok(after1[key][rank].probability >= 0.1, `${key}: ${NEW_CLASS} at only ${after1[key][rank].probability} (measured 0.25-1.00)`);
      assert.ok(after1[key][rank].fewShot, `${key}: the few-shot class is not marked as the user's`);
      if (rank === 0 && after1[key][0].probability >= 0.5) first += 1;
    }
    assert.ok(first >= 1, `no held-out ${NEW_CLASS} glitch came out first: ${JSON.stringify(heldOut.map((k) => after1[k]))}`);
    // Known-class glitches keep the model's answer as their top class.
    for (const path of [...files.Koi_Fish, ...files.Scattered_Light]) {
      const key = keyOf(path);
      assert.notEqual(after1[key][0].label, NEW_CLASS, `${key}: a known-class glitch became ${NEW_CLASS}`);
      assert.equal(after1[key][0].label, before[key][0].label, `${key}: top class changed from ${before[key][0].label}`);
    }
    for (const [key, top5] of Object.entries(after1)) {
      const sum = top5.reduce((s, t) => s + t.probability, 0);
      assert.ok(sum <= 1 + 1e-5, `${key}: top-5 sums to ${sum}`);
      for (let i = 1; i < top5.length; i++) assert.ok(top5[i - 1].probability >= top5[i].probability, `${key}: not sorted`);
    }
    // Each card says how much of the probability the user's classes took.
    assert.match(await page.locator(`article.glitch[data-key="${heldOut[0]}"] .few-shot-note`).textContent(), /few-shot classes took \d+\.\d %/);
    // The table's top class follows.
    assert.equal(await page.locator(`#results-table tr[data-key="${heldOut[0]}"] td`).first().textContent(), NEW_CLASS);
    // The explanation of the probability is on the page.
    assert.match(await page.locator('.few-shot-how').textContent(), /cosine similarity[\s\S]*softmax[\s\S]*1 − \(sum of the shares\)/);

    // Export: a versioned JSON with the model name and embedding size.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#few-shot-export').click()]);
    const exportedPath = join(dir, 'exported-classes.json');
    writeFileSync(exportedPath, readFileSync(await download.path()));
    const exported = JSON.parse(readFileSync(exportedPath, 'utf8'));
    assert.equal(exported.format, 'glitchscope-few-shot/1');
    assert.equal(exported.embedding_dim, 1280);
    const card = JSON.parse(readFileSync(join(REPO, 'models', 'default.json'), 'utf8'));
    assert.equal(exported.model, card.name);
    assert.deepEqual(exported.classes.map((c) => c.name), [NEW_CLASS]);
    assert.deepEqual(exported.classes[0].examples, examples);
    assert.equal(exported.classes[0].prototype.length, 1280);

    // Reload: the class is still there (IndexedDB) and joins new classifications.
    await openPage(page);
    await page.waitForFunction((name) => !!document.querySelector(`#few-shot-list li[data-name="${name}"]`), NEW_CLASS, { timeout: 30_000 });
    await classify(page, [...fast.slice(2), ...files.Koi_Fish]);
    await waitForClassInPredictions(page, true);
    const reloaded = await top5s(page);
    assert.ok(heldOut.some((key) => reloaded[key][0].label === NEW_CLASS), `after reload: ${JSON.stringify(reloaded)}`);

    // Remove: gone from the panel and from every prediction.
    await page.getByRole('button', { name: `Remove the class ${NEW_CLASS}` }).click();
    await waitForClassInPredictions(page, false);
    assert.deepEqual(await panelClasses(page), []);
    assert.equal(await page.locator('#few-shot-export').isDisabled(), true);

    // Bad imports: a clear error each, nothing changes.
    const bad = {
      'not-json.json': 'this is not JSON',
      'other-model.json': JSON.stringify({ ...exported, model: 'some-other-model' }),
      'wrong-dim.json': JSON.stringify({ ...exported, embedding_dim: 3, classes: [{ name: 'X', prototype: [1, 0, 0] }] }),
      'old-format.json': JSON.stringify({ ...exported, format: 'glitchscope-few-shot/0' }),
    };
    const expected = { 'not-json.json': /not valid JSON/, 'other-model.json': /some-other-model/, 'wrong-dim.json': /3/, 'old-format.json': /format/ };
    for (const [name, text] of Object.entries(bad)) {
      writeFileSync(join(dir, name), text);
      await page.locator('#few-shot-file').setInputFiles(join(dir, name));
      await page.waitForFunction((n) => (document.querySelector('#few-shot-status')?.textContent ?? '').includes(`Could not import ${n}`), name, { timeout: 30_000 });
      const message = await page.locator('#few-shot-status').textContent();
      console.log(`# ${message}`);
      assert.match(message, expected[name], message);
      assert.equal(await page.locator('#few-shot-status').getAttribute('data-state'), 'error');
      assert.deepEqual(await panelClasses(page), []);
    }

    // Import the exported file: the class is back in the panel and the predictions.
    await page.locator('#few-shot-file').setInputFiles(exportedPath);
    await page.waitForFunction(() => /^Imported/.test(document.querySelector('#few-shot-status')?.textContent ?? ''), null, { timeout: 30_000 });
    assert.deepEqual(await panelClasses(page), [NEW_CLASS]);
    await waitForClassInPredictions(page, true);

    assert.deepEqual(await cspViolations(page), []);
    assert.deepEqual(browser.cspLog, []);
  } finally {
    await page.close();
  }
});

// From three examples the page fits the class into the reference set's head (`few_shot_head.rs`, the same call as
// the benchmark's): the wasm path of that rule, with its timing.
test('few-shot class from 3 glitches: fitted into the reference head', { skip: skipIf(SKIP, 'fewshot.test.mjs: few-shot head') }, async () => {
  const page = await browser.context.newPage();
  try {
    await openPage(page);
    // The first test leaves its class in IndexedDB: start without it.
    if ((await panelClasses(page)).includes(NEW_CLASS)) {
      await page.getByRole('button', { name: `Remove the class ${NEW_CLASS}` }).click();
      await page.waitForFunction((name) => !document.querySelector(`#few-shot-list li[data-name="${name}"]`), NEW_CLASS, { timeout: 30_000 });
    }
    await classify(page, [...files[NEW_CLASS], ...files.Koi_Fish, ...files.Scattered_Light]);
    const before = await top5s(page);
    const examples = files[NEW_CLASS].slice(0, 3).map(keyOf);
    const heldOut = files[NEW_CLASS].slice(3).map(keyOf);
    for (const key of examples) await page.locator(`#results-table tr[data-key="${key}"] input.pick-box`).check();
    await page.locator('#few-shot-name').fill(NEW_CLASS);
    const started = Date.now();
    await page.locator('#few-shot-define').click();
    await waitForClassInPredictions(page, true);
    console.log(`# defined and re-scored ${Object.keys(before).length} glitches in ${Date.now() - started} ms`);
    const after = await top5s(page);
    for (const key of heldOut) console.log(`# ${key}: ${after[key].map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join(', ')}`);
    // Measured 2026-12-08 (CPU backend, headless Chromium), with the self-training of the head rule (up to 5 refits
    // with the glitches it puts in the class at 30 %+): all 4 held-out glitches first at 98.3-99.9 % (83.7-99.5 %
    // with the head fitted once; the 2-example prototypes gave one of them 50.8 %), defined and re-scored in
    // 1034 ms while two other jobs shared the 2 cores (464 ms with one fit on an idle machine); discovery_real.rs
    // measures the same rule over many draws (5 examples: 100 %). Here one draw of three: at least 3 of the 4
    // first, and the known ones keep their class.
    const first = heldOut.filter((key) => after[key][0].label === NEW_CLASS && after[key][0].fewShot).length;
    assert.ok(first >= 3, `only ${first} of ${heldOut.length} held-out ${NEW_CLASS} glitches first: ${JSON.stringify(heldOut.map((k) => after[k]))}`);
    for (const path of [...files.Koi_Fish, ...files.Scattered_Light]) {
      const key = keyOf(path);
      assert.equal(after[key][0].label, before[key][0].label, `${key}: top class changed from ${before[key][0].label} to ${after[key][0].label}`);
    }
    for (const [key, top5] of Object.entries(after)) {
      const sum = top5.reduce((s, t) => s + t.probability, 0);
      assert.ok(sum <= 1 + 1e-5, `${key}: top-5 sums to ${sum}`);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'fewshot-head.png'), fullPage: true });
    await page.getByRole('button', { name: `Remove the class ${NEW_CLASS}` }).click();
    await waitForClassInPredictions(page, false);
  } finally {
    await page.close();
  }
});
