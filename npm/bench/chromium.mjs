// Headless-Chromium benchmark: the same harness as decode.mjs, in a page served from
// 127.0.0.1 (a secure context) and driven by playwright-core.
//
//   node chromium.mjs [--module ../wasm/haagenti_wasm.js] [--wasm FILE.wasm] [--fn NAME] [--warmup 3] [--rounds 9]
//                     [--runs 7] [--inputs inputs] [--json results/chromium.json]
//                     [--chromium /usr/bin/chromium]
//
// Each run is a fresh browser context and page.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { sendFile } from './serve.mjs';
import { makeDecoders } from './decoders.mjs';
import { environment, INPUTS, parseArgs, wasmInfo } from './env.mjs';
import { summarize, table } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const opts = parseArgs(process.argv.slice(2), {
  module: join(here, '../wasm/haagenti_wasm.js'),
  wasm: '',
  fn: '',
  warmup: 3,
  rounds: 9,
  runs: 7,
  inputs: join(here, 'inputs'),
  json: join(here, 'results/chromium.json'),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
});
const modulePath = resolve(opts.module);
const wasmPath = opts.wasm ? resolve(opts.wasm) : modulePath.replace(/\.js$/, '_bg.wasm');
const roots = { '/m/': dirname(modulePath), '/w/': dirname(wasmPath), '/b/': here, '/i/': resolve(opts.inputs) };

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  let file = null;
  if (url.pathname === '/') file = join(here, 'page.html');
  for (const [prefix, root] of Object.entries(roots)) {
    if (url.pathname.startsWith(prefix)) {
      const p = normalize(join(root, decodeURIComponent(url.pathname.slice(prefix.length))));
      if (p.startsWith(root + sep)) file = p;
    }
  }
  sendFile(res, url, file);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${server.address().port}`;

const before = environment();
const browser = await chromium.launch({ executablePath: opts.chromium, args: ['--no-sandbox'] });
try {
  const runs = [];
  let info;
  for (let r = 0; r < opts.runs; r++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.benchReady === true || undefined, null, { timeout: 20000 }).catch(() => {
      throw new Error(`the page did not load: ${errors.join('; ')}`);
    });
    info = await page.evaluate((o) => window.bench(o), {
      moduleFile: basename(modulePath), wasmFile: basename(wasmPath), fn: opts.fn, inputs: INPUTS, warmup: opts.warmup, rounds: opts.rounds,
    });
    if (!info.secure) throw new Error('the page is not a secure context');
    runs.push(info.ms);
    await context.close();
    process.stderr.write(`run ${r + 1}/${opts.runs} done\n`);
  }
  const inputs = INPUTS.map((name) => ({
    name,
    raw: new Uint8Array(readFileSync(join(opts.inputs, name))),
    zst: new Uint8Array(readFileSync(join(opts.inputs, `${name}.zst`))),
  }));
  // Names only, for the summary (the decoders ran in the page).
  const decoders = makeDecoders({ ours: { decompress() {} }, fzstd: {}, bokuweb: {} }).decoders;
  const env = { ...before, runtime: `Chromium ${browser.version()} (headless, playwright-core)`,
    module: { ...wasmInfo(wasmPath), version: info.version, api: info.api } };
  env.loadavgAfter = environment().loadavg;
  const rows = summarize(inputs, decoders, runs);
  console.log(`Chromium: ${env.date}, ${env.cpu} (${env.cores} cores), load ${env.loadavg} -> ${env.loadavgAfter}`);
  console.log(`${env.runtime}; haagenti ${info.version} ${info.api} (${env.module.bytes} B wasm, sha256 ${env.module.sha256}, commit ${env.commit}); ` +
    Object.entries(env.packages).map(([k, v]) => `${k} ${v}`).join(', '));
  console.log(`${opts.runs} runs x (${opts.warmup} warm-up + ${opts.rounds} timed rounds); MB/s median (range over runs), 1 MB = 10^6 decoded bytes\n`);
  console.log(table(rows, decoders));
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(opts.json, JSON.stringify({ env, opts, rows, runs }, null, 1));
} finally {
  await browser.close();
  server.close();
}
