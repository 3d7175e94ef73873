// Node benchmark: our wasm build against @bokuweb/zstd-wasm and fzstd on the inputs that
// make-inputs.mjs builds.
//
//   node decode.mjs [--module ../wasm/haagenti_wasm.js] [--wasm FILE.wasm] [--fn NAME] [--warmup 3] [--rounds 9]
//                   [--runs 7] [--inputs inputs] [--json results/node.json]
//
// Each run is a fresh Node process (the engine tiers up anew): outputs checked, `warmup`
// untimed rounds, `rounds` timed ones. Prints a Markdown table: median MB/s of the runs and
// their range, and our speed over each peer's.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeDecoders } from './decoders.mjs';
import { environment, INPUTS, parseArgs, wasmInfo } from './env.mjs';
import { runOnce, summarize, table } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const opts = parseArgs(process.argv.slice(2), {
  module: join(here, '../wasm/haagenti_wasm.js'),
  wasm: '',
  fn: '',
  warmup: 3,
  rounds: 9,
  runs: 7,
  inputs: join(here, 'inputs'),
  json: join(here, 'results/node.json'),
  child: false,
});
const modulePath = resolve(opts.module);
// The wasm file: --wasm, else the glue's own (NAME_bg.wasm beside NAME.js); the npm build puts
// its simd128 file beside the same glue (--wasm ../wasm/haagenti_wasm_simd_bg.wasm).
const wasmPath = opts.wasm ? resolve(opts.wasm) : modulePath.replace(/\.js$/, '_bg.wasm');

function loadInputs() {
  return INPUTS.map((name) => ({
    name,
    raw: new Uint8Array(readFileSync(join(opts.inputs, name))),
    zst: new Uint8Array(readFileSync(join(opts.inputs, `${name}.zst`))),
  }));
}

async function loadDecoders() {
  const ours = await import(pathToFileURL(modulePath).href);
  const { memory } = ours.initSync({ module: readFileSync(wasmPath) });
  const require = createRequire(import.meta.url);
  const bokuweb = require('@bokuweb/zstd-wasm');
  await bokuweb.init();
  const fzstd = await import('fzstd');
  return { version: typeof ours.version === 'function' ? ours.version() : null, ...makeDecoders({ ours, oursFn: opts.fn || undefined, memory, fzstd, bokuweb }) };
}

if (opts.child) {
  const inputs = loadInputs();
  const { decoders } = await loadDecoders();
  process.stdout.write(JSON.stringify(runOnce(inputs, decoders, opts)));
} else {
  const inputs = loadInputs();
  const { decoders, api, version } = await loadDecoders();
  const env = { ...environment(), runtime: `Node ${process.version}`, module: { ...wasmInfo(wasmPath), version, api } };
  const runs = [];
  for (let r = 0; r < opts.runs; r++) {
    const args = [fileURLToPath(import.meta.url), '--child', '--module', modulePath, '--wasm', wasmPath, '--inputs', opts.inputs,
      '--warmup', String(opts.warmup), '--rounds', String(opts.rounds)];
    if (opts.fn) args.push('--fn', opts.fn);
    runs.push(JSON.parse(execFileSync(process.execPath, args, { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] })));
    process.stderr.write(`run ${r + 1}/${opts.runs} done\n`);
  }
  env.loadavgAfter = environment().loadavg;
  const rows = summarize(inputs, decoders, runs);
  const md = table(rows, decoders);
  console.log(`Node: ${env.date}, ${env.cpu} (${env.cores} cores), load ${env.loadavg} -> ${env.loadavgAfter}`);
  console.log(`${env.runtime}; haagenti ${version} ${api} (${env.module.bytes} B wasm, sha256 ${env.module.sha256}, commit ${env.commit}); ` +
    Object.entries(env.packages).map(([k, v]) => `${k} ${v}`).join(', '));
  console.log(`${opts.runs} runs x (${opts.warmup} warm-up + ${opts.rounds} timed rounds); MB/s median (range over runs), 1 MB = 10^6 decoded bytes\n`);
  console.log(md);
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(opts.json, JSON.stringify({ env, opts, rows, runs }, null, 1));
}
