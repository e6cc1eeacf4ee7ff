// Strain upload in the page (issue #6): real O3 strain around a real Blip as .npy, GWOSC ASCII .txt (with a header
// giving the sample rate and start GPS; centre given as GPS) and .txt.gz -> four views in the card and the same
// top class as the native CLI (`glitchscope qtransform --png` for each view + `glitchscope classify`); bad strain
// (NaN, too short, centre outside, broken gzip, not numbers) -> a clear message while the page keeps working; the S6
// HDF5 test file waits for trigger times, then each detector's too-short data get a message naming the trigger.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO, cspViolations, launchBrowser, logSkip, requireWasmPackage, skipIf, startServer } from './helpers.mjs';

const REFERENCE = join(REPO, '..', 'shared', 'data', 'qtransform-reference');
const STRAIN = join(REFERENCE, 'O3a_H1_Blip_0.strain.npy'); // 14 s at 4096 Hz, float64, Blip at 7 s
const SKIP = existsSync(STRAIN) ? false : `needs real strain at ${STRAIN} (../shared/data next to the repository), absent here`;
const RATE = 4096;
const CENTER = 7.0;
const GPS_START = 1238166018; // any start time: the header says it, the centre is then given as GPS
const LOAD_TIMEOUT = 240_000;
const STRAIN_TIMEOUT = 300_000;

let server;
let browser;
let dir;
let samples;

/** The samples of a little-endian float64 1-d .npy. */
function readNpyF64(path) {
  const bytes = readFileSync(path);
  const headerLen = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f8'/, `expected float64 strain in ${path}: ${header}`);
  const data = bytes.subarray(10 + headerLen);
  return Array.from({ length: data.length / 8 }, (_, i) => data.readDoubleLE(i * 8));
}

before(async () => {
  requireWasmPackage();
  if (SKIP) return;
  server = await startServer();
  browser = await launchBrowser();
  dir = mkdtempSync(join(tmpdir(), 'glitchscope-strain-'));
  samples = readNpyF64(STRAIN);
  copyFileSync(STRAIN, join(dir, 'O3a_H1_Blip_0.strain.npy'));
  // GWOSC ASCII: header lines, then one sample per line (String() round-trips a double exactly).
  const text = `# Gravitational wave strain for H1_GWOSC_4KHZ_R1 (GWOSC)\n# Sample rate: ${RATE} Hz\n` +
    `# starting GPS ${GPS_START} duration ${samples.length / RATE}\n${samples.map(String).join('\n')}\n`;
  writeFileSync(join(dir, `H-H1_GWOSC_4KHZ_R1-${GPS_START}-14.txt`), text);
  writeFileSync(join(dir, `H-H1_COPY_4KHZ_R1-${GPS_START}-14.txt.gz`), gzipSync(text));
  // Bad inputs.
  writeFileSync(join(dir, 'H1_nan.txt'), samples.map((v, i) => (i === 1000 ? 'NaN' : String(v))).join('\n'));
  writeFileSync(join(dir, 'H1_short.txt'), samples.slice(0, 2 * RATE).map(String).join('\n'));
  writeFileSync(join(dir, 'H1_words.txt'), '# a header\n1.0\nhello world\n');
  writeFileSync(join(dir, 'H1_broken.txt.gz'), gzipSync(text).subarray(0, 5000));
  const hdf = join(REPO, '..', 'shared', 'data', 'strain', 's6_gwpy_testdata', 'HLV-HW100916-968654552-1.hdf');
  if (existsSync(hdf)) copyFileSync(hdf, join(dir, 'HLV-HW100916-968654552-1.hdf'));
  writeFileSync(join(dir, 'H1_long.txt'), '0\n'.repeat(2 ** 20 + 1)); // one sample over the limit
  // Exactly the limit (2^20 samples, 256 s at 4096 Hz): the real strain repeated, as a float64 .npy.
  const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1048576,), }";
  const padded = header.padEnd(128 - 10 - 1, ' ') + '\n';
  const prefix = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.from([padded.length & 0xff, padded.length >> 8]), Buffer.from(padded, 'latin1')]);
  const body = Buffer.alloc(8 * 2 ** 20);
  for (let i = 0; i < 2 ** 20; i++) body.writeDoubleLE(samples[i % samples.length], i * 8);
  writeFileSync(join(dir, 'H1_longest.npy'), Buffer.concat([prefix, body]));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Top-5 from the native CLI for the same strain: the four views rendered by `qtransform --png`, then classified. */
