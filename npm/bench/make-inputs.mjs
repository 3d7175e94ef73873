// Builds the benchmark inputs from real data in the repository (and the MiniLM weights that
// scripts/fetch-minilm.sh downloads), then compresses each with the reference `zstd` CLI.
//
//   node make-inputs.mjs [--level 3] [--out inputs]
//
// Writes OUT/NAME and OUT/NAME.zst for three kinds of data:
// - text.tar: a tar (sorted, mtime 0) of the corpus texts and HTML (tests/data/corpus) and the
//   Rust sources in tests/data/rust-sources;
// - records.json: JSON records made from real data: every URL of corpus/urls.10K split into its
//   parts, every paragraph of the corpus texts, and every row of the CSV traces in tests/data;
// - weights-bf16.safetensors: encoder layer 0 of all-MiniLM-L6-v2 (float32 in the
//   download) as bfloat16 (each value's high 16 bits, i.e. truncation), in a new safetensors file.
// The weights are read from $HAAGENTI_MINILM, else ~/.cache/haagenti/minilm/model.safetensors,
// fetching them there with scripts/fetch-minilm.sh when absent.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const data = join(repo, 'tests/data');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const level = opt('level', '3');
const out = resolve(opt('out', join(here, 'inputs')));
mkdirSync(out, { recursive: true });

// --- text: a tar of real texts -------------------------------------------------------------
const texts = ['alice29.txt', 'asyoulik.txt', 'html', 'lcet10.txt', 'plrabn12.txt', 'urls.10K'];
const tarArgs = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=ustar'];
execFileSync('tar', [...tarArgs, '-cf', join(out, 'text.tar'), '-C', data,
  ...texts.map((t) => `corpus/${t}`), 'rust-sources']);

// --- JSON: records made from real data -----------------------------------------------------
const records = [];
for (const line of readFileSync(join(data, 'corpus/urls.10K'), 'latin1').split('\n')) {
  if (!line) continue;
  const m = /^(\w+):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?/.exec(line);
  if (!m) continue;
  records.push({ kind: 'url', url: line, scheme: m[1], host: m[2], path: m[3] || '/',
    query: m[4] ? Object.fromEntries(new URLSearchParams(m[4].slice(1))) : null });
}
for (const file of ['alice29.txt', 'asyoulik.txt', 'lcet10.txt', 'plrabn12.txt']) {
  const paragraphs = readFileSync(join(data, 'corpus', file), 'latin1').split(/\r?\n\s*\r?\n/);
  paragraphs.forEach((p, i) => {
    const text = p.replace(/\s+/g, ' ').trim();
    if (text) records.push({ kind: 'paragraph', source: file, index: i, words: text.split(' ').length, text });
  });
}
for (const file of readdirSync(join(data, 'traces')).filter((f) => f.endsWith('.csv')).sort()) {
  const [head, ...rows] = readFileSync(join(data, 'traces', file), 'utf8').trim().split('\n');
  const cols = head.split(',');
  for (const row of rows) {
    const cells = row.split(',');
    const rec = { kind: 'trace', source: file };
    cols.forEach((c, i) => {
      const v = cells[i];
      rec[c] = v !== undefined && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
    });
    records.push(rec);
  }
}
writeFileSync(join(out, 'records.json'), JSON.stringify(records) + '\n');

// --- weights: real model weights as bf16 ---------------------------------------------------
let model = process.env.HAAGENTI_MINILM || join(homedir(), '.cache/haagenti/minilm/model.safetensors');
if (!existsSync(model)) {
  execFileSync('bash', [join(repo, 'scripts/fetch-minilm.sh'), dirname(model)], { stdio: 'inherit' });
}
const st = readFileSync(model);
const headerLen = Number(st.readBigUInt64LE(0));
const header = JSON.parse(st.subarray(8, 8 + headerLen).toString('utf8'));
const chosen = Object.keys(header).filter((k) => /^encoder\.layer\.0\./.test(k)).sort();
const parts = [];
const newHeader = { __metadata__: { source: 'all-MiniLM-L6-v2 (Apache-2.0), encoder layer 0, f32 truncated to bf16' } };
let offset = 0;
for (const name of chosen) {
  const t = header[name];
  if (t.dtype !== 'F32') throw new Error(`${name}: expected F32, got ${t.dtype}`);
  const [a, b] = t.data_offsets;
  const f32 = st.subarray(8 + headerLen + a, 8 + headerLen + b);
  const bf16 = Buffer.alloc(f32.length / 2);
  for (let i = 0, j = 0; i < f32.length; i += 4, j += 2) {
    bf16[j] = f32[i + 2]; // little endian: the high half of each float
    bf16[j + 1] = f32[i + 3];
  }
  newHeader[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bf16.length] };
  offset += bf16.length;
  parts.push(bf16);
}
let headerJson = Buffer.from(JSON.stringify(newHeader));
headerJson = Buffer.concat([headerJson, Buffer.alloc((8 - (headerJson.length % 8)) % 8, 0x20)]);
const lenBuf = Buffer.alloc(8);
lenBuf.writeBigUInt64LE(BigInt(headerJson.length));
writeFileSync(join(out, 'weights-bf16.safetensors'), Buffer.concat([lenBuf, headerJson, ...parts]));

// --- compress with the reference CLI -------------------------------------------------------
const zstdVersion = execFileSync('zstd', ['--version']).toString().trim();
for (const name of ['text.tar', 'records.json', 'weights-bf16.safetensors']) {
  execFileSync('zstd', ['-q', '-f', `-${level}`, join(out, name), '-o', join(out, `${name}.zst`)]);
  const raw = readFileSync(join(out, name)).length;
  const z = readFileSync(join(out, `${name}.zst`)).length;
  console.log(`${name}: ${raw} -> ${z} bytes (zstd -${level}, ratio ${(raw / z).toFixed(2)})`);
}
writeFileSync(join(out, 'SOURCE.txt'), `made by make-inputs.mjs with ${zstdVersion}, level ${level}\n`);
