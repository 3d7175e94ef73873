// A/B of builds of our module in headless Chromium, alternating per round in one page (the
// Chromium counterpart of ab.mjs), with @bokuweb/zstd-wasm alternating too as the yardstick:
// prints each decoder's median and best MB/s per input and its ratio over zstd-wasm.
//
//   node ab-chromium.mjs build/a/haagenti_wasm.js build/b/haagenti_wasm.js[#FN] [--rounds 15] [--pages 3]
//
// CHROMIUM_FLAGS adds browser flags (e.g. "--js-flags=--perf-prof" for perf profiles);
// `--profile FILE` saves a V8 CPU profile of the first page (DevTools protocol; wasm functions
// by their name-section names) for `node profile.mjs FILE`.
// Paths are relative to this directory and must lie inside it. Each page is a fresh context;
// the medians are over the rounds of all pages.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { sendFile } from './serve.mjs';
import { INPUTS } from './env.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const take = (flag, dflt) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : dflt;
};
const rounds = take('--rounds', 15);
const pages = take('--pages', 3);
const profileAt = args.indexOf('--profile');
const profileFile = profileAt >= 0 ? args.splice(profileAt, 2)[1] : null;
const mods = args.map((arg) => {
  const [p, fn] = arg.split('#');
  const rel = relative(here, resolve(p));
  if (rel.startsWith('..')) throw new Error(`${p} is not inside ${here}`);
  return { name: arg, url: `/b/${rel.split(sep).join('/')}`, fn: fn || 'retained-view' };
});
if (mods.length === 0) throw new Error('give one or more module paths');
const page = `<!doctype html><meta charset="utf-8"><script type="module">
import { oursDecode } from '/b/decoders.mjs';
import { sameBytes } from '/b/harness.mjs';
import * as bokuweb from '/b/node_modules/@bokuweb/zstd-wasm/dist/web/index.web.js';
window.ab = async ({ mods, names, rounds }) => {
  await bokuweb.init();
  const decoders = [{ name: 'zstd-wasm', decode: (z) => bokuweb.decompress(z) }];
  for (const m of mods) {
    const mod = await import(m.url + '?' + decoders.length);
    const { memory } = await mod.default({ module_or_path: m.url.replace(/\\.js$/, '_bg.wasm') });
    decoders.push({ name: m.name, decode: oursDecode(mod, m.fn, memory).decode });
  }
  const get = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
  const inputs = [];
  for (const name of names) inputs.push({ raw: await get('/b/inputs/' + name), zst: await get('/b/inputs/' + name + '.zst') });
  const ms = decoders.map(() => inputs.map(() => []));
  for (let r = 0; r < rounds + 3; r++) {
    for (const [i, input] of inputs.entries()) {
      for (let k = 0; k < decoders.length; k++) {
        const d = (k + r) % decoders.length;
        const t0 = performance.now();
        const out = decoders[d].decode(input.zst);
        const t = performance.now() - t0;
        if (!sameBytes(out, input.raw)) throw new Error(decoders[d].name + ' decoded ' + names[i] + ' wrongly');
        if (r >= 3) ms[d][i].push(t);
      }
    }
  }
  return { names: decoders.map((d) => d.name), ms };
};
window.abReady = true;
</script>`;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    return;
  }
  let file = url.pathname.startsWith('/b/') ? normalize(join(here, decodeURIComponent(url.pathname.slice(3)))) : null;
  if (file && !file.startsWith(here + sep)) file = null;
  sendFile(res, url, file);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', ...(process.env.CHROMIUM_FLAGS ?? '').split(' ').filter(Boolean)] });
try {
  let names;
  let all;
  for (let p = 0; p < pages; p++) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const errors = [];
    tab.on('pageerror', (e) => errors.push(e));
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    await tab.waitForFunction(() => window.abReady === true || undefined, null, { timeout: 20000 }).catch(() => {
      throw new Error(`the page did not load: ${errors.join('; ')}`);
    });
    const cdp = profileFile && p === 0 ? await context.newCDPSession(tab) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
      await cdp.send('Profiler.start');
    }
    const r = await tab.evaluate((o) => window.ab(o), { mods: mods.map(({ name, url, fn }) => ({ name, url, fn })), names: INPUTS, rounds });
    if (cdp) writeFileSync(profileFile, JSON.stringify((await cdp.send('Profiler.stop')).profile));
    names = r.names;
    all = all ? all.map((d, i) => d.map((xs, j) => xs.concat(r.ms[i][j]))) : r.ms;
    await context.close();
  }
  const raw = INPUTS.map((n) => readFileSync(join(here, 'inputs', n)).length);
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const total = (d) => raw.reduce((s, x) => s + x, 0) / 1e3 / raw.reduce((s, _, i) => s + med(all[d][i]), 0);
  console.log(`Chromium ${browser.version()}, ${pages} pages x ${rounds} rounds; MB/s median (best), ratio over zstd-wasm`);
  for (const [d, name] of names.entries()) {
    const cells = INPUTS.map((n, i) => `${n.split('.')[0]} ${(raw[i] / 1e3 / med(all[d][i])).toFixed(0)} (${(raw[i] / 1e3 / Math.min(...all[d][i])).toFixed(0)}) ${(med(all[0][i]) / med(all[d][i])).toFixed(2)}x`);
    console.log(`${name.padEnd(44)} all ${total(d).toFixed(0)} MB/s ${(total(d) / total(0)).toFixed(2)}x | ${cells.join(' | ')}`);
  }
} finally {
  await browser.close();
  server.close();
}
