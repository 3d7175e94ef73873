// `haagenti/decode`, the decoder-only entry, in Node: no init step, zstd and HoloTensor decoding
// agreeing with the full entry, and no encoders.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

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

test("decompresses zstd, refuses other formats and corrupt frames", () => {
  for (const level of [1, 3, 19]) {
    assert.deepEqual(decode.decompress(full.compress("zstd", sample, level)), sample);
  }
  assert.throws(() => decode.decompress(full.compress("gzip", sample)), (e) => e instanceof Error && /^zstd:/.test(e.message));
  const packed = full.compress("zstd", sample);
  assert.throws(() => decode.decompress(packed.subarray(0, packed.length - 5)), /^Error: zstd:|zstd:/);
  assert.throws(() => decode.decompress(packed, 1000), /zstd:/);
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
