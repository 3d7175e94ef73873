// The fragment client against servers that misbehave: one that lies about a fragment's bytes,
// one that sends a fragment of another asset, one that stalls mid-answer, one that is not a
// gRPC-web endpoint at all. The real server is tested by the wasm tests and the demo's.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { fragmentId, holoEncodeImage, init, resetClient, streamAsset } from "../dist/node.js";

// Protobuf, by hand: enough to write the two messages the client reads.
function varint(n) {
  const out = [];
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const field = (num, wire, body) => Buffer.concat([varint((num << 3) | wire), body]);
const int = (num, n) => field(num, 0, varint(n));
const bytes = (num, b) => field(num, 2, Buffer.concat([varint(b.length), Buffer.from(b)]));
const str = (num, s) => bytes(num, Buffer.from(s, "utf8"));
const double = (num, x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return field(num, 1, b);
};

function frame(flag, payload) {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}
const trailers = frame(0x80, Buffer.from("grpc-status:0\r\n"));

// A real 4-fragment asset, encoded here.
let fragments;
let ids;

function manifestMessage(name) {
  const parts = [str(1, name), str(3, "residual"), str(8, "psnr_db")];
  ids.forEach((id, i) => parts.push(bytes(5, Buffer.concat([str(1, id), int(2, i), int(3, fragments[i].length)]))));
  let total = 0;
  fragments.forEach((f, i) => {
    total += f.length;
    parts.push(bytes(6, Buffer.concat([int(1, i + 1), int(2, total), double(3, 20 + 5 * i)])));
  });
  return Buffer.concat(parts);
}

function fragmentEvent(asset, id, index, data) {
  return bytes(1, Buffer.concat([str(1, asset), str(2, id), int(3, index), bytes(4, data)]));
}

let server;
let base;
let behaviour = "lie";

before(async () => {
  await init();
  const w = 64;
  const pixels = new Uint8Array(w * w).map((_, i) => (i * 37) % 251);
  fragments = holoEncodeImage(pixels, w, w, 1, { encoding: "residual", fragments: 4 });
  ids = fragments.map((f) => fragmentId(f));
  server = createServer((req, res) => {
    const name = req.url.split("/").pop();
    req.resume();
    req.on("end", () => {
      if (behaviour === "not-grpc") {
        res.writeHead(404, { "content-type": "text/html" });
        res.end("<h1>no such page</h1>");
        return;
      }
      res.writeHead(200, { "content-type": "application/grpc-web+proto" });
      if (behaviour === "stall-manifest" && name === "GetManifest") {
        res.write(frame(0, manifestMessage("a")).subarray(0, 3)); // and nothing more
        return;
      }
      if (name === "GetManifest") {
        res.end(Buffer.concat([frame(0, manifestMessage("a")), trailers]));
        return;
      }
      // StreamFragments.
      const data = Buffer.from(fragments[0]);
      if (behaviour === "lie") {
        data[data.length - 1] ^= 1;
        res.end(Buffer.concat([frame(0, fragmentEvent("a", ids[0], 0, data)), trailers]));
      } else if (behaviour === "other-asset") {
        res.end(Buffer.concat([frame(0, fragmentEvent("b", ids[0], 0, data)), trailers]));
      } else if (behaviour === "stall-stream") {
        res.write(frame(0, fragmentEvent("a", ids[0], 0, data)).subarray(0, 100));
      } else if (behaviour === "huge-frame") {
        const head = Buffer.alloc(5);
        head.writeUInt32BE(0xffffffff, 1);
        res.end(head);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

async function rejects(b, options, pattern) {
  behaviour = b;
  resetClient();
  let previews = 0;
  await assert.rejects(
    streamAsset(base, "a", { transport: "grpc-web", prefetch: false, onPreview: () => previews++, ...options }),
    (e) => {
      assert.ok(e instanceof Error, `${b}: not an Error`);
      assert.match(e.message, pattern, `${b}: ${e.message}`);
      return true;
    },
  );
  assert.equal(previews, 0, `${b}: a bad fragment was painted`);
}

test("a fragment whose bytes do not match its id is refused before use", async () => {
  await rejects("lie", {}, /fragment 0 does not match its id/);
});

test("a fragment of another asset is refused", async () => {
  await rejects("other-asset", {}, /fragment of another asset "b"/);
});

test("a frame longer than the limit is refused from its header", async () => {
  await rejects("huge-frame", {}, /frame of 4294967295 bytes is too large/);
});

test("a server that stalls is given up on after stallTimeoutMs", async () => {
  const start = performance.now();
  await rejects("stall-stream", { stallTimeoutMs: 300 }, /sent nothing for 300 ms/);
  await rejects("stall-manifest", { stallTimeoutMs: 300 }, /GetManifest .*sent nothing for 300 ms/);
  assert.ok(performance.now() - start < 10_000, "the stalls were not cut short");
});

test("an endpoint that is not gRPC-web says so", async () => {
  await rejects("not-grpc", {}, /GetManifest at http:\/\/127\.0\.0\.1:\d+: HTTP 404/);
});

test("warmUp leaves 10 MiB of written memory for the first photo's decode", () => {
  // A fresh process: the module's memory as the page has it at load. `decodeView` returns a
  // view of the module's memory, so its buffer is that memory.
  const script = `
    import { ZstdDecoder, compress, warmUp } from ${JSON.stringify(new URL("../dist/node.js", import.meta.url).href)};
    const frame = compress("zstd", new Uint8Array([1, 2, 3]));
    const d = new ZstdDecoder();
    const size = () => d.decodeView(frame).buffer.byteLength;
    const before = size();
    const ms = warmUp();
    console.log(JSON.stringify({ before, after: size(), ms }));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  const { before, after, ms } = JSON.parse(out);
  assert.ok(ms > 0, `warm-up took ${ms} ms`);
  assert.ok(before < 10 * 2 ** 20, `the module started with ${before} bytes of memory`);
  assert.ok(after >= 10 * 2 ** 20, `after the warm-up the module has ${after} bytes of memory`);
});
