// The package's API in Node, imported by its own name (resolved through the exports map).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import * as haagenti from "haagenti";

const sample = await readFile(new URL("../../tests/data/corpus/alice29.txt", import.meta.url));
const rleFrame = await readFile(
  new URL("../../tests/data/zstd/golden-decompression/rle-first-block.zst", import.meta.url),
);

test("using the codecs before init throws a clear error", () => {
  assert.throws(() => haagenti.version(), /call `await init\(\)`/);
});

test("init loads the module", async () => {
  await haagenti.init();
  assert.match(haagenti.version(), /^\d+\.\d+\.\d+$/);
});

test("every writable format round-trips the sample", async () => {
  await haagenti.init();
  for (const format of ["zstd", "lz4", "lz4-block", "gzip", "zlib", "deflate", "brotli"]) {
    const packed = haagenti.compress(format, sample);
    assert.ok(packed.length < sample.length * 0.75, `${format} did not compress`);
    assert.deepEqual(haagenti.decompressFormat(format, packed), new Uint8Array(sample), format);
  }
});

test("format detection and reference zstd", async () => {
  await haagenti.init();
  const gz = haagenti.compress("gzip", sample, 9);
  assert.equal(haagenti.detectFormat(gz), "gzip");
  assert.equal(haagenti.detectFormat(rleFrame), "zstd");
  const out = haagenti.decompress(rleFrame);
  assert.equal(out.length, 1 << 20);
  assert.ok(out.every((b) => b === 0));
});

test("bad input throws Error with a useful message", async () => {
  await haagenti.init();
  const gz = haagenti.compress("gzip", sample);
  assert.throws(() => haagenti.decompress(gz.subarray(0, 100)), (e) => e instanceof Error && /gzip/.test(e.message));
  assert.throws(() => haagenti.decompress(gz, 1000), /limit of 1000 bytes/);
  assert.throws(() => haagenti.decompress(new Uint8Array([1, 2, 3, 4, 5])), /unrecognized format/);
  assert.throws(() => haagenti.compress("gzip", sample, 42), /level 42/);
  assert.throws(() => haagenti.compress("zstd", sample, 99), /level 99/);
});