function nativeTop5() {
  const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'glitchscope', 'target');
  const cli = join(targetDir, 'release', 'glitchscope');
  if (!existsSync(cli)) {
    assert.ok(process.env.CI !== 'true', `the native comparison needs ${cli} under CI (cargo build --release -p glitchscope-trainer)`);
    logSkip('strain.test.mjs: native comparison', `${cli} is not built (cargo build --release -p glitchscope-trainer)`);
    return null;
  }
  const out = mkdtempSync(join(dir, 'native-'));
  const pngs = [];
  for (const d of ['0.5', '1.0', '2.0', '4.0']) {
    const png = join(out, `H1_native_spectrogram_${d}.png`);
    execFileSync(cli, ['qtransform', '--strain', STRAIN, '--sample-rate', String(RATE), '--center', String(CENTER),
      '--half-window', String(Number(d) / 2), '--out', join(out, `q${d}.npy`), '--png', png], { stdio: 'ignore' });
    pngs.push(png);
  }
  const json = JSON.parse(execFileSync(cli, ['classify', '--json', '--model', join(REPO, 'models', 'default.json'), ...pngs],
    { encoding: 'utf8', maxBuffer: 64 << 20 }));
  return json.glitches[0].prediction;
}

async function openPage(page) {
  await page.goto(`${server.origin}/index.html?backend=cpu`);
  await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#status')?.dataset.state), null, { timeout: LOAD_TIMEOUT });
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'ok', await page.locator('#status').textContent());
}

/** Upload one strain file with the given fields; resolves to the strain status once it settles. */
async function uploadStrain(page, name, { rate = '', center = '' } = {}) {
  await page.locator('#strain-rate').fill(rate);
  await page.locator('#strain-center').fill(center);
  await page.evaluate(() => {
    document.querySelector('#strain-status').textContent = '';
    document.querySelector('#strain-status').dataset.state = '';
  });
  await page.locator('#strain-input').setInputFiles(join(dir, name));
  await page.waitForFunction(
    () => ['ok', 'warn', 'error'].includes(document.querySelector('#strain-status')?.dataset.state),
    null,
    { timeout: STRAIN_TIMEOUT },
  );
  return { state: await page.locator('#strain-status').getAttribute('data-state'), text: await page.locator('#strain-status').textContent() };
}

async function cardOf(page, key) {
  return page.locator(`article.glitch[data-key="${key}"]`).evaluate((card) => ({
    views: [...card.querySelectorAll('figure.view img')].map((img) => ({ ok: img.complete && img.naturalWidth > 0, alt: img.alt })),
    top5: [...card.querySelectorAll('ol.top5 li')].map((li) => ({ label: li.dataset.label, probability: Number(li.dataset.probability) })),
  }));
}

