// Where the time to the first preview goes: opens the demo page of a running server in headless
// Chromium under Chromium's own throttling (10 Mbit/s and 40 ms, as web/tests/e2e.test.mjs),
// RUNS times, and prints for each run, in milliseconds after the page's StreamFragments request:
// its response headers, the moment the page has read fragment 0's bytes, the start and end of
// the first `putImageData`, and the page's own `firstPreviewMs` (from just before that request
// to just after the paint). So the link's share (headers, then the body) and the page's (the
// wasm decode of fragment 0 and its preview, then the paint) can be told apart.
//
//   node scripts/first-preview-phases.mjs https://127.0.0.1:8443 [RUNS] [BPS] [LATENCY_MS]
//
// (The server: `haagenti-server --addr 127.0.0.1:8443`; add `--web web/dist` to serve a fresh
// `npx vite build` without rebuilding the server.) Fragment 0 counts as read at the first read
// that brings the bytes read to its size in the manifest's curve (its ~150 bytes of gRPC-web
// and protobuf framing come with it).
import { chromium } from "playwright-core";

const [base, runsArg, bpsArg, latencyArg] = process.argv.slice(2);
if (!base) {
  console.error("usage: node scripts/first-preview-phases.mjs SERVER_URL [RUNS] [BPS] [LATENCY_MS]");
  process.exit(2);
}
const runs = Number(runsArg ?? 5);
const bps = Number(bpsArg ?? 10e6);
const latency = Number(latencyArg ?? 40);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic"],
});
const rows = [];
try {
  for (let run = 0; run < runs; run++) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    await context.addInitScript(() => {
      const log = (window.__phases = []);
      const mark = (what, n = 0) => log.push([performance.now(), what, n]);
      const read = ReadableStreamDefaultReader.prototype.read;
      ReadableStreamDefaultReader.prototype.read = function () {
        return read.call(this).then((r) => (mark("read", r.value ? r.value.length : 0), r));
      };
      const put = CanvasRenderingContext2D.prototype.putImageData;
      CanvasRenderingContext2D.prototype.putImageData = function (...a) {
        mark("put<");
        const r = put.apply(this, a);
        mark("put>");
        return r;
      };
      const fetch = window.fetch;
      window.fetch = function (...a) {
        const url = String(a[0]?.url ?? a[0]);
        const stream = /StreamFragments/.test(url);
        if (stream) mark("request");
        return fetch.apply(this, a).then((r) => (stream && mark("headers"), r));
      };
    });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency,
      downloadThroughput: bps / 8,
      uploadThroughput: bps / 8,
    });
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.__haagenti && window.__haagenti.reason !== null, null, { timeout: 60_000 });
    const state = await page.evaluate(() => window.__haagenti);
    if (state.error) throw new Error(state.error);
    const manifest = await page.evaluate(
      (b) => fetch(`${b}/assets/${window.__haagenti.asset}/manifest.json`).then((r) => r.json()),
      base,
    );
    const log = await page.evaluate(() => window.__phases);
    await context.close();
    const t0 = log.find((e) => e[1] === "request")?.[0];
    const at = (what) => log.find((e) => e[0] >= t0 && e[1] === what)?.[0] - t0;
    // Fragment 0 and its framing: the 5-byte gRPC-web header and the protobuf message's fields.
    const first = manifest.curve.find((p) => p.fragments === 1)?.bytes ?? 0;
    let got = 0;
    let readAt;
    for (const [t, what, n] of log) {
      if (t < t0 || what !== "read" || got >= first) continue;
      got += n;
      readAt = t - t0;
    }
    const row = {
      headers: at("headers"),
      fragment0: readAt,
      paintStart: at("put<"),
      paintEnd: at("put>"),
      firstPreviewMs: state.firstPreviewMs,
    };
    rows.push(row);
    console.log(
      `run ${run + 1}: ${Object.entries(row).map(([k, v]) => `${k} ${v?.toFixed(1)}`).join(", ")}; ` +
        `page's share ${(row.paintStart - row.fragment0).toFixed(1)} ms`,
    );
  }
} finally {
  await browser.close();
}
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[rows.length >> 1];
console.log(
  `median of ${rows.length} (${bps / 1e6} Mbit/s, ${latency} ms): headers ${med("headers").toFixed(1)}, fragment 0 read ` +
    `${med("fragment0").toFixed(1)}, paint ${med("paintStart").toFixed(1)}-${med("paintEnd").toFixed(1)}, first preview ` +
    `${med("firstPreviewMs").toFixed(1)} ms`,
);
