// Self time per function of a V8 CPU profile (wasm functions appear by their name-section
// names), for looking at where our decoder spends its time:
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof decode.mjs --child --fn decompressFormat \
//        --module build/simd/haagenti_wasm.js --rounds 30 > /dev/null
//   node profile.mjs /tmp/prof/*.cpuprofile [top]
import { readFileSync } from 'node:fs';

const [file, top = '25'] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const n = byId.get(prof.samples[i]);
  const name = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop() || 'anonymous'})`;
  self.set(name, (self.get(name) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const demangle = (s) => s.replace(/^_ZN/, '').replace(/17h[0-9a-f]{16}E$/, '').replace(/\d+([A-Za-z_$][\w$.]*?)(?=\d|$)/g, '$1::');
for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${demangle(name).slice(0, 110)}`);
}
