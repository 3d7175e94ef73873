// A/B of builds of our module in one Node process, alternating per round (for measuring a
// change to the decoder on a noisy machine): prints each build's median and best MB/s per input.
//
//   node ab.mjs build/a/haagenti_wasm.js build/b/haagenti_wasm.js[#FN] [--rounds 15] [--cpu]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { oursDecode } from './decoders.mjs';
import { INPUTS } from './env.mjs';
import { abOptions, sameBytes } from './harness.mjs';

const args = process.argv.slice(2);
const { rounds, now } = abOptions(args, 15);
const mods = [];
for (const arg of args) {
  // PATH.js or PATH.js#FN (an export, or a `retained-*` strategy of the probe module).
  const [p, fn] = arg.split('#');
  // A query string makes each argument its own module instance.
  const mod = await import(pathToFileURL(resolve(p)).href + `?${mods.length}`);
  const wasm = mod.initSync({ module: readFileSync(resolve(p).replace(/\.js$/, '_bg.wasm')) });
  mods.push({ name: arg, decode: oursDecode(mod, fn, wasm.memory).decode });
}
const inputs = INPUTS.map((name) => ({
  name,
  raw: new Uint8Array(readFileSync(new URL(`inputs/${name}`, import.meta.url))),
  zst: new Uint8Array(readFileSync(new URL(`inputs/${name}.zst`, import.meta.url))),
}));
const times = mods.map(() => inputs.map(() => []));
for (let r = 0; r < rounds + 3; r++) {
  for (const [i, input] of inputs.entries()) {
    for (let k = 0; k < mods.length; k++) {
      const m = (k + r) % mods.length;
      const t0 = now();
      const out = mods[m].decode(input.zst);
      const t = now() - t0;
      if (!sameBytes(out, input.raw)) throw new Error(`${mods[m].name} decoded ${input.name} wrongly`);
      if (r >= 3) times[m][i].push(t);
    }
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [m, mod] of mods.entries()) {
  const cells = inputs.map((input, i) => {
    const mb = input.raw.length / 1e3;
    return `${input.name.split('.')[0]} ${(mb / med(times[m][i])).toFixed(0)} (best ${(mb / Math.min(...times[m][i])).toFixed(0)})`;
  });
  const all = inputs.reduce((s, x) => s + x.raw.length, 0) / 1e3 / inputs.reduce((s, _, i) => s + med(times[m][i]), 0);
  console.log(`${mod.name.padEnd(44)} all ${all.toFixed(0)} MB/s | ${cells.join(' | ')}`);
}
