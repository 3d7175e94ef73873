// The timing loop shared by Node (decode.mjs) and the Chromium page (page.html): no Node or DOM
// APIs here, only `performance.now()`.
//
// One run: every decoder's output is checked against the original first (a decoder that
// decodes wrongly throws, and the run fails), then `warmup` rounds are decoded untimed, then
// `rounds` timed rounds. In a round every input is decoded once by every decoder, the order of
// the decoders rotating from round to round so that none always runs first (or right after the
// same peer). The outputs of the timed rounds are checked too, outside the timed region.

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a, b) {
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  // Compare 32-bit words where the buffers allow it, then the tail.
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const n = a.length >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, n);
    const wb = new Uint32Array(b.buffer, b.byteOffset, n);
    for (; i < n; i++) if (wa[i] !== wb[i]) return false;
    i = n << 2;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function check(decoder, input, out) {
  if (!sameBytes(out, input.raw)) {
    const len = out && out.length;
    let at = -1;
    if (out) for (let i = 0; i < Math.min(len, input.raw.length); i++) if (out[i] !== input.raw[i]) { at = i; break; }
    throw new Error(`${decoder.name} decoded ${input.name} wrongly: ${len} bytes (expected ${input.raw.length}), first difference at ${at}`);
  }
}

/**
 * Runs the benchmark once.
 * @param {{name: string, raw: Uint8Array, zst: Uint8Array}[]} inputs
 * @param {{name: string, decode: (zst: Uint8Array) => Uint8Array}[]} decoders
 * @returns {{[input: string]: {[decoder: string]: number[]}}} milliseconds per timed round
 */
export function runOnce(inputs, decoders, { warmup = 3, rounds = 9 } = {}) {
  for (const input of inputs) for (const d of decoders) check(d, input, d.decode(input.zst));
  for (let r = 0; r < warmup; r++) {
    for (const input of inputs) for (const d of decoders) d.decode(input.zst);
  }
  const ms = {};
  for (const input of inputs) {
    ms[input.name] = {};
    for (const d of decoders) ms[input.name][d.name] = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const input of inputs) {
      for (let k = 0; k < decoders.length; k++) {
        const d = decoders[(k + r) % decoders.length];
        const t0 = performance.now();
        const out = d.decode(input.zst);
        const t1 = performance.now();
        check(d, input, out);
        ms[input.name][d.name].push(t1 - t0);
      }
    }
  }
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Summarizes several runs: per input and decoder the median MB/s of each run (1 MB = 10^6
 * bytes of decoded output), then their median and range over the runs; the same for the ratios
 * of the first decoder (ours) to each other one, computed within each run. The row "all" is the
 * whole set: the total decoded bytes over the sum of the per-input median times.
 */
export function summarize(inputs, decoders, runs) {
  const rows = [];
  const names = [...inputs.map((i) => i.name), 'all'];
  const totalBytes = inputs.reduce((s, i) => s + i.raw.length, 0);
  for (const name of names) {
    const perRun = runs.map((ms) => {
      const mbps = {};
      for (const d of decoders) {
        const t = name === 'all'
          ? inputs.reduce((s, i) => s + median(ms[i.name][d.name]), 0)
          : median(ms[name][d.name]);
        const bytes = name === 'all' ? totalBytes : inputs.find((i) => i.name === name).raw.length;
        mbps[d.name] = bytes / 1e6 / (t / 1e3);
      }
      return mbps;
    });
    const input = inputs.find((i) => i.name === name);
    const row = {
      input: name,
      rawBytes: input ? input.raw.length : totalBytes,
      zstBytes: input ? input.zst.length : inputs.reduce((s, i) => s + i.zst.length, 0),
      mbps: {},
      ratio: {},
    };
    for (const d of decoders) {
      const xs = perRun.map((r) => r[d.name]);
      row.mbps[d.name] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
    }
    const ours = decoders[0].name;
    for (const d of decoders.slice(1)) {
      const xs = perRun.map((r) => r[ours] / r[d.name]);
      row.ratio[d.name] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
    }
    rows.push(row);
  }
  return rows;
}

/** A Markdown table of `summarize`'s rows. */
export function table(rows, decoders) {
  const ours = decoders[0].name;
  const peers = decoders.slice(1).map((d) => d.name);
  const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const head = ['input', 'MB', 'zstd ratio', ...decoders.map((d) => `${d.name} MB/s`), ...peers.map((p) => `${ours} / ${p}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) {
    const cells = [
      r.input === 'all' ? '**all**' : r.input,
      (r.rawBytes / 1e6).toFixed(2),
      (r.rawBytes / r.zstBytes).toFixed(2),
      ...decoders.map((d) => {
        const m = r.mbps[d.name];
        return `${f(m.median)} (${f(m.min)}-${f(m.max)})`;
      }),
      ...peers.map((p) => {
        const m = r.ratio[p];
        return `**${m.median.toFixed(2)}x** (${m.min.toFixed(2)}-${m.max.toFixed(2)})`;
      }),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The options of the A/B scripts (`ab.mjs`, `holo-ab.mjs`), taken out of `args` in place:
 * `--rounds N` (default `rounds`) and `--cpu`, which times by the process's CPU time
 * (getrusage) instead of the wall clock: steadier while other processes compete for the cores.
 * Returns the rounds and the clock, in milliseconds.
 */
export function abOptions(args, rounds) {
  const ri = args.indexOf('--rounds');
  if (ri >= 0) rounds = Number(args.splice(ri, 2)[1]);
  const ci = args.indexOf('--cpu');
  const cpu = ci >= 0 && args.splice(ci, 1).length > 0;
  const now = cpu ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; } : () => performance.now();
  return { rounds, now };
}
