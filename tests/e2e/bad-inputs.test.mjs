// The bad-input corpus of issue 7 in the page (the CLI side is trainer/tests/bad_inputs.rs): every picture and
// strain file of the corpus (scripts/make-bad-inputs.sh) dropped in ONE batch, with a real Blip when
// ../shared/data is present. Each bad file gets a message naming it and saying what is wrong, the odd-but-legal
// pictures and the Blip are classified, and the page keeps working afterwards. The corpus's broken model cards
// (wrong shape, sha256 mismatch, unknown field, no labels) are loaded through ?model= and each gives its error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAS_SHARED, REPO, SHARED_REAL, cspViolations, launchBrowser, requireWasmPackage, startServer } from './helpers.mjs';

const LOAD_TIMEOUT = 240_000;
const CLASSIFY_TIMEOUT = 600_000;
const STRAIN_TIMEOUT = 300_000;
const BLIP = { key: 'H1_0Sug0tqkoL', label: 'Blip' };
const DURATIONS = ['0.5', '1.0', '2.0', '4.0'];

// What the page must say for each error family of the manifest (the CLI's wording, trainer/examples/bad_inputs).
const MESSAGE = {
  empty: /empty/i,
  not_an_image: /not a supported image/i,
  corrupt: /corrupt or truncated/i,
  too_large: /declares 30000x30000 pixels/i,
  too_small: /at least 16x16/i,
  non_finite: /non-finite|is NaN|is inf/i,
  wrong_shape: /shapemismatch/i,
  sha256_mismatch: /but the model card expects/i,
  unknown_field: /unknown field/i,
  no_labels: /no labels/i,
};

let dir; // the corpus, then a served copy of the repository whose models/ also holds the corpus's cards
let manifest;
let server;
let browser;

before(async () => {
  requireWasmPackage();
  dir = mkdtempSync(join(tmpdir(), 'glitchscope-bad-inputs-'));
  const corpus = join(dir, 'corpus');
  // The committed way to make the corpus (builds and runs the trainer's `bad_inputs` example).
  execFileSync(join(REPO, 'scripts', 'make-bad-inputs.sh'), [corpus], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 1_800_000 });
  manifest = JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8'));
  // Serve www/ unchanged, and models/ = the shipped model + the corpus's cards and weights.
  const served = join(dir, 'repo');
  mkdirSync(join(served, 'models'), { recursive: true });
  symlinkSync(join(REPO, 'www'), join(served, 'www'));
  for (const name of readdirSync(join(REPO, 'models'))) {
    if (name.startsWith('default.')) copyFileSync(join(REPO, 'models', name), join(served, 'models', name));
  }
  for (const name of readdirSync(join(corpus, 'models'))) copyFileSync(join(corpus, 'models', name), join(served, 'models', name));
  if (HAS_SHARED) {
    for (const d of DURATIONS) {
      const name = `${BLIP.key}_spectrogram_${d}.png`;
      copyFileSync(join(SHARED_REAL, 'o1_full_plots', BLIP.label, name), join(dir, name));
    }
  } else {
    console.log(`# no real Blip in the batch: ${SHARED_REAL}/o1_full_plots is absent (../shared/data); the corpus alone is used`);
  }
  server = await startServer(served);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function openPage(query = 'backend=cpu') {
  const page = await browser.context.newPage();
  await page.goto(`${server.origin}/index.html?${query}`);
  await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: LOAD_TIMEOUT });
  return page;
}

async function waitForBatch(page) {
  await page.waitForFunction(() => /^(Done|Classification stopped)/.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: CLASSIFY_TIMEOUT });
  return page.locator('#status').textContent();
}

const problemsOf = (page) => page.locator('#problem-list li').evaluateAll((li) => li.map((x) => ({ file: x.dataset.file, text: x.textContent })));

