// `haagenti/decode`, the decoder-only entry, in Node: no init step, zstd and HoloTensor decoding
// agreeing with the full entry, and no encoders.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

import * as decode from "haagenti/decode";
import * as full from "haagenti";

const sample = new Uint8Array(await readFile(new URL("../../tests/data/corpus/alice29.txt", import.meta.url)));

test("works on import, and is the decoder-only module", async () => {
  assert.equal(decode.variant(), "decode");
  assert.match(decode.version(), /^\d+\.\d+\.\d+$/);
  await decode.init(); // harmless
  assert.equal(decode.variant(), "decode");
  for (const name of ["compress", "decompressFormat", "openHct", "holoEncodeImage", "healthCheck", "GzipDecompressionStream"]) {
    assert.equal(decode[name], undefined, `${name} is exported`);
  }
});

// The decoder-only files' size budget: the issue's target is under 60 KB gzipped and 100 KB the
// floor. The budget sits a little above what has been reached (Node's gzip -9 in the CI run at
// ca7219a: 65.2 KB baseline, 67.3 KB simd128; npm/README.md has the sizes), leaving room for
// toolchain drift, so a change that makes the module markedly larger fails here and has to
// raise the budget on purpose.
// Raised from 68 KiB on 2026-12-07 on purpose: spectral previews made a row of blocks at a time
// into RGBA (+1.7 KB in the simd128 file) decode the first 512 x 512 preview 28% faster. Back to
// 68 KiB on 2026-12-08 (session 18) after the entropy coder's model tables were copied from
// `const` items and three helpers were no longer inlined everywhere (-2.5 KB): 64.8 KB
// baseline, 66.9 KB simd128. 66 KiB on 2026-12-08 (session 19): a smaller BLAKE3 of our own
// in the wasm builds, the range decoder's renormalization out of line, one tensor
// reconstruction for every encoding, one copy of the chroma upsampler's taps, wasm-opt -Oz
// (-2.5 KB): 62.4 KB baseline, 64.2 KB simd128 (gzip -9; Node's gzip: 62.7 / 64.6).
const DECODE_GZIP_BUDGET = 66 * 1024;

test("the decoder-only wasm files stay within their gzipped size budget", async () => {
  for (const file of ["haagenti_wasm_bg.wasm", "haagenti_wasm_simd_bg.wasm"]) {
    const wasm = await readFile(new URL(`../wasm-decode/${file}`, import.meta.url));
    const gz = gzipSync(wasm, { level: 9 }).length;
    console.log(`# wasm-decode/${file}: ${wasm.length} bytes, ${gz} gzipped (budget ${DECODE_GZIP_BUDGET})`);
    assert.ok(gz <= DECODE_GZIP_BUDGET, `wasm-decode/${file} is ${gz} bytes gzipped, over the budget of ${DECODE_GZIP_BUDGET}`);
  }
});

test("decompresses zstd, refuses other formats and corrupt frames", () => {
  for (const level of [1, 3, 19]) {
    assert.deepEqual(decode.decompress(full.compress("zstd", sample, level)), sample);
  }
  assert.throws(() => decode.decompress(full.compress("gzip", sample)), (e) => e instanceof Error && /^zstd:/.test(e.message));
  const packed = full.compress("zstd", sample);
  assert.throws(() => decode.decompress(packed.subarray(0, packed.length - 5)), /^Error: zstd:|zstd:/);
  assert.throws(() => decode.decompress(packed, 1000), /zstd:/);
});

test("fragment ids are BLAKE3 (the wasm builds' own implementation against the reference)", () => {
  // Expected values from the BLAKE3 team's Python package (`pip install blake3`), which wraps
  // their Rust implementation: the empty input, 5000 bytes (five chunks, a partial last one),
  // and 2^20 + 1 bytes (a tree 11 levels deep with a one-byte chunk at its right edge).
  const bytes = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 255);
  const cases = [
    [0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"],
    [5000, "95e02bdb5a4281ea7d08d8754ecbad60334a07abf371f44bef88e3b78bb1c6a8"],
    [(1 << 20) + 1, "cef66732367bbca6bc72bbb8056583f6c10c71e03d56b188272fa332fbacddd5"],
  ];
  for (const [n, want] of cases) {
    assert.equal(decode.fragmentId(bytes(n)), want, `${n} bytes, decoder-only module`);
    assert.equal(full.fragmentId(bytes(n)), want, `${n} bytes, full module`);
  }
});

test("HoloTensor fragments decode as in the full module", () => {
  const width = 128;
  const height = 96;
  const pixels = sample.subarray(0, width * height);
  const fragments = full.holoEncodeImage(pixels, width, height, 1, { fragments: 4, encoding: "residual" });
  const stream = decode.holoStream({ maxPreviewResolution: 64 });
  for (const [i, f] of fragments.entries()) {
    assert.equal(decode.fragmentId(f), full.fragmentId(f));
    // Byte by byte would be pointless here: fragments are whole messages; push them in reverse.
    const frame = stream.push(fragments[fragments.length - 1 - i], i);
    assert.ok(frame, `a preview after ${i + 1} fragments`);
  }
  assert.ok(stream.complete);
  assert.deepEqual(stream.reconstruct().pixels, pixels);
  const bad = fragments[0].slice();
  bad[40] ^= 0x10;
  assert.throws(() => decode.holoStream().push(bad, 0), Error);
});

test("ZstdDecoder: a view, an array of the caller's and a copy, in both modules; errors and limits", () => {
  // Larger than `sample`, so the retained buffer grows between calls.
  const text = new Uint8Array([...sample, ...sample.subarray(0, 50000).reverse()]);
  const packed = full.compress("zstd", text, 3);
  const two = new Uint8Array([...full.compress("zstd", sample, 1), ...packed]);
  for (const mod of [decode, full]) {
    const d = new mod.ZstdDecoder();
    const view = d.decodeView(packed);
    assert.deepEqual(view, text);
    const kept = view.slice();
    // Frames one after another decode as one output; the same buffer serves every call.
    assert.deepEqual(d.decode(two), new Uint8Array([...sample, ...text]));
    assert.deepEqual(kept, text);
    const out = new Uint8Array(text.length + 10).fill(7);
    assert.equal(d.decodeInto(packed, out), text.length);
    assert.deepEqual(out.subarray(0, text.length), text);
    assert.deepEqual(out.subarray(text.length), new Uint8Array(10).fill(7));
    assert.throws(() => d.decodeInto(packed, new Uint8Array(text.length - 1)), RangeError);
    assert.throws(() => d.decode(packed.subarray(0, packed.length - 3)), /zstd:/);
    assert.throws(() => d.decode(full.compress("gzip", sample)), /zstd:/);
    // Still usable after errors, and after its buffer is released.
    assert.deepEqual(d.decode(packed), text);
    d.releaseBuffer();
    assert.equal(d.decodeView(new Uint8Array(0)).length, 0);
    assert.deepEqual(d.decode(packed), text);
    const small = new mod.ZstdDecoder({ maxOutput: 1000 });
    assert.throws(() => small.decode(packed), /zstd:/);
    assert.deepEqual(small.decode(full.compress("zstd", sample.subarray(0, 1000))), sample.subarray(0, 1000));
    d.free();
    d.free();
    assert.throws(() => d.decode(packed), /freed/);
    small.free();
  }
});

