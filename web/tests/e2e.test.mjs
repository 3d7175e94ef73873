// The demo page in headless Chromium against the real fragment server binary (TLS, the page
// built into the binary): the first photo streams as the page loads and sharpens to the full
// reconstruction, another asset streams when picked, Chromium's own network throttling makes
// the client ask for less, and Ctrl-C stops the server.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { holoStream, init } from "../../npm/dist/node.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const serverBin = process.env.HAAGENTI_SERVER_BIN ?? `${root}/target/debug/haagenti-server`;
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Screenshots of the page at desktop and phone widths land here for a look.
const shots = process.env.HAAGENTI_SCREENSHOTS ?? `${root}/web/test-results`;

let server;
let baseUrl;
let exited;
let browser;

/** GET over the server's self-signed TLS. */
function get(path) {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        else resolve(Buffer.concat(chunks));
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** The asset's final preview decoded here, from every fragment fetched over plain HTTPS. */
async function reconstruction(name) {
  const manifest = JSON.parse(await get(`/assets/${name}/manifest.json`));
  const ids = manifest.fragments.map((f) => (typeof f === "string" ? f : f.id));
  const stream = holoStream();
  let last;
  for (const id of ids) last = stream.push(new Uint8Array(await get(`/fragments/${id}`)), 0) ?? last;
  assert.ok(stream.complete);
  return last;
}

before(async () => {
  assert.ok(existsSync(serverBin), `server binary missing at ${serverBin} (set HAAGENTI_SERVER_BIN)`);
  assert.ok(existsSync(`${root}/web/dist/index.html`), "web/dist missing: run `npm run build` in web/");
  await init();
  // No --web: the page must be the one built into the binary (scripts/test.sh builds the
  // server after the page, and its build script embeds web/dist).
  server = spawn(serverBin, ["--addr", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));
  baseUrl = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${seen}`)), 60_000);
    server.stdout.on("data", (chunk) => {
      seen += chunk;
      const m = seen.match(/listening on (https:\/\/[^/\s]+)\//);
      if (m && /web app built into the server/.test(seen)) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) server.kill("SIGKILL");
});

async function openPage({ query = "", viewport = { width: 1280, height: 900 }, throttle } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  if (throttle) {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: throttle.latencyMs,
      downloadThroughput: throttle.bps / 8,
      uploadThroughput: throttle.bps / 8,
    });
  }
  await page.goto(`${baseUrl}/${query}`);
  return { page, context, errors };
}

/** Waits until the page finished streaming `asset` (or any asset), and returns its state. */
async function finished(page, asset) {
  await page.waitForFunction(
    (a) => {
      const s = window.__haagenti;
      return s && (s.error || (s.reason !== null && (a === undefined || s.asset === a)));
    },
    asset,
    { timeout: 60_000 },
  );
  const state = await page.evaluate(() => window.__haagenti);
  assert.equal(state.error, null, state.error);
  return state;
}

async function canvasPixels(page) {
  return page.evaluate(() => {
    const c = document.getElementById("preview");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height);
    return { width: c.width, height: c.height, data: Array.from(d.data) };
  });
}

let fullRun;

test("the first photo streams as the page loads and sharpens to the full reconstruction", async () => {
  const { page, context, errors } = await openPage();
  try {
    const state = await finished(page);
    fullRun = state;
    assert.equal(state.asset, "photos/astronaut.png");
    assert.equal(state.kind, "image");
    assert.equal(state.complete, true);
    assert.equal(state.reason, "complete");
    assert.equal(state.fragmentsLoaded, state.totalFragments);
    assert.equal(state.totalFragments, 8);
    assert.ok(state.previews >= 2, `${state.previews} previews`);
    for (let i = 1; i < state.qualities.length; i++) {
      assert.ok(state.qualities[i] >= state.qualities[i - 1], `quality dropped: ${state.qualities}`);
    }
    assert.equal(state.backend, "cpu");
    assert.equal(state.wasm, "simd128", "Chromium runs the simd128 build");
    assert.ok(state.firstPreviewMs !== null);

    // The canvas holds exactly the reconstruction from every fragment, decoded here.
    const expected = await reconstruction(state.asset);
    assert.ok(Math.abs(state.quality - expected.quality) < 1e-6, `page quality ${state.quality}, decoded ${expected.quality}`);
    const canvas = await canvasPixels(page);
    assert.deepEqual([canvas.width, canvas.height], [expected.width, expected.height]);
    assert.equal(expected.channels, 4);
    let differ = 0;
    for (let i = 0; i < canvas.data.length; i++) if (canvas.data[i] !== expected.data[i]) differ++;
    assert.equal(differ, 0, `${differ} of ${canvas.data.length} canvas bytes differ from the reconstruction`);

    // The panel says what arrived.
    assert.match(await page.textContent("#s-fragments"), /^8 \/ 8$/);
    assert.match(await page.textContent("#s-quality"), /dB PSNR|exact/);
    assert.match(await page.textContent("#server"), /grpc-web/);

    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/desktop.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("picking the weight tensor streams it as a heat map", async () => {
  const { page, context, errors } = await openPage({ viewport: { width: 390, height: 844 } });
  try {
    await finished(page, "photos/astronaut.png");
    const tensor = await page.$('#gallery button[data-asset^="minilm/"]');
    assert.ok(tensor, "a tensor in the gallery");
    const name = await tensor.getAttribute("data-asset");
    await tensor.click();
    const state = await finished(page, name);
    assert.equal(state.kind, "tensor");
    assert.equal(state.complete, true);
    assert.ok(state.previews >= 2);
    assert.ok(state.quality > 0.99, `cosine ${state.quality}`);
    const canvas = await canvasPixels(page);
    assert.deepEqual([canvas.width, canvas.height], [384, 384]);
    // Prefetching ran after the photo: the page says whether the next asset was ready.
    assert.match(await page.textContent("#s-prefetch"), /ready|not prefetched/);
    await page.screenshot({ path: `${shots}/phone.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("the NCT copy of the weights streams stage by stage", async () => {
  const { page, context, errors } = await openPage();
  try {
    await finished(page, "photos/astronaut.png");
    const button = await page.$('#gallery button[data-asset^="minilm-nct/"]');
    assert.ok(button, "the NCT tensor in the gallery");
    assert.match(await button.textContent(), /NCT stages · 3 fragments/);
    const name = await button.getAttribute("data-asset");
    await button.click();
    const state = await finished(page, name);
    assert.equal(state.kind, "tensor");
    assert.equal(state.totalFragments, 3);
    assert.equal(state.complete, true);
    // A preview a stage, each better than the one before (cosine: 6 bits a weight ends near 0.9997).
    assert.equal(state.previews, 3);
    assert.ok(state.quality > 0.999, `cosine ${state.quality}`);
    assert.match(await page.textContent("#asset-kind"), /nct · 3 fragments/);
    const canvas = await canvasPixels(page);
    assert.deepEqual([canvas.width, canvas.height], [384, 384]);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("at 10 Mbit/s and 40 ms (Chromium's throttling) the client asks for less and still previews quickly", async () => {
  // The largest photo (155 KB) with a 150 ms deadline: on the emulated link it cannot all come
  // in time (40 ms a round trip, 124 ms of transfer), so the client, knowing the link from the
  // first photo, asks for only what fits; unthrottled (loopback) it asks for all at once.
  const asset = "photos/hubble_deep_field.jpg";
  // No prefetching: a try after the first would find the photo's fragments cached (the server
  // learns from the first try that it follows the first photo, and hints it), so it would
  // measure no transfer of its own.
  const query = `?deadline=150&prefetch=0`;
  const run = async (throttle) => {
    const { page, context, errors } = await openPage({ query, throttle });
    try {
      await finished(page, "photos/astronaut.png");
      await page.click(`#gallery button[data-asset="${asset}"]`);
      const state = await finished(page, asset);
      assert.deepEqual(errors, []);
      return state;
    } finally {
      await context.close();
    }
  };
  const runs = {};
  // The comparison needs loopback to be measurably faster than the emulated link. On a loaded
  // 2-core CI machine the client's own measurement of loopback (time to headers, then to the
  // first fragment) can come out near 10 Mbit/s, and then asking for less is the right
  // answer; such a run is printed and measured again (three tries), never counted as fast.
  for (let attempt = 1; attempt <= 3; attempt++) {
    runs.unthrottled = await run(undefined);
    if (runs.unthrottled.bandwidthBps >= 2 * 10e6) break;
    console.log(
      `# unthrottled try ${attempt}: loopback measured at only ${(runs.unthrottled.bandwidthBps / 1e6).toFixed(1)} Mbit/s ` +
        `(the machine is loaded); measuring again`,
    );
  }
  assert.ok(
    runs.unthrottled.bandwidthBps >= 2 * 10e6,
    `loopback never measured faster than 20 Mbit/s in three tries (${runs.unthrottled.bandwidthBps} bit/s)`,
  );
  runs["10 Mbit/s, 40 ms"] = await run({ bps: 10e6, latencyMs: 40 });
  const fast = runs.unthrottled;
  const slow = runs["10 Mbit/s, 40 ms"];
  for (const [label, s] of Object.entries(runs)) {
    console.log(
      `# ${label}: first preview ${s.firstPreviewMs.toFixed(0)} ms after the first fragment request ` +
        `(${s.firstPreviewFromStartMs.toFixed(0)} ms after picking), ${s.fragmentsLoaded}/${s.totalFragments} fragments, ` +
        `${s.bytesLoaded} bytes in ${s.requests} requests (planned ${s.plannedBytes.join(", ")}), ` +
        `bandwidth estimate ${(s.bandwidthBps / 1e6).toFixed(1)} Mbit/s, stopped: ${s.reason}`,
    );
  }
  assert.equal(fast.complete, true, "unthrottled, the whole photo is asked for and comes");
  assert.ok(slow.previews >= 1, "a preview on the slow link");
  assert.ok(slow.fragmentsLoaded < slow.totalFragments, `the slow link got all ${slow.fragmentsLoaded} fragments`);
  assert.ok(slow.plannedBytes[0] < fast.plannedBytes[0], `slow link's first request ${slow.plannedBytes[0]} B, fast ${fast.plannedBytes[0]} B`);
  assert.ok(slow.bytesLoaded < fast.bytesLoaded, `slow link asked for ${slow.bytesLoaded} bytes, fast for ${fast.bytesLoaded}`);
  // The estimate comes from the client's own transfers: near the emulated link's 10 Mbit/s.
  assert.ok(slow.bandwidthBps < 10e6 * 1.5, `estimate ${slow.bandwidthBps} is far above the emulated link`);
  assert.ok(slow.bandwidthBps < fast.bandwidthBps);
});

test("time to first preview of the 512 x 512 photo at 10 Mbit/s and 40 ms", async () => {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const { page, context, errors } = await openPage({ throttle: { bps: 10e6, latencyMs: 40 } });
    try {
      const state = await finished(page, "photos/astronaut.png");
      assert.ok(state.previews >= 1);
      times.push(state.firstPreviewMs);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }
  times.sort((a, b) => a - b);
  // Printed, not asserted: timings belong in reports, not in pass/fail (target under 100 ms).
  console.log(
    `# first preview of photos/astronaut.png (512 x 512) at 10 Mbit/s, 40 ms: median ${times[1].toFixed(0)} ms ` +
      `after the page's first fragment request (runs: ${times.map((t) => t.toFixed(0)).join(", ")} ms)`,
  );
});

test("with WebGPU (SwiftShader here) photos are reconstructed and drawn on the GPU", async () => {
  // Chromium with WebGPU on: the page finds an adapter and says so.
  const gpuBrowser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--enable-unsafe-webgpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const context = await gpuBrowser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${baseUrl}/`);
    const state = await finished(page, "photos/astronaut.png");
    assert.equal(state.backend, "webgpu", `backend ${state.backend}: ${state.gpu}`);
    console.log(`# WebGPU adapter: ${state.gpu}; ${state.gpuPreviews} of ${state.previews} previews drawn on the GPU`);
    assert.equal(state.gpuPreviews, state.previews, "every photo preview on the GPU");
    assert.equal(state.complete, true);
    assert.ok(state.previews >= 2, `${state.previews} previews`);
    for (let i = 1; i < state.qualities.length; i++) {
      assert.ok(state.qualities[i] >= state.qualities[i - 1], `quality dropped: ${state.qualities}`);
    }
    assert.match(await page.textContent("#s-backend"), /^WebGPU/);
    // The WebGPU canvas is the one shown, at the image's size. Its pixels cannot be read here
    // (headless Chromium gives nothing back for a WebGPU canvas, and buffer maps fail once a
    // frame is drawn to one); the kernels' bytes are compared with the CPU's in the same
    // browser by crates/haagenti-gpu/tests/browser.rs, the texture included.
    const shown = await page.evaluate(() => {
      const g = document.getElementById("preview-gpu");
      return { gpu: !g.hidden, cpu: !document.getElementById("preview").hidden, width: g.width, height: g.height };
    });
    assert.deepEqual(shown, { gpu: true, cpu: false, width: 512, height: 512 });
    // The weight tensor still streams, on the CPU path (heat map).
    const tensor = await page.$('#gallery button[data-asset^="minilm/"]');
    const name = await tensor.getAttribute("data-asset");
    await tensor.click();
    const t = await finished(page, name);
    assert.equal(t.kind, "tensor");
    assert.ok(t.previews >= 1);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await gpuBrowser.close();
  }
});

test("Ctrl-C stops the server cleanly", async () => {
  server.kill("SIGINT");
  const { code } = await exited;
  assert.equal(code, 0);
});
