// The decoders under test, from already initialized modules (Node and the page initialize them
// differently). Ours comes first: the ratios are ours over each peer.

/**
 * Picks the fastest zstd entry point the module exports: `fn` when given, else the first of
 * `decompressZstd(data)`, `zstdDecompress(data)`, `decompressFormat("zstd", data)`,
 * `decompress(data)` that exists. The `retained-*` names use the module's `ZstdDecoder` class
 * (the npm package's `ZstdDecoder`; or the binding prototype in probe/), with the module's
 * `memory`: `retained-view` returns a view of the bytes in wasm memory (no copy; the package's
 * `decodeView`), `retained-copy` a copy in a fresh array (`decode`), `retained-into` copies into
 * an array kept from the previous call of that size (`decodeInto`).
 */
export function oursDecode(mod, fn, memory) {
  if (fn && fn.startsWith('retained-')) return retained(mod, fn, memory);
  if (fn) {
    if (typeof mod[fn] !== 'function') throw new Error(`the module exports no function ${fn}`);
    return { api: fn, decode: fn === 'decompressFormat' ? (z) => mod.decompressFormat('zstd', z) : (z) => mod[fn](z) };
  }
  for (const name of ['decompressZstd', 'zstdDecompress']) {
    if (typeof mod[name] === 'function') return { api: name, decode: (z) => mod[name](z) };
  }
  if (typeof mod.decompressFormat === 'function') {
    return { api: 'decompressFormat("zstd", data)', decode: (z) => mod.decompressFormat('zstd', z) };
  }
  if (typeof mod.decompress === 'function') return { api: 'decompress', decode: (z) => mod.decompress(z) };
  throw new Error('the module exports no zstd decoder');
}

export function makeDecoders({ ours, oursFn, memory, fzstd, bokuweb }) {
  const o = oursDecode(ours, oursFn, memory);
  return {
    api: o.api,
    decoders: [
      { name: 'haagenti', decode: o.decode },
      { name: 'zstd-wasm', decode: (z) => bokuweb.decompress(z) },
      { name: 'fzstd', decode: (z) => fzstd.decompress(z) },
    ],
  };
}

function retained(mod, fn, memory) {
  // The module's `ZstdDecoder` class (what the npm package's `ZstdDecoder` wraps), else the
  // probe's free functions.
  const raw = typeof mod.ZstdDecoder === 'function' ? new mod.ZstdDecoder() : mod;
  if (typeof raw.decodeRetained !== 'function' || !memory) throw new Error(`${fn} needs a module with ZstdDecoder (or the probe) and its memory`);
  const view = (z) => {
    const n = raw.decodeRetained(z); // first: decoding may grow the memory (a new buffer)
    return new Uint8Array(memory.buffer, raw.retainedPtr(), n);
  };
  if (fn === 'retained-view') return { api: fn, decode: view };
  if (fn === 'retained-copy') return { api: fn, decode: (z) => view(z).slice() };
  if (fn === 'retained-into') {
    const kept = new Map();
    return {
      api: fn,
      decode: (z) => {
        const v = view(z);
        let out = kept.get(v.length);
        if (!out) kept.set(v.length, (out = new Uint8Array(v.length)));
        out.set(v);
        return out;
      },
    };
  }
  throw new Error(`unknown ${fn}`);
}
