// Draws the picture whose first fragment the client's `warmUp` decodes
// (crates/haagenti-wasm/src/warm-up.holo): smooth shading, an edge and some noise, so that it
// takes the decoder's paths a photo takes. Regenerate the fragment (after a change of the
// HoloTensor format) with:
//   node npm/scripts/warm-up-picture.mjs /tmp/w.png && haagenti holo encode /tmp/w.png -o /tmp/w
// and copy fragment 0 (the first entry of /tmp/w/manifest.json) to that file.
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

const [w, h] = [256, 256];
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc = (bytes) => {
  let c = 0xffffffff;
  for (const x of bytes) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const typed = Buffer.concat([Buffer.from(type), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc(typed));
  return Buffer.concat([len, typed, sum]);
};
const raw = Buffer.alloc((w * 3 + 1) * h);
let seed = 12345;
const noise = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff - 0.5;
};
for (let y = 0; y < h; y++) {
  const row = y * (w * 3 + 1);
  raw[row] = 0; // filter: none
  for (let x = 0; x < w; x++) {
    const [u, v] = [x / w, y / h];
    const disk = (u - 0.4) ** 2 + (v - 0.45) ** 2 < 0.08 ? 60 : 0;
    const base = 90 + 60 * Math.sin(6 * u + 2 * v) + 30 * Math.cos(17 * v * u) + disk;
    const rgb = [base + 40 * Math.sin(3 * v), base * 0.8 + 20 * Math.cos(9 * u), base * 0.6 + 50 * v];
    for (let c = 0; c < 3; c++) raw[row + 1 + x * 3 + c] = Math.max(0, Math.min(255, Math.round(rgb[c] + 36 * noise())));
  }
}
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(w, 0);
ihdr.writeUInt32BE(h, 4);
ihdr[8] = 8; // bits a sample
ihdr[9] = 2; // RGB
const png = [Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))];
writeFileSync(process.argv[2] ?? "warm-up.png", Buffer.concat(png));
