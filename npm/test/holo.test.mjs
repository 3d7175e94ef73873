// HoloTensor in Node through the package: a real photo encoded into fragments, streamed into a
// decoder in a shuffled order with a preview per fragment, and bad fragments refused.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import * as haagenti from "haagenti";

import { psnr, readPng } from "../test-support/png.mjs";

const photo = readPng(await readFile(new URL("../../tests/data/images/chelsea.png", import.meta.url)));

test("a photo streams in any order with a preview per fragment", async () => {
  await haagenti.init();
  const { width, height, channels, pixels } = photo;
  const fragments = haagenti.holoEncodeImage(pixels, width, height, channels, { fragments: 6, quality: 75 });
  assert.equal(fragments.length, 6);
  const stream = haagenti.holoStream({ maxPreviewResolution: 256 });
  assert.equal(stream.fragmentCount, undefined);
  const order = [3, 0, 5, 1, 4, 2];
  const seen = [];
  for (const [i, k] of order.entries()) {
    const frame = stream.push(fragments[k], i * 10);
    assert.ok(frame, `a preview for fragment ${k}`);
    assert.ok(frame.width <= 256 && frame.height <= 256, `${frame.width}x${frame.height}`);
    assert.equal(frame.channels, 4);
    assert.equal(frame.data.length, frame.width * frame.height * 4);
    assert.equal(frame.fragments, i + 1);
    seen.push(psnr(pixels, stream.reconstruct().pixels));
  }
  assert.equal(stream.fragmentCount, 6);
  assert.ok(stream.complete);
  // Every fragment adds detail, and the whole set is what the encoder measured.
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1] - 1e-9, `${seen}`);
  const curve = stream.curve();
  assert.equal(curve.length, 6);
  const full = stream.reconstruct();
  assert.equal(full.kind, "image");
  assert.equal(full.pixels.length, width * height * 3);
  assert.ok(Math.abs(psnr(pixels, full.pixels) - curve[5].quality) < 1e-3, `${psnr(pixels, full.pixels)} ${curve[5].quality}`);
  assert.ok(curve[5].quality > 33, `${curve[5].quality} dB`);
  assert.equal(stream.bytesReceived, curve[5].bytes);
});

test("corrupted, foreign and duplicate fragments", async () => {
  await haagenti.init();
  const { width, height, channels, pixels } = photo;
  const fragments = haagenti.holoEncodeImage(pixels, width, height, channels, { fragments: 3, encoding: "residual" });
  const other = haagenti.holoEncodeImage(pixels.map((p) => 255 - p), width, height, channels, { fragments: 3 });
  const stream = haagenti.holoStream();
  const bad = fragments[1].slice();
  bad[bad.length >> 1] ^= 1;
  assert.throws(() => stream.push(bad, 0), (e) => e instanceof Error && /checksum/i.test(e.message));
  assert.ok(stream.push(fragments[0], 0));
  assert.equal(stream.push(fragments[0], 1), undefined);
  assert.throws(() => stream.push(other[1], 2), /another asset/);
  assert.equal(stream.received, 1);
  assert.match(haagenti.fragmentId(fragments[0]), /^[0-9a-f]{64}$/);
  assert.notEqual(haagenti.fragmentId(fragments[0]), haagenti.fragmentId(fragments[1]));
  assert.throws(() => haagenti.holoEncodeImage(pixels, width, height, channels, { encoding: "jpeg" }), /unknown encoding/);
  // A decoder with a lower limit refuses the photo before allocating for it.
  assert.throws(() => haagenti.holoStream({ maxSamples: 1000 }).push(fragments[0], 0), /passes this decoder's limit of 1000/);
  assert.throws(() => haagenti.holoEncodeImage(pixels.subarray(1), width, height, channels), Error);
});

/** Fragment 0 of another asset (its id changed) whose payload is empty, with a valid checksum. */
function forgedFirst(genuine) {
  const headerLen = new DataView(genuine.buffer, genuine.byteOffset).getUint32(7, true);
  // magic, version, index, header length, header, then an empty payload.
  const body = new Uint8Array(11 + headerLen + 4);
  body.set(genuine.subarray(0, 11 + headerLen));
  body[11] ^= 1;
  const sum = haagenti.fragmentId(body).match(/../g).map((h) => parseInt(h, 16));
  const forged = new Uint8Array(body.length + 32);
  forged.set(body);
  forged.set(sum, body.length);
  return forged;
}

test("a forged first fragment does not lock the stream to its header", async () => {
  await haagenti.init();
  const { width, height, channels, pixels } = photo;
  const fragments = haagenti.holoEncodeImage(pixels, width, height, channels, { fragments: 8, encoding: "residual" });
  const stream = haagenti.holoStream();
  assert.throws(() => stream.push(forgedFirst(fragments[0]), 0), (e) => e instanceof Error && /corrupt/i.test(e.message));
  assert.equal(stream.fragmentCount, undefined);
  assert.equal(stream.received, 0);
  assert.equal(stream.curve(), undefined);
  for (const [i, f] of fragments.entries()) stream.push(f, i + 1);
  assert.equal(stream.received, 8);
  assert.ok(stream.complete);
  assert.deepEqual(stream.reconstruct().pixels, pixels);
});

test("an HCT file that is not one throws", async () => {
  await haagenti.init();
  assert.throws(() => haagenti.openHct(new Uint8Array(100)), Error);
});
