// The page and the widget in headless Firefox ESR, driven through WebDriver (selenium-webdriver + geckodriver;
// playwright's own Firefox build cannot be fetched here). Same real glitches and broken file as the Chromium
// test: the same top-5 and probabilities as the native CLI (within 1e-4, CPU backend), the broken file's
// message, the widget in the host page, and no request leaving the origin. Every request of the browser, the
// workers' included, goes through a recording proxy that this test runs (WebDriver has no request events that
// cover workers), so "same origin only" is checked on all of them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { By, until } from 'selenium-webdriver';
import {
  ARTIFACTS, BROKEN, DURATIONS, HAS_SHARED, PAGE_GLITCHES, REPO, SHARED_REAL, requireWasmPackage, skipIf, startServer, writePageInputs,
} from './helpers.mjs';
import { GECKODRIVER, NO_FIREFOX, launchFirefox, startRecordingProxy } from './firefox-helpers.mjs';

const SKIP = NO_FIREFOX || (!HAS_SHARED && `needs real Gravity Spy images at ${SHARED_REAL}`);

const GLITCHES = PAGE_GLITCHES;
const TIMEOUT = 480_000; // 2 shared cores

let server;
let proxy;
let driver;
let inputDir;
const requests = [];

before(async () => {
  if (SKIP) return;
  requireWasmPackage();
  server = await startServer();
  proxy = await startRecordingProxy(server.origin, requests);
  inputDir = mkdtempSync(join(tmpdir(), 'glitchscope-firefox-'));
  writePageInputs(inputDir);

  driver = await launchFirefox(proxy.port);
  const caps = await driver.getCapabilities();
  console.log(`# ${caps.getBrowserName()} ${caps.getBrowserVersion()} via ${GECKODRIVER}`);
});

after(async () => {
  await driver?.quit();
  proxy?.close();
  await server?.stop();
  if (inputDir) rmSync(inputDir, { recursive: true, force: true });
});

/** The page's JSON export, caught as the Blob it makes (WebDriver cannot read downloads). */
async function exportJson() {
  const text = await driver.executeAsyncScript(`
    const done = arguments[arguments.length - 1];
    const original = URL.createObjectURL;
    URL.createObjectURL = (blob) => { URL.createObjectURL = original; blob.text().then(done); return original.call(URL, blob); };
    document.querySelector('#export-json').click();`);
  return JSON.parse(text);
}

