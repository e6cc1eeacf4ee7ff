// Shared helpers of the end-to-end tests: paths, the static server, the browser, and what the page did.

import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository under test (GLITCHSCOPE_E2E_REPO serves another checkout, e.g. a copy with a different build). */
export const REPO = resolve(process.env.GLITCHSCOPE_E2E_REPO ?? join(here, '..', '..'));
/** Real Gravity Spy images, shared read-only next to the repository; absent on most machines. */
export const SHARED_REAL = resolve(REPO, '..', 'shared', 'data', 'real');
export const HAS_SHARED = existsSync(join(SHARED_REAL, 'o1_full_plots'));
export const SKIP_NO_SHARED = HAS_SHARED
  ? false
  : `needs real Gravity Spy images at ${SHARED_REAL}/o1_full_plots (../shared/data next to the repository), absent here`;
/** Under CI (CI=true), where ../shared is beside the clone and setup installs every tool, nothing may skip. */
export const UNDER_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * node:test's `skip` option for a test that needs something outside the code (shared data, a browser, a built
 * binary): false when `reason` is false, else the reason. A skip is visible: it goes to GLITCHSCOPE_SKIP_LOG, the
 * list scripts/test.sh prints at its end. Under CI it throws instead, so the test file fails.
 */
export function skipIf(reason, where) {
  if (!reason) return false;
  if (UNDER_CI) throw new Error(`${where}: would skip under CI=true, where it must run: ${reason}`);
  logSkip(where, reason);
  return reason;
}

/** Record a skipped check (a whole test, or a comparison inside one) in the list scripts/test.sh prints. */
export function logSkip(where, reason) {
  console.log(`# SKIPPED ${where}: ${reason}`);
  if (process.env.GLITCHSCOPE_SKIP_LOG) appendFileSync(process.env.GLITCHSCOPE_SKIP_LOG, `node test  ${where}: ${reason}\n`);
}

export const ARTIFACTS = join(here, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

/** Fail (not skip) when the wasm package is missing: the page cannot work without it. */
export function requireWasmPackage() {
  const pkg = join(REPO, 'www', 'pkg', 'glitchscope.js');
  if (!existsSync(pkg)) {
    throw new Error(`${pkg} is missing: build the wasm package first with scripts/build-web.sh`);
  }
  const card = join(REPO, 'models', 'default.json');
  if (!existsSync(card)) {
    throw new Error(`${card} is missing: the page loads the default model card from models/default.json`);
  }
}

/**
 * Start scripts/serve.py on a free port (it prints the URL it bound first). `repo` defaults to REPO.
 * Resolves to { origin, stop }.
 */
export function startServer(repo = REPO) {
  const child = spawn('python3', [join(REPO, 'scripts', 'serve.py'), '--port', '0', '--quiet', '--repo', repo], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`serve.py did not start within 20 s; stderr: ${stderr}`));
    }, 20_000);
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /Serving GlitchScope on (http:\/\/[^/\s]+)\//.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolvePromise({
          origin: match[1],
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.py exited with ${code} before serving; stderr: ${stderr}`));
    });
  });
}

/**
 * Headless Chromium with WebGPU (SwiftShader here) in a fresh profile, recording every request and every CSP
 * violation or uncaught error of its pages and their workers. Returns { context, requests, problems, cspLog, close }.
 */
export async function launchBrowser({ viewport = { width: 1280, height: 900 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'glitchscope-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    acceptDownloads: true,
  });
  const requests = [];
  const problems = [];
  const cspLog = []; // CSP violations anywhere, workers included (a worker's never reach the page's DOM events)
  const watch = async (page) => {
    // The browser log sees what page events do not: CSP refusals and network errors inside the worker.
    const cdp = await context.newCDPSession(page);
    cdp.on('Log.entryAdded', ({ entry }) => {
      if (entry.level !== 'error') return;
      if (/Content Security Policy/.test(entry.text)) cspLog.push(`${entry.source}: ${entry.text}`);
      problems.push(`${entry.source} log error: ${entry.text}`);
    });
    await cdp.send('Log.enable');
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('worker', (worker) => {
      worker.on('console', (message) => {
        if (message.type() === 'error') problems.push(`worker console error: ${message.text()}`);
      });
    });
  };
  context.on('page', watch);
  context.on('request', (request) => requests.push(request.url()));
  // Record CSP violations in the page (securitypolicyviolation events) for the tests to assert on.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || '(inline)'}`);
    });
  });
  return {
    context,
    requests,
    problems,
    cspLog,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Requests that left the page's own origin (blob: and data: URLs are local). */
export function foreignRequests(requests, origin) {
  return [...new Set(requests)].filter((url) => {
    if (url.startsWith('blob:') || url.startsWith('data:')) return false;
    return new URL(url).origin !== origin;
  });
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations ?? []);
}

/** The real glitches both page tests (Chromium and Firefox) classify, their views, and a truncated PNG. */
export const PAGE_GLITCHES = [
  { key: 'H1_0Sug0tqkoL', label: 'Blip' },
  { key: 'L1_FOjcfFqddp', label: 'Whistle' },
];
export const DURATIONS = ['0.5', '1.0', '2.0', '4.0'];
export const BROKEN = 'H1_Broken00000_spectrogram_1.0.png'; // a real PNG cut short

/** Copy the views of PAGE_GLITCHES from the shared real images into `dir`, and write BROKEN there. */
export function writePageInputs(dir) {
  for (const { key, label } of PAGE_GLITCHES) {
    for (const d of DURATIONS) {
      const name = `${key}_spectrogram_${d}.png`;
      copyFileSync(join(SHARED_REAL, 'o1_full_plots', label, name), join(dir, name));
    }
  }
  const png = readFileSync(join(SHARED_REAL, 'o1_full_plots', 'Blip', 'H1_0VKvV8c8Ra_spectrogram_1.0.png'));
  writeFileSync(join(dir, BROKEN), png.subarray(0, 3000));
}
