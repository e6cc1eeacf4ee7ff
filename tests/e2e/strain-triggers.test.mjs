// Triggers in strain files in the page and the widget (issue 26): a GWOSC-layout HDF5 file written by h5py
// (tests/fixtures/make_gwosc_h5.py: 64 s at 4096 Hz, gzip-chunked, two loud bursts) and an Omicron-style CSV
// trigger list are dropped into the page in headless Chromium and Firefox ESR. Checked: one table row per trigger
// that passes the cuts, each good trigger with the same top class and probabilities as `glitchscope classify
// --strain F --triggers L --json` (max |dp| <= 1e-5 over the top 5), four PNG views per good trigger, a message
// naming the file and the trigger for one too near the file's start and one outside it (the others go on), the
// trigger below the SNR cut left out, the widget's classifyTriggers method in the host example, and no request
// leaving the origin (Chromium: request events of page and workers; Firefox: a recording proxy). In Chromium the
// triggers are also on the embedding map, found by similarity search and make a few-shot class, as pictures do.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { By } from 'selenium-webdriver';
import { ARTIFACTS, REPO, cspViolations, foreignRequests, launchBrowser, logSkip, requireWasmPackage, skipIf, startServer } from './helpers.mjs';
import { NO_FIREFOX, launchFirefox, startRecordingProxy } from './firefox-helpers.mjs';

const GPS0 = 1126259400;
const STRAIN = `H-H1_GWOSC_4KHZ_R1-${GPS0}-64.hdf5`;
const LIST = 'omicron-triggers.csv';
// Two bursts (20 s and 40 s in), one trigger too near the start, one outside the file, one below the SNR cut.
const TRIGGERS = 'time,frequency,snr,ifo\n' +
  `${GPS0 + 20}.0,200,20,\n${GPS0 + 40}.0,150,12,\n${GPS0 + 1}.0,100,9,\n${GPS0 + 999}.0,100,9,\n${GPS0 + 25}.0,100,5,\n`;
const GOOD = [`H1_${GPS0 + 20}.000`, `H1_${GPS0 + 40}.000`];
const NEAR_EDGE = { key: `H1_${GPS0 + 1}.000`, pattern: new RegExp(`${STRAIN}.*GPS ${GPS0 + 1}.*too close.*start of the file.*line 4`) };
const OUTSIDE = { key: `H1_${GPS0 + 999}.000`, pattern: new RegExp(`${STRAIN}.*GPS ${GPS0 + 999}.*outside the file.*line 5`) };
const TIMEOUT = 480_000; // model load + 4 triggers on 2 shared cores

