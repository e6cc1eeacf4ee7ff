// The <glitch-classifier> Web Component inside www/host-example.html (a Zooniverse-like subject viewer).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ARTIFACTS, REPO, SKIP_NO_SHARED, cspViolations, foreignRequests, skipIf, launchBrowser, requireWasmPackage, startServer,
} from './helpers.mjs';

const TIMEOUT = 480_000;
let server;
let browser;

before(async () => {
  requireWasmPackage();
  server = await startServer();
  browser = await launchBrowser();
  // Every 'classified' event reaches the document (it bubbles out of the shadow root); keep them all.
  await browser.context.addInitScript(() => {
    window.__classified = [];
    document.addEventListener('classified', (event) => {
      const r = event.detail;
      window.__classified.push({ key: r.key, ok: r.ok, error: r.error, top5: r.top5, views: r.views.length, target: event.target.id });
    });
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function nextEvent(page, count) {
  await page.waitForFunction((n) => window.__classified.length >= n, count, { timeout: TIMEOUT });
  return page.evaluate((n) => window.__classified[n - 1], count);
}

test('the widget classifies the subject, fires "classified", and re-runs on the next subject', { skip: skipIf(SKIP_NO_SHARED, 'widget.test.mjs: the widget classifies the subject') }, async () => {
  const page = await browser.context.newPage();
  try {
    await page.goto(`${server.origin}/host-example.html`);
    const first = await nextEvent(page, 1);
    assert.equal(first.target, 'classifier');
    assert.equal(first.key, 'H1_0Sug0tqkoL');
    assert.ok(first.ok, `not classified: ${first.error}`);
    assert.equal(first.views, 4);
    assert.equal(first.top5.length, 5);
    const sum = first.top5.reduce((s, t) => s + t.probability, 0);
    assert.ok(sum <= 1 + 1e-6, `top-5 sums to ${sum}`);
    console.log(`# widget: ${first.key} -> ${first.top5[0].label} ${(first.top5[0].probability * 100).toFixed(1)} %`);

    // The chart lives in the shadow root only (styles isolated from the host page).
    const shadowItems = page.locator('glitch-classifier ol.top5 li'); // Playwright's CSS pierces open shadow roots
    assert.equal(await shadowItems.count(), 5);
    assert.equal(await page.evaluate(() => document.querySelectorAll('.top5').length), 0, 'the chart leaked into the light DOM');
    assert.equal(await shadowItems.first().getAttribute('data-label'), first.top5[0].label);
    assert.match(await page.locator('#event-log').textContent(), /"classified" event: H1_0Sug0tqkoL looks like/);
    await page.screenshot({ path: join(ARTIFACTS, 'host-example.png'), fullPage: true });

    // Next subject: the host changes `src`, the widget runs again.
    await page.getByRole('button', { name: 'Next subject' }).click();
    const second = await nextEvent(page, 2);
    assert.equal(second.key, 'L1_FOjcfFqddp');
    assert.ok(second.ok, `not classified: ${second.error}`);
    await page.screenshot({ path: join(ARTIFACTS, 'host-example-next.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the host example is ${overflow}px wider than a phone screen`);
    await page.screenshot({ path: join(ARTIFACTS, 'host-example-phone.png'), fullPage: true });

    // Images that do not exist: a 'classified' event with ok=false and a message naming the failure.
    await page.evaluate(() => document.getElementById('classifier').setAttribute('src', 'samples/nope_spectrogram_1.0.png'));
    const missing = await nextEvent(page, 3);
    assert.equal(missing.ok, false);
    assert.match(missing.error, /none of the images could be fetched/);
    assert.match(await page.locator('glitch-classifier .errors li').first().textContent(), /HTTP 404/);

    assert.deepEqual(await cspViolations(page), [], 'CSP violations in the page');
    assert.deepEqual(browser.cspLog, [], 'CSP violations (page or worker)');
    assert.deepEqual(foreignRequests(browser.requests, server.origin), [], 'requests to other origins');
  } finally {
    await page.close();
  }
});

test('without the shared samples the host example says so instead of failing silently', async () => {
  // A repository copy without ../shared next to it: www and models linked, no samples.
  const fake = mkdtempSync(join(tmpdir(), 'glitchscope-nosamples-'));
  const repo = join(fake, 'repo');
  mkdirSync(repo);
  symlinkSync(join(REPO, 'www'), join(repo, 'www'));
  symlinkSync(join(REPO, 'models'), join(repo, 'models'));
  const bare = await startServer(repo);
  const page = await browser.context.newPage();
  try {
    await page.goto(`${bare.origin}/host-example.html`);
    const note = page.locator('#samples-note');
    await note.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await note.textContent(), /sample Gravity Spy images are missing/);
    assert.ok(await page.getByRole('button', { name: 'Next subject' }).isDisabled());
    await page.screenshot({ path: join(ARTIFACTS, 'host-example-no-samples.png') });
  } finally {
    await page.close();
    await bare.stop();
    rmSync(fake, { recursive: true, force: true });
  }
});