test('strain upload: .npy, GWOSC .txt and .txt.gz give four views and the native top class; bad strain is refused', { skip: skipIf(SKIP, 'strain.test.mjs: strain upload') }, async () => {
  const page = await browser.context.newPage();
  try {
    await openPage(page);
    const native = nativeTop5();
    const uploads = [
      { name: 'O3a_H1_Blip_0.strain.npy', fields: { rate: String(RATE), center: String(CENTER) }, key: 'H1_O3a_H1_Blip_0-t7.000', from: 'field' },
      { name: `H-H1_GWOSC_4KHZ_R1-${GPS_START}-14.txt`, fields: { center: String(GPS_START + CENTER) }, key: `H1_H-H1_GWOSC_4KHZ_R1-${GPS_START}-14-t7.000`, from: 'file header' },
      { name: `H-H1_COPY_4KHZ_R1-${GPS_START}-14.txt.gz`, fields: { center: String(CENTER) }, key: `H1_H-H1_COPY_4KHZ_R1-${GPS_START}-14-t7.000`, from: 'file header' },
    ];
    const found = [];
    for (const { name, fields, key, from } of uploads) {
      const started = Date.now();
      const status = await uploadStrain(page, name, fields);
      console.log(`# ${status.text} (${((Date.now() - started) / 1000).toFixed(1)} s wall)`);
      assert.equal(status.state, 'ok', status.text);
      assert.ok(status.text.includes(`(${from})`), `sample rate should come from the ${from}: ${status.text}`);
      await page.waitForSelector(`article.glitch[data-key="${key}"] ol.top5`, { timeout: 30_000 });
      await page.waitForFunction((k) => [...document.querySelectorAll(`article.glitch[data-key="${k}"] figure.view img`)]
        .every((img) => img.complete && img.naturalWidth > 0), key);
      const card = await cardOf(page, key);
      assert.equal(card.views.length, 4, `${name}: expected four views, got ${JSON.stringify(card.views)}`);
      assert.deepEqual(card.views.map((v) => v.alt.replace(/^.*, /, '')), ['0.5 s view', '1 s view', '2 s view', '4 s view']);
      assert.equal(card.top5.length, 5);
      found.push(card.top5);
    }
    // The three formats hold the same numbers, so the answers are identical.
    for (const top5 of found.slice(1)) {
      assert.deepEqual(top5.map((t) => t.label), found[0].map((t) => t.label));
      top5.forEach((t, i) => assert.ok(Math.abs(t.probability - found[0][i].probability) < 1e-6));
    }
    if (native) {
      console.log(`# native: ${native.top5.map((t) => `${t.label} ${(t.probability * 100).toFixed(2)}%`).join(', ')}`);
      console.log(`# browser: ${found[0].map((t) => `${t.label} ${(t.probability * 100).toFixed(2)}%`).join(', ')}`);
      assert.equal(found[0][0].label, native.top5[0].label, 'browser and native top class differ');
      const labels = JSON.parse(readFileSync(join(REPO, 'models', 'default.json'), 'utf8')).labels;
      const diff = Math.max(...found[0].map((t) => Math.abs(t.probability - native.probabilities[labels.indexOf(t.label)])));
      console.log(`# browser vs native max |dp| over the top 5: ${diff.toExponential(2)}`);
      // Measured 2e-10 (README); 1e-5 leaves room for f32 rounding elsewhere, a different render or crop does not.
      assert.ok(diff <= 1e-5, `browser and native probabilities differ by ${diff}`);
    }
    // The real glitch is a Blip (Gravity Spy label of this strain).
    assert.equal(found[0][0].label, 'Blip');

    // Bad strain: a message naming the problem, in the strain status and the problem list.
    const bad = [
      ['H1_nan.txt', {}, /sample 1000 \(line 1001\) is NaN/],
      ['H1_short.txt', {}, /at least 8 s/],
      ['O3a_H1_Blip_0.strain.npy', { rate: String(RATE), center: '100' }, /centre time 100 is outside the strain/],
      ['O3a_H1_Blip_0.strain.npy', { rate: '-5' }, /Sample rate "-5" is not a positive number/],
      ['H1_words.txt', {}, /line 3: "hello world"|one number per line/],
      ['H1_broken.txt.gz', {}, /gzip/],
      ['H1_long.txt', {}, /more than the 1048576 GlitchScope accepts/],
    ];
    for (const [name, fields, pattern] of bad) {
      const status = await uploadStrain(page, name, fields);
      console.log(`# ${status.text}`);
      assert.equal(status.state, 'error', status.text);
      assert.match(status.text, pattern);
      const listed = await page.locator(`#problem-list li[data-file="${name}"]`).count();
      assert.ok(listed >= 1, `${name} is not in the problem list`);
    }
    // An HDF5 file (gwpy's layout, three detectors, 1 s) waits for trigger times; with one typed, each detector
    // gets its own message naming the file and the trigger (1 s cannot hold the 4 s view).
    if (existsSync(join(dir, 'HLV-HW100916-968654552-1.hdf'))) {
      const waiting = await uploadStrain(page, 'HLV-HW100916-968654552-1.hdf');
      assert.equal(waiting.state, 'warn', waiting.text);
      assert.match(waiting.text, /choose a trigger list or type GPS times/);
      await page.locator('#strain-gps').fill('968654552.5');
      await page.evaluate(() => { document.querySelector('#strain-status').dataset.state = ''; });
      await page.locator('#trigger-run').click();
      await page.waitForFunction(() => ['ok', 'warn', 'error'].includes(document.querySelector('#strain-status')?.dataset.state), null, { timeout: STRAIN_TIMEOUT });
      assert.match(await page.locator('#strain-status').textContent(), /0 of 3 triggers classified .*3 could not be/);
      for (const ifo of ['H1', 'L1', 'V1']) {
        const problem = await page.locator(`#problem-list li[data-file="${ifo}_968654552.500"]`).textContent();
        assert.match(problem, /HLV-HW100916-968654552-1\.hdf: trigger at GPS 968654552\.5 .*too close/);
      }
      await page.locator('#strain-gps').fill('');
    }
    // The longest series accepted (256 s) still works, in seconds.
    const t0 = Date.now();
    const longest = await uploadStrain(page, 'H1_longest.npy', { center: '7' });
    console.log(`# ${longest.text} (${((Date.now() - t0) / 1000).toFixed(1)} s wall)`);
    assert.equal(longest.state, 'ok', longest.text);
    assert.match(longest.text, /256\.0 s at 4096 Hz \(default\)/);

    // The page still works after the errors.
    const again = await uploadStrain(page, 'O3a_H1_Blip_0.strain.npy', { rate: String(RATE), center: '7.5' });
    assert.equal(again.state, 'ok', again.text);
    assert.equal(await page.locator('article.glitch[data-key="H1_O3a_H1_Blip_0-t7.500"]').count(), 1);

    assert.deepEqual(await cspViolations(page), []);
    assert.deepEqual(browser.cspLog, []);
  } finally {
    await page.close();
  }
});
