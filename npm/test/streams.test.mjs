// The decompression streams in Node: every format fed in random-size pieces through
// `pipeThrough`, and corrupt, truncated and oversized input erroring the stream.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";

import * as haagenti from "haagenti";
import * as decode from "haagenti/decode";

const sample = new Uint8Array(await readFile(new URL("../../tests/data/corpus/alice29.txt", import.meta.url)));
const rleFrame = new Uint8Array(
  await readFile(new URL("../../tests/data/zstd/golden-decompression/rle-first-block.zst", import.meta.url)),
);

/** A small deterministic PRNG (xorshift32), so a failure reproduces. */
function prng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** `data` as a stream of pieces of 1 to `max` bytes. */
function pieces(data, seed, max = 5000) {
  const rand = prng(seed);
  let pos = 0;
  return new ReadableStream({
    pull(controller) {
      if (pos >= data.length) {
        controller.close();
        return;
      }
      const n = 1 + rand(max);
      controller.enqueue(data.slice(pos, pos + n));
      pos += n;
    },
  });
}

async function collect(stream) {
  const parts = [];
  let total = 0;
  for await (const part of stream) {
    assert.ok(part instanceof Uint8Array);
    parts.push(part);
    total += part.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const classes = {
  zstd: haagenti.ZstdDecompressionStream,
  lz4: haagenti.Lz4DecompressionStream,
  gzip: haagenti.GzipDecompressionStream,
  zlib: haagenti.ZlibDecompressionStream,
  deflate: haagenti.DeflateDecompressionStream,
  brotli: haagenti.BrotliDecompressionStream,
};

test("every format decodes in random-size pieces", async () => {
  for (const [format, Stream] of Object.entries(classes)) {
    const packed = haagenti.compress(format, sample);
    for (const [seed, max] of [[1, 7], [2, 300], [3, 70000]]) {
      const out = await collect(pieces(packed, seed, max).pipeThrough(new Stream()));
      assert.deepEqual(out, sample, `${format}, seed ${seed}`);
    }
    const generic = await collect(pieces(packed, 9).pipeThrough(new haagenti.HaagentiDecompressionStream(format)));
    assert.deepEqual(generic, sample, `${format} by name`);
  }
});

test("concatenated frames and gzip members all decode", async () => {
  const half = sample.length >> 1;
  for (const format of ["zstd", "lz4", "gzip"]) {
    const a = haagenti.compress(format, sample.subarray(0, half));
    const b = format === "gzip" ? gzipSync(sample.subarray(half)) : haagenti.compress(format, sample.subarray(half));
    const both = new Uint8Array([...a, ...b]);
    const out = await collect(pieces(both, 5, 999).pipeThrough(new classes[format]()));
    assert.deepEqual(out, sample, format);
  }
});

test("output comes in bounded chunks, and an RLE frame expands fully", async () => {
  const stream = pieces(rleFrame, 4, 3).pipeThrough(new haagenti.ZstdDecompressionStream({ chunkSize: 4096 }));
  let total = 0;
  for await (const part of stream) {
    assert.ok(part.length <= 4096, `a chunk of ${part.length} bytes`);
    assert.ok(part.every((b) => b === 0));
    total += part.length;
  }
  assert.equal(total, 1 << 20);
});

test("the decoder-only entry's zstd stream", async () => {
  const packed = haagenti.compress("zstd", sample, 19);
  const out = await collect(pieces(packed, 11, 1000).pipeThrough(new decode.ZstdDecompressionStream()));
  assert.deepEqual(out, sample);
});

function flipped(data, at) {
  const bad = data.slice();
  bad[at] ^= 0x5a;
  return bad;
}

test("corrupt input errors the stream with the format's name", async () => {
  for (const [format, Stream] of Object.entries(classes)) {
    const packed = haagenti.compress(format, sample);
    // A flipped byte in the middle of the data; the LZ4 frames of `compress` carry no
    // checksums, so there the frame descriptor's checksum byte (the lz4 CLI test below flips
    // checksummed data).
    // Raw deflate and brotli have no checksum either: there a reserved block type in the
    // first byte, and a flip in brotli's header (its prefix codes).
    let bad = flipped(packed, format === "lz4" ? 6 : format === "brotli" ? 10 : packed.length >> 1);
    if (format === "deflate") {
      bad = packed.slice();
      bad[0] |= 0b110;
    }
    await assert.rejects(
      collect(pieces(bad, 6, 500).pipeThrough(new Stream())),
      (e) => e instanceof Error && e.message.startsWith(`${format} stream:`),
      format,
    );
    // Garbage from the first byte.
    await assert.rejects(collect(pieces(new Uint8Array(64).fill(0x33), 7).pipeThrough(new Stream())), Error, `${format} garbage`);
  }
  await assert.rejects(
    collect(pieces(flipped(rleFrame, 0), 1).pipeThrough(new decode.ZstdDecompressionStream())),
    /zstd stream:/,
  );
});

test("truncated input errors the stream", async () => {
  for (const [format, Stream] of Object.entries(classes)) {
    const packed = haagenti.compress(format, sample);
    for (const cut of [1, 3, packed.length >> 1, packed.length - 1]) {
      await assert.rejects(
        collect(pieces(packed.subarray(0, cut), cut, 400).pipeThrough(new Stream())),
        (e) => e instanceof Error && e.message.startsWith(`${format} stream:`),
        `${format} cut at ${cut}`,
      );
    }
  }
});

test("data after the end of a stream errors it", async () => {
  for (const format of ["zlib", "deflate", "brotli"]) {
    const packed = haagenti.compress(format, sample);
    const extra = new Uint8Array([...packed, 1, 2, 3]);
    await assert.rejects(collect(pieces(extra, 8).pipeThrough(new classes[format]())), /after the end/, format);
  }
});

test("maxOutput and maxWindow bound the stream", async () => {
  await assert.rejects(
    collect(pieces(rleFrame, 2).pipeThrough(new haagenti.ZstdDecompressionStream({ maxOutput: 1000 }))),
    /limit of 1000 bytes/,
  );
  for (const format of ["gzip", "brotli", "lz4"]) {
    await assert.rejects(
      collect(pieces(haagenti.compress(format, sample), 3).pipeThrough(new classes[format]({ maxOutput: 5000 }))),
      /limit of 5000 bytes/,
      format,
    );
  }
  // The sample's frame asks for a window bigger than 1 KiB.
  await assert.rejects(
    collect(pieces(haagenti.compress("zstd", sample), 2).pipeThrough(new decode.ZstdDecompressionStream({ maxWindow: 1024 }))),
    /zstd stream:.*window/i,
  );
});

test("writes wait for the reader (backpressure)", async () => {
  const s = new haagenti.ZstdDecompressionStream({ chunkSize: 1024 });
  const writer = s.writable.getWriter();
  let written = false;
  const write = writer.write(rleFrame).then(() => {
    written = true;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(written, false, "the write finished with nobody reading 1 MiB of output");
  const reader = s.readable.getReader();
  let total = 0;
  const closing = write.then(() => writer.close());
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
  }
  await closing;
  assert.equal(total, 1 << 20);
});

test("a bad format name and non-byte chunks are errors", async () => {
  assert.throws(() => new haagenti.HaagentiDecompressionStream("zip"), /unknown stream format/);
  const s = new haagenti.ZstdDecompressionStream();
  const writer = s.writable.getWriter();
  await assert.rejects(writer.write("not bytes"), TypeError);
  await assert.rejects(s.readable.getReader().read(), TypeError);
});

const lz4Cli = spawnSync("lz4", ["--version"]).status === 0;

test("frames of the reference lz4 CLI: linked blocks, checksums, content size", { skip: !lz4Cli && "no lz4 CLI" }, async () => {
  const data = new Uint8Array([...sample, ...sample, ...sample]);
  for (const flags of [["-B4", "-BD"], ["-B4", "-BX", "--content-size"], ["-B5", "--no-frame-crc"], ["-B7", "-BD", "-BX"]]) {
    const r = spawnSync("lz4", ["-c", "-q", ...flags], { input: data, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.toString());
    const packed = new Uint8Array(r.stdout);
    const out = await collect(pieces(packed, 12, 3000).pipeThrough(new haagenti.Lz4DecompressionStream()));
    assert.deepEqual(out, data, flags.join(" "));
    if (!flags.includes("--no-frame-crc") || flags.includes("-BX")) {
      const bad = flipped(packed, packed.length >> 1);
      await assert.rejects(collect(pieces(bad, 13, 3000).pipeThrough(new haagenti.Lz4DecompressionStream())), /lz4 stream:/, flags.join(" "));
    }
  }
});

test("the README's stream example", async () => {
  const packed = haagenti.compress("zstd", new TextEncoder().encode("streamed ".repeat(100000)));
  const out = new Response(new Blob([packed]).stream().pipeThrough(new haagenti.ZstdDecompressionStream()));
  assert.equal((await out.arrayBuffer()).byteLength, 900000);
});
