// The decoders under test, from already initialized modules (Node and the page initialize them
// differently). Ours comes first: the ratios are ours over each peer.

/**
 * Picks the fastest zstd entry point the module exports: `fn` when given, else the first of
 * `decompressZstd(data)`, `zstdDecompress(data)`, `decompressFormat("zstd", data)`,
 * `decompress(data)` that exists.
 */
export function oursDecode(mod, fn) {
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

export function makeDecoders({ ours, oursFn, fzstd, bokuweb }) {
  const o = oursDecode(ours, oursFn);
  return {
    api: o.api,
    decoders: [
      { name: 'haagenti', decode: o.decode },
      { name: 'zstd-wasm', decode: (z) => bokuweb.decompress(z) },
      { name: 'fzstd', decode: (z) => fzstd.decompress(z) },
    ],
  };
}