function native(files) {
  const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'glitchscope', 'target');
  const cli = join(targetDir, 'release', 'glitchscope');
  assert.ok(existsSync(cli), `${cli} is not built (cargo build --release -p glitchscope-trainer)`);
  return JSON.parse(execFileSync(cli, ['classify', '--json', '--model', join(REPO, 'models', 'default.json'), ...files],
    { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

describe('Firefox ESR', { skip: skipIf(SKIP, 'firefox.test.mjs: Firefox ESR') }, () => {
  test('the page classifies real glitches on the CPU backend like the native CLI and names the broken file', async () => {
    await driver.get(`${server.origin}/index.html?backend=cpu`);
    const status = await driver.findElement(By.id('status'));
    await driver.wait(async () => ['ok', 'error'].includes(await status.getAttribute('data-state')), TIMEOUT);
    assert.equal(await status.getAttribute('data-state'), 'ok', `model did not load: ${await status.getText()}`);
    console.log(`# firefox: ${await status.getText()}`);

    const files = GLITCHES.flatMap(({ key }) => DURATIONS.map((d) => join(inputDir, `${key}_spectrogram_${d}.png`)));
    // One sendKeys with newline-separated paths selects several files in a <input multiple> (geckodriver).
    await driver.findElement(By.id('file-input')).sendKeys([...files, join(inputDir, BROKEN)].join('\n'));
    await driver.wait(async () => /^(Done|Classification stopped)/.test(await status.getText()), TIMEOUT);
    assert.match(await status.getText(), /^Done: 2 of 3 glitches classified/);

    const json = await exportJson();
    const theirs = native(files);
    for (const { key, label } of GLITCHES) {
      const ours = json.glitches.find((g) => g.key === key);
      const cli = theirs.glitches.find((g) => g.key === key).prediction;
      const diff = Math.max(...ours.probabilities.map((p, i) => Math.abs(p - cli.probabilities[i])));
      console.log(`# firefox cpu vs native ${key}: ${ours.top5[0].label} ${(100 * ours.top5[0].probability).toFixed(1)} %, max |dp| ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-4, `${key}: Firefox and native probabilities differ by ${diff}`);
      assert.deepEqual(ours.top5.map((t) => t.label), cli.top5.map((t) => t.label), `${key}: top-5 differs from native`);
      assert.equal(ours.top5[0].label, label);
      const card = await driver.findElement(By.css(`article.glitch[data-key="${key}"]`));
      assert.equal(await card.getAttribute('data-ok'), 'true');
      assert.equal((await card.findElements(By.css('img'))).length, 4, `${key}: expected 4 view thumbnails`);
    }
    const problem = await driver.findElement(By.css(`#problem-list li[data-file="${BROKEN}"]`));
    const message = await problem.getText();
    assert.ok(message.includes(BROKEN) && message.length > BROKEN.length + 10, `the broken file's message says nothing: ${message}`);
    console.log(`# firefox: ${message}`);
    writeFileSync(join(ARTIFACTS, 'firefox-app.png'), await driver.takeScreenshot(), 'base64');

    // A drop on the drop zone (Firefox's DataTransfer and DragEvent), with a File made in the page.
    await driver.executeAsyncScript(`
      const done = arguments[arguments.length - 1];
      fetch('samples/o1_full_plots/Blip/H1_0VKvV8c8Ra_spectrogram_2.0.png').then((r) => r.arrayBuffer()).then((bytes) => {
        const data = new DataTransfer();
        data.items.add(new File([bytes], 'H1_0VKvV8c8Ra_spectrogram_2.0.png', { type: 'image/png' }));
        document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
        done();
      });`);
    const dropped = By.css('article.glitch[data-key="H1_0VKvV8c8Ra"][data-ok="true"]');
    await driver.wait(until.elementLocated(dropped), TIMEOUT);
    assert.equal((await driver.findElements(By.css('article.glitch[data-key="H1_0VKvV8c8Ra"] ol.top5 li'))).length, 5);
  });

  test('auto picks a backend that loads (WebGPU only on a real adapter, else the CPU)', async () => {
    await driver.get(`${server.origin}/index.html?backend=auto`);
    const status = await driver.findElement(By.id('status'));
    await driver.wait(async () => ['ok', 'error'].includes(await status.getAttribute('data-state')), TIMEOUT);
    assert.equal(await status.getAttribute('data-state'), 'ok', `auto did not load: ${await status.getText()}`);
    const backend = await driver.findElement(By.id('model-info')).getAttribute('data-backend');
    const adapter = await driver.executeAsyncScript(`
      const done = arguments[arguments.length - 1];
      if (!navigator.gpu) return done('no navigator.gpu');
      navigator.gpu.requestAdapter().then((a) => done(a ? 'an adapter' : 'no adapter'), (e) => done('error ' + e));`);
    console.log(`# firefox auto: ${backend} (WebGPU here: ${adapter})`);
    assert.ok(['cpu', 'webgpu'].includes(backend), backend);
    if (adapter !== 'an adapter') assert.equal(backend, 'cpu', 'without an adapter auto must take the CPU backend');
  });

  test('the widget in the host page classifies its subject', async () => {
    await driver.get(`${server.origin}/host-example.html`);
    const log = await driver.findElement(By.id('event-log'));
    await driver.wait(until.elementTextMatches(log, /"classified" event: H1_0Sug0tqkoL looks like/), TIMEOUT);
    const top = await driver.executeScript(() => {
      const items = document.querySelector('glitch-classifier').shadowRoot.querySelectorAll('ol.top5 li');
      return [...items].map((li) => li.dataset.label);
    });
    assert.equal(top.length, 5);
    assert.equal(top[0], 'Blip');
    console.log(`# firefox widget: ${(await log.getText()).split('\n')[0]}`);
    writeFileSync(join(ARTIFACTS, 'firefox-host-example.png'), await driver.takeScreenshot(), 'base64');
  });

  test('no request left the origin (workers included)', () => {
    const seen = [...new Set(requests)];
    assert.ok(seen.some((u) => u.endsWith('/pkg/glitchscope_bg.wasm')), `the proxy saw no wasm request: ${seen.join(', ')}`);
    const foreign = seen.filter((u) => new URL(u).origin !== server.origin);
    assert.deepEqual(foreign, [], 'requests to other origins');
    console.log(`# firefox: ${seen.length} distinct requests, all to ${server.origin}`);
  });
});
