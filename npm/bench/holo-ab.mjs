// A/B of builds of the module on HoloTensor decoding, in one Node process, alternating per
// round: each asset's fragments pushed in order into a fresh `HoloStream` with a preview each,
// then the reconstruction; prints each build's median and best milliseconds per asset and in
// all, and fails if two builds give different bytes.
//
//   node holo-ab.mjs ASSETS_DIR build/a/haagenti_wasm.js build/b/haagenti_wasm.js [--rounds 21] [--cpu]
//
// ASSETS_DIR holds one folder per asset as `haagenti holo encode -o` writes it (manifest.json
// and fragments/); `bash holo-assets.sh ASSETS_DIR` makes the set this was measured on.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { abOptions } from './harness.mjs';

const args = process.argv.slice(2);
const { rounds, now } = abOptions(args, 21);
const [dir, ...builds] = args;
const mods = [];
for (const p of builds) {
  const mod = await import(pathToFileURL(resolve(p)).href + `?${mods.length}`);
  mod.initSync({ module: readFileSync(resolve(p).replace(/\.js$/, '_bg.wasm')) });
  mods.push({ name: p, mod });
}
const assets = readdirSync(dir).sort().map((name) => {
  const m = JSON.parse(readFileSync(join(dir, name, 'manifest.json'), 'utf8'));
  const ids = m.fragments.map((f) => (typeof f === 'string' ? f : f.id));
  const frags = ids.map((id) => new Uint8Array(readFileSync(join(dir, name, 'fragments', id.slice(0, 2), id))));
  return { name, frags };
});
const digest = (rec) => {
  const d = rec.pixels ?? rec.values ?? rec.data;
  const b = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  let h = 2166136261;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619);
  return `${b.length}:${h >>> 0}`;
};
const run = (mod, asset) => {
  const s = new mod.HoloStream(0);
  for (const f of asset.frags) s.push(f, 0);
  const rec = s.reconstruct();
  s.free();
  return digest(rec);
};
const times = mods.map(() => assets.map(() => []));
for (let r = 0; r < rounds + 3; r++) {
  for (const [i, asset] of assets.entries()) {
    const seen = [];
    for (let k = 0; k < mods.length; k++) {
      const m = (k + r) % mods.length;
      const t0 = now();
      const out = run(mods[m].mod, asset);
      const t = now() - t0;
      seen.push(out);
      if (r >= 3) times[m][i].push(t);
    }
    if (new Set(seen).size !== 1) throw new Error(`${asset.name}: the builds decode differently (${seen.join(', ')})`);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [m, { name }] of mods.entries()) {
  const cells = assets.map((a, i) => `${a.name} ${med(times[m][i]).toFixed(1)} (best ${Math.min(...times[m][i]).toFixed(1)})`);
  const all = assets.reduce((s, _, i) => s + med(times[m][i]), 0);
  console.log(`${name.padEnd(36)} all ${all.toFixed(1)} ms | ${cells.join(' | ')}`);
}
