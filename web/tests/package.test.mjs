// The packed npm tarball as users get it: installed into a fresh Vite app, a fresh webpack 5 app
// (no config file) and a plain page with <script type="module"> (no bundler), all run in
// headless Chromium; each also uses the decoder-only entry, `haagenti/decode`, and a
// ZstdDecompressionStream.
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
const webpack = join(root, "web/node_modules/webpack-cli/bin/cli.js");
const work = mkdtempSync(join(tmpdir(), "haagenti-package-"));
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

// The check every page runs: init both entries, compress with brotli and zstd, decompress (one
// shot, through the decoder-only entry, and through a ZstdDecompressionStream), report on the page.
const imports = (full, decode) => `
  import { init, compress, decompressFormat, version, backend, ZstdDecompressionStream } from "${full}";
  import { init as initDecode, decompress as zstdDecompress, variant, ZstdDecompressionStream as DecodeStream } from "${decode}";
`;
const check = `
  await init();
  await initDecode();
  const text = new TextEncoder().encode("shipped to the browser ".repeat(200));
  const same = (back) => back.length === text.length && back.every((b, i) => b === text[i]);
  const packed = compress("brotli", text);
  const zstd = compress("zstd", text);
  const streamed = new Uint8Array(await new Response(new Response(zstd).body.pipeThrough(new ZstdDecompressionStream())).arrayBuffer());
  const streamedSmall = new Uint8Array(await new Response(new Response(zstd).body.pipeThrough(new DecodeStream())).arrayBuffer());
  const ok = same(decompressFormat("brotli", packed)) && packed.length < text.length && same(zstdDecompress(zstd)) &&
    same(streamed) && same(streamedSmall) && variant() === "decode";
  document.body.dataset.result = ok ? "ok " + version() + " " + backend() : "mismatch";
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
  writeFileSync(join(app, "main.js"), `${imports("haagenti", "haagenti/decode")}\n${check}`);
  writeFileSync(join(app, "vite.config.js"), `export default { base: "./", optimizeDeps: { exclude: ["haagenti"] } };`);
  execFileSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: app, stdio: "pipe" });

  // A fresh webpack 5 app, no config file: src/index.js to dist/main.js; webpack finds the
  // .wasm files through their \`new URL(..., import.meta.url)\`.
  const wp = join(work, "webpack-app");
  mkdirSync(join(wp, "src"), { recursive: true });
  writeFileSync(join(wp, "package.json"), JSON.stringify({ name: "webpack-consumer", private: true }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: wp, stdio: "pipe" });
  writeFileSync(join(wp, "src/index.js"), `${imports("haagenti", "haagenti/decode")}\n(async () => {${check}})();`);
  execFileSync(process.execPath, [webpack, "--mode", "production", "--no-stats"], { cwd: wp, stdio: "pipe" });
  mkdirSync(join(wp, "dist"), { recursive: true });
  writeFileSync(join(wp, "dist/index.html"), `<!doctype html><body><script src="./main.js"></script></body>`);

  // A plain page importing the installed package's files directly.
  const plain = join(work, "plain");
  mkdirSync(plain);
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: plain, stdio: "pipe" });
  writeFileSync(
    join(plain, "index.html"),
    `<!doctype html><body><script type="module">
      ${imports("./node_modules/haagenti/dist/index.js", "./node_modules/haagenti/dist/decode.js")}
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

// Chromium runs WebAssembly SIMD, so each page loads the simd128 builds.
test("the tarball works in a fresh Vite app", async () => {
  assert.match(await result(`${base}/vite-app/dist/index.html`), /^ok \d+\.\d+\.\d+ simd128$/);
});

test("the tarball works in a fresh webpack 5 app", async () => {
  assert.match(await result(`${base}/webpack-app/dist/index.html`), /^ok \d+\.\d+\.\d+ simd128$/);
});

test("the tarball works in a plain module script page", async () => {
  assert.match(await result(`${base}/plain/index.html`), /^ok \d+\.\d+\.\d+ simd128$/);
});
