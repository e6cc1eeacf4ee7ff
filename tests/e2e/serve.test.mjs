// scripts/serve.py: the three roots, MIME types, no-cache, no listings, no path traversal.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { HAS_SHARED, REPO, SKIP_NO_SHARED, skipIf, startServer } from './helpers.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

// node's http client sends the path exactly as given (no '..' normalisation), which is what an attacker does.
function get(path, method = 'GET') {
  const { hostname, port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves the page and its scripts with the right types and no-cache', async () => {
  for (const [path, type] of [
    ['/', 'text/html'],
    ['/index.html', 'text/html'],
    ['/app.js', 'text/javascript'],
    ['/worker.js', 'text/javascript'],
    ['/style.css', 'text/css'],
  ]) {
    const res = await get(path);
    assert.equal(res.status, 200, path);
    assert.ok(res.headers['content-type'].startsWith(type), `${path}: ${res.headers['content-type']}`);
    assert.equal(res.headers['cache-control'], 'no-cache', path);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
  }
  assert.match((await get('/')).body, /<title>GlitchScope/);
});

test('sends the pages\' own CSP as a header, so that it also binds the worker', async () => {
  for (const page of ['/index.html', '/host-example.html']) {
    const res = await get(page);
    const meta = /<meta http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(res.body);
    assert.ok(meta, `${page} has no CSP meta tag`);
    assert.equal(res.headers['content-security-policy'], meta[1], `${page}: header and meta policies differ`);
  }
  assert.equal((await get('/worker.js')).headers['content-security-policy'], (await get('/')).headers['content-security-policy']);
});

test('serves wasm as application/wasm', { skip: skipIf(!existsSync(join(REPO, 'www/pkg/glitchscope_bg.wasm')) && 'www/pkg not built (scripts/build-web.sh)', 'serve.test.mjs: wasm MIME type') }, async () => {
  const res = await get('/pkg/glitchscope_bg.wasm', 'HEAD');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/wasm');
});

test('serves models/ under /models/', { skip: skipIf(!existsSync(join(REPO, 'models/default.json')) && 'models/default.json absent', 'serve.test.mjs: models/') }, async () => {
  const res = await get('/models/default.json');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  JSON.parse(res.body);
});

test('serves the shared samples under /samples/', { skip: skipIf(SKIP_NO_SHARED, 'serve.test.mjs: /samples/') }, async () => {
  const name = readdirSync(join(REPO, '../shared/data/real/o1_full_plots/Blip'))[0];
  const res = await get(`/samples/o1_full_plots/Blip/${name}`, 'HEAD');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'image/png');
  assert.equal(HAS_SHARED, true);
});

test('refuses path traversal, encoded or not, under every root', async () => {
  for (const path of [
    '/../Cargo.toml',
    '/%2e%2e/Cargo.toml',
    '/%2E%2E%2FCargo.toml',
    '/models/../Cargo.toml',
    '/models/%2e%2e/Cargo.toml',
    '/samples/../../main/Cargo.toml',
    '/samples/%2e%2e/%2e%2e/main/Cargo.toml',
    '/..%5cCargo.toml',
    '/%00/etc/passwd',
    '//etc/passwd',
    '/../../../../etc/passwd',
  ]) {
    const res = await get(path);
    assert.equal(res.status, 404, `${path} -> ${res.status}`);
    assert.ok(!res.body.includes('[package]') && !res.body.includes('root:'), `${path} leaked a file`);
  }
});

test('lists no directories and 404s unknown paths', async () => {
  for (const path of ['/models/', '/samples/', '/pkg/', '/nope.html']) {
    const res = await get(path);
    assert.equal(res.status, 404, `${path} -> ${res.status}`);
  }
});
