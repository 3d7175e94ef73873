// The packed npm tarball as users get it: installed into a fresh Vite app and into a plain
// page with <script type="module"> (no bundler), both run in headless Chromium.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
const vite = join(root, "web/node_modules/vite/bin/vite.js");
const work = mkdtempSync(join(tmpdir(), "haagenti-package-"));
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

// The check both pages run: init, compress with brotli, decompress, report on the page.
const check = `
  await init();
  const text = new TextEncoder().encode("shipped to the browser ".repeat(200));
  const packed = compress("brotli", text);
  const back = decompressFormat("brotli", packed);
  const same = back.length === text.length && back.every((b, i) => b === text[i]);
  document.body.dataset.result = same && packed.length < text.length ? "ok " + version() : "mismatch";
`;

let server;
let base;
let browser;

before(async () => {
  assert.ok(existsSync(join(root, "npm/dist/index.js")), "build the npm package first (npm run build in npm/)");
  const [info] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: join(root, "npm"), encoding: "utf8" }));
  const tarball = join(work, info.filename);

  // A fresh Vite app depending on the tarball.
  const app = join(work, "vite-app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "vite-consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: app, stdio: "pipe" });
  writeFileSync(join(app, "index.html"), `<!doctype html><body><script type="module" src="./main.js"></script></body>`);
  writeFileSync(join(app, "main.js"), `import { init, compress, decompressFormat, version } from "haagenti";\n${check}`);
  writeFileSync(join(app, "vite.config.js"), `export default { base: "./", optimizeDeps: { exclude: ["haagenti"] } };`);
  execFileSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: app, stdio: "pipe" });

  // A plain page importing the installed package's files directly.
  const plain = join(work, "plain");
  mkdirSync(plain);
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: plain, stdio: "pipe" });
  writeFileSync(
    join(plain, "index.html"),
    `<!doctype html><body><script type="module">
      import { init, compress, decompressFormat, version } from "./node_modules/haagenti/dist/index.js";
      ${check}
    </script></body>`,
  );

  server = createServer((req, res) => {
    const path = normalize(join(work, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    if (!path.startsWith(work) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

async function result(url) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("requestfailed", (r) => errors.push(`failed: ${r.url()}`));
  page.on("response", (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") && errors.push(`${r.status()}: ${r.url()}`));
  await page.goto(url);
  try {
    await page.waitForSelector("body[data-result]", { state: "attached", timeout: 30_000 });
  } catch (e) {
    throw new Error(`${url}: no result (${errors.join("; ")})`);
  }
  const value = await page.getAttribute("body", "data-result");
  await page.close();
  assert.deepEqual(errors, []);
  return value;
}

test("the tarball works in a fresh Vite app", async () => {
  assert.match(await result(`${base}/vite-app/dist/index.html`), /^ok \d+\.\d+\.\d+$/);
});

test("the tarball works in a plain module script page", async () => {
  assert.match(await result(`${base}/plain/index.html`), /^ok \d+\.\d+\.\d+$/);
});