test('the whole bad-input corpus in one batch: each bad file named with its error, the good ones classified, the page keeps working', async () => {
  const page = await openPage();
  try {
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'ok', await page.locator('#status').textContent());
    const corpus = join(dir, 'corpus');
    const images = manifest.filter((e) => e.command === 'classify');
    const strain = manifest.filter((e) => e.command === 'qtransform');
    const real = HAS_SHARED ? DURATIONS.map((d) => join(dir, `${BLIP.key}_spectrogram_${d}.png`)) : [];
    const base = (file) => file.split('/').pop();
    // One drop: pictures, strain (the page routes .npy to the strain upload) and the real views together.
    await page.locator('#file-input').setInputFiles([...images, ...strain].map((e) => join(corpus, e.file)).concat(real));
    const status = await waitForBatch(page);
    console.log(`# ${status}`);

    // Empty files are screened out before the worker; every other picture is a glitch of its own.
    const good = images.filter((e) => e.expect === 'ok').length + (HAS_SHARED ? 1 : 0);
    const total = images.filter((e) => e.expect !== 'empty').length + (HAS_SHARED ? 1 : 0);
    assert.match(status, new RegExp(`^Done: ${good} of ${total} glitches classified`), status);

    // The strain files run one after the other after the pictures' grouping; wait until both are listed.
    await page.waitForFunction((names) => names.every((n) => document.querySelector(`#problem-list li[data-file="${n}"]`)),
      strain.map((e) => base(e.file)), { timeout: STRAIN_TIMEOUT });
    const problems = await problemsOf(page);
    for (const entry of [...images, ...strain].filter((e) => e.expect !== 'ok')) {
      const name = base(entry.file);
      const found = problems.filter((p) => p.file === name);
      assert.equal(found.length, 1, `${name} (${entry.what}): expected one problem, got ${JSON.stringify(found)}`);
      assert.ok(found[0].text.startsWith(name), `the message does not name ${name}: ${found[0].text}`);
      assert.match(found[0].text, MESSAGE[entry.expect], `${name} (${entry.what}): unclear message`);
      console.log(`# ${found[0].text}`);
    }
    // Nothing legal was reported as a problem.
    const legal = new Set(images.filter((e) => e.expect === 'ok').map((e) => base(e.file)));
    assert.deepEqual(problems.filter((p) => legal.has(p.file)), [], 'a legal picture was reported as a problem');

    // Every legal picture (16-bit, grey, palette, CMYK JPEG, animated GIF) and the real Blip got a top-5.
    const keys = [...legal].map((n) => n.replace(/\.[^.]+$/, '')).concat(HAS_SHARED ? [BLIP.key] : []);
    for (const key of keys) {
      const card = page.locator(`article.glitch[data-key="${key}"]`);
      assert.equal(await card.getAttribute('data-ok'), 'true', `${key} was not classified`);
      assert.equal(await card.locator('ol.top5 li').count(), 5, `${key}: no top-5`);
      // A picture that is no viridis spectrogram (grey, all black) shows its class only with the warning.
      const warning = card.locator('.glitch-warning');
      if (/grey|black/.test(key)) {
        assert.match(await warning.textContent(), /does not look like a Gravity Spy spectrogram/, `${key}: no warning`);
      } else {
        // (The text is read only when there is a warning: a template literal in the assertion's message would be
        // evaluated every time, and reading a missing element waits out Playwright's 30 s timeout.)
        if (await warning.count() > 0) assert.fail(`${key}: unexpected warning ${await warning.first().textContent()}`);
      }
    }
    if (HAS_SHARED) {
      const blipCard = page.locator(`article.glitch[data-key="${BLIP.key}"]`);
      // Which view mattered: a contribution next to each of its view thumbnails, the largest marked.
      const shares = blipCard.locator('figure.view .view-share');
      assert.equal(await shares.count(), await blipCard.locator('figure.view img').count(), 'a contribution per view');
      if (await shares.count() > 1) assert.equal(await blipCard.locator('.view-share-top').count(), 1, 'one view marked as mattering most');
      const top = await page.locator(`article.glitch[data-key="${BLIP.key}"] ol.top5 li`).first().getAttribute('data-label');
      console.log(`# the real ${BLIP.label} in the bad batch: top class ${top}`);
    }

    // The page still works: a legal picture dropped again is classified.
    const again = images.find((e) => e.expect === 'ok');
    await page.evaluate(() => { document.querySelector('#status').textContent = ''; }); // so the old "Done" is not read
    await page.locator('#file-input').setInputFiles(join(corpus, again.file));
    const after = await waitForBatch(page);
    assert.match(after, /^Done: 1 of 1 glitch classified/, after);
    assert.deepEqual(await cspViolations(page), []);
    assert.deepEqual(browser.problems.filter((p) => /page error|panicked|RuntimeError|unreachable/i.test(p)), [],
      'the worker or page crashed');
  } finally {
    await page.close();
  }
});

test('broken model cards through ?model=: each gives its own clear error naming the model; the good card loads', async () => {
  const cards = manifest.filter((e) => e.command === 'model' || e.command === 'good_model');
  assert.ok(cards.length >= 5, 'the corpus should hold the good card and at least four broken ones');
  for (const entry of cards) {
    const name = entry.file.split('/').pop().replace(/\.json$/, '');
    const page = await openPage(`backend=cpu&model=${name}`);
    try {
      const state = await page.locator('#status').getAttribute('data-state');
      const text = await page.locator('#status').textContent();
      console.log(`# ?model=${name}: ${state}: ${text}`);
      if (entry.expect === 'ok') {
        assert.equal(state, 'ok', `the corpus's good card did not load: ${text}`);
      } else {
        assert.equal(state, 'error', `${name} (${entry.what}) loaded`);
        assert.match(text, new RegExp(name), `the error does not name the model: ${text}`);
        assert.match(text, MESSAGE[entry.expect], `${name} (${entry.what}): unclear message`);
      }
    } finally {
      await page.close();
    }
  }
});