/** A Python with h5py: $GLITCHSCOPE_PYTHON, the venv scripts/setup.sh makes, or python3 (as the native tests). */
function h5pyPython() {
  const candidates = [process.env.GLITCHSCOPE_PYTHON, join(homedir(), '.cache', 'glitchscope', 'h5py-venv', 'bin', 'python'), 'python3'];
  return candidates.filter(Boolean).find((py) => {
    try {
      execFileSync(py, ['-c', 'import h5py'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

const PYTHON = h5pyPython();
const CLI = join(process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'glitchscope', 'target'), 'release', 'glitchscope');
const SKIP = PYTHON ? false : 'needs python3 with h5py (scripts/setup.sh installs it in ~/.cache/glitchscope/h5py-venv)';

let server;
let dir;
let native = null; // key -> { top5, probabilities } from the CLI
let labels;

before(() => {
  requireWasmPackage();
  if (SKIP) return;
  dir = mkdtempSync(join(tmpdir(), 'glitchscope-triggers-'));
  execFileSync(PYTHON, [join(REPO, 'tests', 'fixtures', 'make_gwosc_h5.py'), join(dir, STRAIN), '--glitch', '20', '--glitch', '40']);
  writeFileSync(join(dir, LIST), TRIGGERS);
  labels = JSON.parse(readFileSync(join(REPO, 'models', 'default.json'), 'utf8')).labels;
  if (!existsSync(CLI)) {
    assert.ok(process.env.CI !== 'true', `the native comparison needs ${CLI} under CI (cargo build --release -p glitchscope-trainer)`);
    logSkip('strain-triggers.test.mjs: native comparison', `${CLI} is not built (cargo build --release -p glitchscope-trainer)`);
    return;
  }
  const json = JSON.parse(execFileSync(CLI, ['classify', '--json', '--model', join(REPO, 'models', 'default.json'),
    '--strain', join(dir, STRAIN), '--triggers', join(dir, LIST)], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }));
  native = new Map(json.glitches.filter((g) => g.prediction).map((g) => [g.key, g.prediction]));
  assert.deepEqual([...native.keys()], GOOD, 'the CLI classifies the two good triggers');
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Compare the page's JSON export with the CLI and check the rows' keys; returns a summary line. */
function checkExport(json, browserName) {
  const byKey = new Map(json.glitches.map((g) => [g.key, g]));
  assert.deepEqual([...byKey.keys()].sort(), [...GOOD, NEAR_EDGE.key, OUTSIDE.key].sort(), 'one result per trigger passing the cuts');
  for (const key of GOOD) {
    const ours = byKey.get(key);
    assert.ok(ours.ok, `${key}: ${ours.error}`);
    assert.equal(ours.views.filter((v) => v.ok).length, 4, `${key}: four views`);
    assert.equal(ours.trigger.file, STRAIN);
    assert.equal(typeof ours.trigger.snr, 'number');
    if (!native) continue;
    const cli = native.get(key);
    assert.equal(ours.top5[0].label, cli.top5[0].label, `${key}: top class differs from the CLI`);
    const diff = Math.max(...cli.top5.map((t) => Math.abs(ours.probabilities[labels.indexOf(t.label)] - t.probability)));
    console.log(`# ${browserName} ${key}: ${ours.top5[0].label} ${(100 * ours.top5[0].probability).toFixed(2)} %, vs CLI max |dp| over its top 5 ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-5, `${key}: ${browserName} and CLI probabilities differ by ${diff}`);
  }
  for (const { key, pattern } of [NEAR_EDGE, OUTSIDE]) {
    const bad = byKey.get(key);
    assert.equal(bad.ok, false);
    assert.match(bad.error, pattern);
  }
}

describe('triggers in a GWOSC HDF5 file', { skip: skipIf(SKIP, 'strain-triggers.test.mjs: triggers in strain files') }, () => {
  before(async () => {
    server = await startServer();
  });

  test('Chromium: page and widget classify every trigger like the CLI, bad triggers are named', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${server.origin}/index.html?backend=cpu`);
      await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: TIMEOUT });
      assert.equal(await page.locator('#status').getAttribute('data-state'), 'ok', await page.locator('#status').textContent());

      // Both files through the page's own file input (as a drop of the two).
      await page.locator('#file-input').setInputFiles([join(dir, STRAIN), join(dir, LIST)]);
      await page.waitForFunction(() => ['ok', 'warn', 'error'].includes(document.querySelector('#strain-status')?.dataset.state), null, { timeout: TIMEOUT });
      const status = await page.locator('#strain-status').textContent();
      console.log(`# chromium: ${status}`);
      assert.equal(await page.locator('#strain-status').getAttribute('data-state'), 'warn', status);
      assert.match(status, /2 of 4 triggers classified in .*2 could not be/);
      assert.equal(await page.locator('#results-table tbody tr').count(), 4, 'one table row per trigger');
      for (const key of GOOD) {
        await page.waitForFunction((k) => {
          const imgs = [...document.querySelectorAll(`article.glitch[data-key="${k}"] figure.view img`)];
          return imgs.length === 4 && imgs.every((img) => img.complete && img.naturalWidth > 0);
        }, key, { timeout: 30_000 });
        assert.equal(await page.locator(`#results-table tbody tr[data-key="${key}"][data-ok="true"]`).count(), 1);
      }
      for (const { key, pattern } of [NEAR_EDGE, OUTSIDE]) {
        const problem = await page.locator(`#problem-list li[data-file="${key}"]`).textContent();
        console.log(`# chromium problem: ${problem}`);
        assert.match(problem, pattern);
      }
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-json').click()]);
      checkExport(JSON.parse(readFileSync(await download.path(), 'utf8')), 'chromium');
      await page.screenshot({ path: join(ARTIFACTS, 'strain-triggers.png'), fullPage: true });

      // The triggers join the map and similarity search like uploaded pictures.
      await page.waitForFunction(() => document.querySelector('#embedding-map')?.dataset.state === 'done', null, { timeout: TIMEOUT });
      assert.equal(await page.locator('#map-canvas').getAttribute('data-points'), String(GOOD.length));
      await page.locator(`#results-table tbody tr[data-key="${GOOD[0]}"]`).click();
      await page.waitForFunction(() => document.querySelector('#similar-panel')?.dataset.state === 'done', null, { timeout: 60_000 });
      const among = await page.locator('#similar-among li[data-source="uploaded"]').evaluateAll((items) => items.map((li) => li.dataset.key));
      assert.deepEqual(among, [GOOD[1]], 'the other trigger is the only uploaded neighbour');
      // ... and make a few-shot class.
      for (const key of GOOD) await page.locator(`#results-table tr[data-key="${key}"] input.pick-box`).check();
      await page.locator('#few-shot-name').fill('Injected_burst');
      await page.locator('#few-shot-define').click();
      await page.waitForFunction(() => /defined from 2 glitches/.test(document.querySelector('#few-shot-status')?.textContent ?? ''), null, { timeout: 60_000 });
      assert.equal(await page.locator('#few-shot-list li[data-name="Injected_burst"]').count(), 1);

      // A list without a time column: one message naming the list, nothing else happens.
      writeFileSync(join(dir, 'bad-list.csv'), 'frequency,snr\n100,8\n');
      await page.evaluate(() => { document.querySelector('#strain-status').dataset.state = ''; });
      await page.locator('#file-input').setInputFiles([join(dir, STRAIN), join(dir, 'bad-list.csv')]);
      await page.waitForFunction(() => ['ok', 'warn', 'error'].includes(document.querySelector('#strain-status')?.dataset.state), null, { timeout: TIMEOUT });
      assert.match(await page.locator('#strain-status').textContent(), /^bad-list\.csv: .*no time column/);
      assert.equal(await page.locator('#results-table tbody tr').count(), 4);

      // The widget: classifyTriggers(file, list) in the host example page.
      const host = await browser.context.newPage();
      await host.goto(`${server.origin}/host-example.html`);
      await host.locator('#trigger-strain').setInputFiles(join(dir, STRAIN));
      await host.locator('#trigger-list').setInputFiles(join(dir, LIST));
      await host.locator('#trigger-classify').click();
      await host.waitForFunction(() => /classifyTriggers (resolved|failed)/.test(document.querySelector('#trigger-log').textContent), null, { timeout: TIMEOUT });
      assert.equal(await host.locator('#trigger-log').textContent(), 'classifyTriggers resolved: 2 of 4 triggers classified.');
      const rows = await host.evaluate(() => [...document.querySelector('#trigger-classifier').shadowRoot.querySelectorAll('.triggers li')]
        .map((li) => ({ key: li.dataset.key, ok: li.dataset.ok, text: li.textContent })));
      console.log(`# chromium widget: ${rows.map((r) => r.text).join(' | ')}`);
      assert.deepEqual(rows.map((r) => r.key).sort(), [...GOOD, NEAR_EDGE.key, OUTSIDE.key].sort());
      if (native) {
        for (const key of GOOD) assert.ok(rows.find((r) => r.key === key).text.startsWith(`${key}: ${native.get(key).top5[0].label} `));
      }

      const foreign = foreignRequests(browser.requests, server.origin);
      assert.deepEqual(foreign, [], 'requests to other origins');
      assert.deepEqual(await cspViolations(page), []);
      assert.deepEqual(browser.cspLog, []);
    } finally {
      await browser.close();
    }
  });

  test('Firefox ESR: the page classifies every trigger like the CLI, bad triggers named, same origin only', { skip: skipIf(NO_FIREFOX, 'strain-triggers.test.mjs: Firefox ESR') }, async () => {
    const requests = [];
    const proxy = await startRecordingProxy(server.origin, requests);
    const driver = await launchFirefox(proxy.port);
    try {
      await driver.get(`${server.origin}/index.html?backend=cpu`);
      const status = await driver.findElement(By.id('status'));
      await driver.wait(async () => ['ok', 'error'].includes(await status.getAttribute('data-state')), TIMEOUT);
      assert.equal(await status.getAttribute('data-state'), 'ok', await status.getText());
      await driver.findElement(By.id('file-input')).sendKeys([join(dir, STRAIN), join(dir, LIST)].join('\n'));
      const strainStatus = await driver.findElement(By.id('strain-status'));
      await driver.wait(async () => ['ok', 'warn', 'error'].includes(await strainStatus.getAttribute('data-state')), TIMEOUT);
      const text = await strainStatus.getText();
      console.log(`# firefox: ${text}`);
      assert.match(text, /2 of 4 triggers classified in .*2 could not be/);
      assert.equal((await driver.findElements(By.css('#results-table tbody tr'))).length, 4);
      for (const { key, pattern } of [NEAR_EDGE, OUTSIDE]) {
        assert.match(await driver.findElement(By.css(`#problem-list li[data-file="${key}"]`)).getText(), pattern);
      }
      const json = await driver.executeAsyncScript(`
        const done = arguments[arguments.length - 1];
        const original = URL.createObjectURL;
        URL.createObjectURL = (blob) => { URL.createObjectURL = original; blob.text().then(done); return original.call(URL, blob); };
        document.querySelector('#export-json').click();`);
      checkExport(JSON.parse(json), 'firefox');
      const seen = [...new Set(requests)];
      assert.ok(seen.some((u) => u.endsWith('/pkg/glitchscope_bg.wasm')), `the proxy saw no wasm request: ${seen.join(', ')}`);
      assert.deepEqual(seen.filter((u) => new URL(u).origin !== server.origin), [], 'requests to other origins');
    } finally {
      await driver.quit();
      proxy.close();
    }
  });
});
