// The package's API in Node, imported by its own name (resolved through the exports map).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import * as haagenti from "haagenti";

const sample = await readFile(new URL("../../tests/data/corpus/alice29.txt", import.meta.url));
const rleFrame = await readFile(
  new URL("../../tests/data/zstd/golden-decompression/rle-first-block.zst", import.meta.url),
);

test("in Node the module is loaded on import: no init step", () => {
  assert.match(haagenti.version(), /^\d+\.\d+\.\d+$/);
  assert.equal(haagenti.variant(), "full");
  assert.deepEqual(haagenti.decompress(haagenti.compress("zstd", sample)), new Uint8Array(sample));
});

test("init stays callable and harmless", async () => {
  await haagenti.init();
  await haagenti.init();
  assert.match(haagenti.version(), /^\d+\.\d+\.\d+$/);
});

test("the browser entry throws a clear error before init, and works after it", () => {
  // In a fresh process: here the Node entry has already loaded the shared module.
  const script = `
    import { readFileSync } from "node:fs";
    const m = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
    try { m.version(); console.log("no error"); } catch (e) { console.log(e.message); }
    m.initSync(readFileSync(m.wasmUrl()));
    console.log(m.version());
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim().split("\n");
  assert.match(out[0], /call `await init\(\)`/);
  assert.match(out[1], /^\d+\.\d+\.\d+$/);
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
