// What a result was measured with: date, machine, load, versions (Node side; the Chromium
// runner adds the browser's version).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const tryRun = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { cwd: here, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
};

export function cpuModel() {
  const lscpu = tryRun('lscpu', []);
  const m = lscpu && /^Model name:\s*(.+)$/m.exec(lscpu);
  return m ? m[1].trim() : cpus()[0]?.model ?? 'unknown';
}

export function pkgVersion(name) {
  return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** The module's wasm file: path, size and the first 12 hex digits of its SHA-256. */
export function wasmInfo(wasmPath) {
  const bytes = readFileSync(wasmPath);
  return { path: wasmPath, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex').slice(0, 12) };
}

export function environment() {
  const commit = tryRun('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = tryRun('git', ['status', '--porcelain', '--', '../../crates']);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: loadavg().map((x) => x.toFixed(2)).join(' '),
    node: process.version,
    commit: commit ? commit + (dirty ? ' (crates modified)' : '') : null,
    packages: Object.fromEntries(['fzstd', '@bokuweb/zstd-wasm', 'playwright-core'].map((p) => [p, pkgVersion(p)])),
  };
}

export function parseArgs(argv, defaults) {
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (!(key in defaults)) throw new Error(`unknown option ${a} (known: ${Object.keys(defaults).map((k) => '--' + k).join(' ')})`);
    if (typeof defaults[key] === 'boolean') opts[key] = true;
    else opts[key] = typeof defaults[key] === 'number' ? Number(argv[++i]) : argv[++i];
  }
  return opts;
}

export const INPUTS = ['text.tar', 'records.json', 'weights-bf16.safetensors'];
