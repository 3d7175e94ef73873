// The demo page in headless Chromium against the real fragment server: the page loads the wasm
// module, calls Health over gRPC-web through TLS, and shows the answer; Ctrl-C stops the server.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
const serverBin = process.env.HAAGENTI_SERVER_BIN ?? `${root}/target/debug/haagenti-server`;
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let baseUrl;
let exited;

before(async () => {
  assert.ok(existsSync(serverBin), `server binary missing at ${serverBin} (set HAAGENTI_SERVER_BIN)`);
  assert.ok(existsSync(`${root}/web/dist/index.html`), "web/dist missing: run `npm run build` in web/");
  // No --web: the page must be the one built into the binary (scripts/test.sh builds the
  // server after the page, and its build script embeds web/dist).
  server = spawn(serverBin, ["--addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));
  baseUrl = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${seen}`)), 30_000);
    server.stdout.on("data", (chunk) => {
      seen += chunk;
      const m = seen.match(/listening on (https:\/\/[^/\s]+)\//);
      if (m && /web app built into the server/.test(seen)) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
});

after(() => {
  if (server && server.exitCode === null) server.kill("SIGKILL");
});

test("the page shows the server's health over gRPC-web", async () => {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${baseUrl}/`);
    await page.waitForSelector('#health:not([data-state="pending"])', { timeout: 30_000 });
    assert.equal(await page.getAttribute("#health", "data-state"), "ok", await page.textContent("#health"));
    assert.equal(await page.textContent('[data-field="status"]'), "serving");
    assert.equal(await page.textContent('[data-field="protocol"]'), "grpc-web");
    assert.match(await page.textContent('[data-field="server version"]'), /^\d+\.\d+\.\d+$/);

    await page.waitForSelector('#codecs[data-state="ok"]');
    const results = await page.$$eval("#codecs td:nth-child(4)", (cells) => cells.map((c) => c.textContent));
    assert.deepEqual(results, ["exact", "exact", "exact", "exact", "exact"]);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("Ctrl-C stops the server cleanly", async () => {
  server.kill("SIGINT");
  const { code } = await exited;
  assert.equal(code, 0);
});
