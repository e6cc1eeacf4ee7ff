// Headless Firefox ESR for the e2e tests, through WebDriver (selenium-webdriver + geckodriver; playwright's own
// Firefox build cannot be fetched here), with every request of the browser (workers included) going through a
// recording proxy, because WebDriver has no request events that cover workers. Used by firefox.test.mjs and
// strain-triggers.test.mjs.

import { existsSync } from 'node:fs';
import http from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Builder } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';

export const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
export const GECKODRIVER = [process.env.GECKODRIVER, join(homedir(), '.cargo', 'bin', 'geckodriver'), '/usr/local/bin/geckodriver', '/usr/bin/geckodriver']
  .find((p) => p && existsSync(p));
/** Why Firefox cannot run here, or false. */
export const NO_FIREFOX = !existsSync(FIREFOX)
  ? `needs Firefox ESR at ${FIREFOX} (scripts/setup.sh installs it)`
  : !GECKODRIVER
    ? 'needs geckodriver (scripts/setup.sh installs it with cargo)'
    : false;

/**
 * An HTTP proxy that records every URL in `requests` and forwards it, only to the page's server at `origin`
 * (anything else fails). Resolves to { port, close }.
 */
export function startRecordingProxy(origin, requests) {
  const target = new URL(origin);
  const srv = http.createServer((req, res) => {
    requests.push(req.url);
    const url = new URL(req.url);
    if (url.origin !== target.origin) {
      res.writeHead(502).end('the test proxy forwards only to the page server');
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: url.pathname + url.search, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => res.writeHead(502).end(String(e)));
    req.pipe(upstream);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ port: srv.address().port, close: () => srv.close() })));
}

/** Headless Firefox ESR whose every request goes through the proxy on `proxyPort`; resolves to the driver. */
export function launchFirefox(proxyPort) {
  const options = new firefox.Options()
    .setBinary(FIREFOX)
    .addArguments('-headless')
    // Everything through the recording proxy, localhost included.
    .setPreference('network.proxy.type', 1)
    .setPreference('network.proxy.http', '127.0.0.1')
    .setPreference('network.proxy.http_port', proxyPort)
    .setPreference('network.proxy.ssl', '127.0.0.1')
    .setPreference('network.proxy.ssl_port', proxyPort)
    .setPreference('network.proxy.no_proxies_on', '')
    .setPreference('network.proxy.allow_hijacking_localhost', true)
    // No background traffic of the browser's own (updates, telemetry, captive-portal checks).
    .setPreference('app.update.enabled', false)
    .setPreference('network.captive-portal-service.enabled', false)
    .setPreference('network.connectivity-service.enabled', false)
    .setPreference('datareporting.policy.dataSubmissionEnabled', false)
    .setPreference('toolkit.telemetry.enabled', false)
    .setPreference('browser.safebrowsing.malware.enabled', false)
    .setPreference('browser.safebrowsing.phishing.enabled', false)
    .setPreference('extensions.getAddons.cache.enabled', false);
  return new Builder()
    .forBrowser('firefox')
    .setFirefoxOptions(options)
    .setFirefoxService(new firefox.ServiceBuilder(GECKODRIVER))
    .build();
}
