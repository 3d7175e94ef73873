// The demo: a gallery of the server's assets; the chosen one streams adaptively and the canvas
// sharpens as fragments arrive. State for tests is mirrored on `window.__haagenti`.
import {
  backend,
  clientStats,
  enableWebGpu,
  getManifest,
  healthCheck,
  init,
  listAssets,
  prefetchAssets,
  readWebGpuPixels,
  streamAsset,
  warmUp,
  type AssetManifest,
  type AssetSummary,
  type StreamPreview,
  type StreamProgress,
} from "haagenti";

interface DemoState {
  asset: string | null;
  kind: string | null;
  fragmentsLoaded: number;
  totalFragments: number;
  bytesLoaded: number;
  previews: number;
  /** Previews reconstructed and drawn on WebGPU. */
  gpuPreviews: number;
  quality: number;
  /** Quality of every preview shown for the current asset, in order. */
  qualities: number[];
  /** Where previews are reconstructed: "webgpu" or "cpu". */
  backend: string;
  /** The WebGPU adapter, or why there is none. */
  gpu: string | null;
  /** Which WebAssembly build loaded: "simd128" or "baseline". */
  wasm: string;
  /** Milliseconds from the first fragment request to the first preview painted. */
  firstPreviewMs: number | null;
  /** Milliseconds from choosing the asset to the first preview painted. */
  firstPreviewFromStartMs: number | null;
  complete: boolean;
  reason: string | null;
  transport: string | null;
  bandwidthBps: number;
  /** Bytes the policy asked for, request by request. */
  plannedBytes: number[];
  requests: number;
  prefetchReady: boolean;
  fromCache: number;
  throttleBps: number;
  dataSaver: boolean;
  /** The deadline budget, milliseconds (0: none). */
  deadlineMs: number;
  /** Streams finished (any asset). */
  streams: number;
  error: string | null;
}

/** The fields that describe one asset's stream, as they are before it starts. */
function freshStream(asset: string | null) {
  return {
    asset,
    kind: null,
    fragmentsLoaded: 0,
    totalFragments: 0,
    bytesLoaded: 0,
    previews: 0,
    gpuPreviews: 0,
    quality: 0,
    qualities: [] as number[],
    firstPreviewMs: null,
    firstPreviewFromStartMs: null,
    complete: false,
    reason: null,
    plannedBytes: [] as number[],
    requests: 0,
    prefetchReady: false,
    fromCache: 0,
    error: null,
  };
}

const state: DemoState = {
  ...freshStream(null),
  backend: "cpu",
  gpu: null,
  wasm: "",
  transport: null,
  bandwidthBps: 0,
  throttleBps: 0,
  dataSaver: false,
  deadlineMs: 0,
  streams: 0,
};
(window as unknown as { __haagenti: DemoState }).__haagenti = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const server = location.origin;
const preview = $<HTMLCanvasElement>("preview");
const ctx = preview.getContext("2d")!;
// Where WebGPU draws spectral images (shown in place of the 2-D canvas while it is in use).
const gpuCanvas = document.createElement("canvas");
gpuCanvas.id = "preview-gpu";
gpuCanvas.className = preview.className;
gpuCanvas.hidden = true;
preview.after(gpuCanvas);

function showCanvas(gpu: boolean): void {
  gpuCanvas.hidden = !gpu;
  preview.hidden = gpu;
}

let assets: AssetSummary[] = [];
let manifest: AssetManifest | null = null;
let current: AbortController | null = null;
let reached: { bytes: number; quality: number }[] = [];

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

function fmtBps(bps: number): string {
  if (!bps) return "-";
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(1)} Gbit/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
  return `${(bps / 1e3).toFixed(0)} kbit/s`;
}

function isTensor(): boolean {
  return manifest?.kind === "tensor";
}

function fmtQuality(q: number): string {
  if (!q) return "-";
  if (isTensor()) return `cosine ${q.toFixed(4)}`;
  return q >= 99 ? "exact" : `${q.toFixed(1)} dB PSNR`;
}

function text(id: string, value: string): void {
  $(id).textContent = value;
}

function showStats(p: StreamProgress): void {
  state.fragmentsLoaded = p.fragmentsLoaded;
  state.totalFragments = p.totalFragments;
  state.bytesLoaded = p.bytesLoaded;
  state.bandwidthBps = p.bandwidthBps;
  state.transport = p.transport;
  state.requests = p.requests;
  text("s-fragments", `${p.fragmentsLoaded} / ${p.totalFragments}`);
  const total = manifest ? manifest.fragments.reduce((s, f) => s + f.size, 0) : 0;
  text("s-bytes", `${fmtBytes(p.bytesLoaded)} of ${fmtBytes(total)}`);
  text("s-bandwidth", `${fmtBps(p.bandwidthBps)}${state.throttleBps ? ` (link ${fmtBps(state.throttleBps)})` : ""}`);
  text(
    "s-policy",
    `${p.requests} request${p.requests === 1 ? "" : "s"} over ${p.transport}, last asked ${fmtBytes(p.plannedBytes)}`,
  );
  $("bar-fill").style.width = `${total ? (100 * p.bytesLoaded) / total : 0}%`;
}

// A diverging map for weights: blue below zero, red above, white near zero.
function heatMap(values: Float32Array, rows: number, cols: number): ImageData {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  const scale = max > 0 ? 1 / max : 0;
  const img = new ImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const t = Math.max(-1, Math.min(1, values[i] * scale));
    const a = Math.sqrt(Math.abs(t));
    const j = i * 4;
    if (t >= 0) {
      img.data[j] = 255;
      img.data[j + 1] = 255 * (1 - a);
      img.data[j + 2] = 255 * (1 - a);
    } else {
      img.data[j] = 255 * (1 - a);
      img.data[j + 1] = 255 * (1 - a * 0.6);
      img.data[j + 2] = 255;
    }
    img.data[j + 3] = 255;
  }
  return img;
}

function paint(p: StreamPreview): void {
  // WebGPU drew it onto its canvas already (its size set to the image's).
  showCanvas(Boolean(p.gpu));
  if (p.gpu) return;
  let img: ImageData | undefined = p.imageData;
  const shape = manifest?.shape ?? [];
  if (p.values && shape.length === 2 && shape[0] * shape[1] === p.values.length) {
    img = heatMap(p.values, shape[0], shape[1]);
  }
  if (!img) return;
  if (preview.width !== img.width || preview.height !== img.height) {
    preview.width = img.width;
    preview.height = img.height;
  }
  ctx.putImageData(img, 0, 0);
}

function drawPlot(): void {
  const plot = $<HTMLCanvasElement>("plot");
  const g = plot.getContext("2d")!;
  const { width: w, height: h } = plot;
  g.clearRect(0, 0, w, h);
  if (!manifest) return;
  const pad = { l: 44, r: 12, t: 12, b: 28 };
  const total = manifest.fragments.reduce((s, f) => s + f.size, 0) || 1;
  const tensor = isTensor();
  const cap = (q: number) => (tensor ? q : Math.min(q, 60));
  const points = [...manifest.curve].sort((a, b) => a.fragments - b.fragments);
  const qs = points.map((p) => cap(p.quality));
  const lo = Math.min(...qs);
  const hi = Math.max(...qs);
  const qmin = tensor ? Math.max(-1, Math.min(lo - 0.02, 0.9)) : Math.max(0, Math.floor(lo) - 3);
  const qmax = tensor ? 1 : Math.ceil(hi) + 1;
  const x = (b: number) => pad.l + ((w - pad.l - pad.r) * b) / total;
  const y = (q: number) => h - pad.b - ((h - pad.t - pad.b) * (cap(q) - qmin)) / (qmax - qmin || 1);
  g.strokeStyle = "#262b36";
  g.fillStyle = "#8b93a7";
  g.font = "11px system-ui";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const q = qmin + ((qmax - qmin) * i) / 4;
    g.beginPath();
    g.moveTo(pad.l, y(q));
    g.lineTo(w - pad.r, y(q));
    g.stroke();
    g.fillText(tensor ? q.toFixed(3) : `${q.toFixed(1)} dB`, 4, y(q) + 4);
  }
  g.fillText("0", pad.l, h - 8);
  g.fillText(fmtBytes(total), w - pad.r - 50, h - 8);
  g.strokeStyle = "#60a5fa";
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(x(0), y(qmin));
  for (const p of points) g.lineTo(x(p.bytes), y(p.quality));
  g.stroke();
  g.fillStyle = "#6ee7b7";
  for (const r of reached) {
    g.beginPath();
    g.arc(x(r.bytes), y(r.quality), 4.5, 0, Math.PI * 2);
    g.fill();
  }
}

function renderGallery(): void {
  const list = $("gallery");
  list.replaceChildren();
  for (const a of assets) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.dataset.asset = a.name;
    b.setAttribute("aria-current", String(a.name === state.asset));
    const thumb = document.createElement("div");
    thumb.className = "thumb";
    const seen = thumbs.get(a.name);
    if (seen) thumb.style.backgroundImage = `url(${seen})`;
    else thumb.textContent = a.kind === "tensor" ? "weights" : "photo";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = a.name.replace(/^photos\//, "");
    const meta = document.createElement("span");
    meta.className = "meta";
    const kind = a.encoding === "nct" ? "weights · NCT stages" : a.kind;
    meta.textContent = `${kind} · ${a.fragmentCount} fragments · ${fmtBytes(a.totalBytes)}`;
    b.append(thumb, name, meta);
    b.addEventListener("click", () => void open(a.name));
    li.append(b);
    list.append(li);
  }
}

/** Thumbnails of the assets streamed so far, as data URLs. */
const thumbs = new Map<string, string>();

async function setThumb(name: string): Promise<void> {
  let source = preview;
  if (!gpuCanvas.hidden) {
    // The last WebGPU image, read back once for its thumbnail.
    const pixels = await readWebGpuPixels();
    source = document.createElement("canvas");
    source.width = gpuCanvas.width;
    source.height = gpuCanvas.height;
    source.getContext("2d")!.putImageData(new ImageData(new Uint8ClampedArray(pixels), source.width, source.height), 0, 0);
  }
  const url = source.toDataURL("image/jpeg", 0.7);
  thumbs.set(name, url);
  const b = document.querySelector<HTMLElement>(`#gallery button[data-asset="${CSS.escape(name)}"] .thumb`);
  if (b) {
    b.style.backgroundImage = `url(${url})`;
    b.textContent = "";
  }
}

async function open(name: string): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const started = performance.now();
  let requestAt: number | null = null;
  Object.assign(state, freshStream(name));
  reached = [];
  renderGallery();
  text("asset-name", name);
  text("badge", "connecting");
  try {
    manifest = await getManifest(server, name);
    if (controller.signal.aborted) return;
    state.kind = manifest.kind;
    const size = manifest.kind === "image" ? `${manifest.width} x ${manifest.height}` : `${manifest.dtype} [${manifest.shape?.join(" x ")}]`;
    text("asset-kind", `${manifest.kind} · ${size} · ${manifest.encoding} · ${manifest.fragments.length} fragments`);
    text("s-quality-label", isTensor() ? "Cosine vs original" : "PSNR vs original");
    drawPlot();
    const result = await streamAsset(server, name, {
      signal: controller.signal,
      session: sessionId,
      throttleBps: state.throttleBps,
      webgpu: state.backend === "webgpu",
      budget: { dataSaver: state.dataSaver, maxTimeMs: state.deadlineMs || undefined },
      prefetch,
      onProgress: (p) => {
        if (requestAt === null && p.requests > 0) requestAt = performance.now();
        if (p.requests > state.plannedBytes.length) state.plannedBytes.push(p.plannedBytes);
        showStats(p);
      },
      onPreview: (p) => {
        if (controller.signal.aborted) return;
        paint(p);
        const now = performance.now();
        if (state.previews === 0) {
          state.firstPreviewMs = requestAt === null ? 0 : now - requestAt;
          state.firstPreviewFromStartMs = now - started;
          text("s-first", `${state.firstPreviewMs.toFixed(0)} ms after the first request`);
        }
        state.previews += 1;
        if (p.gpu) state.gpuPreviews += 1;
        state.quality = p.quality;
        state.qualities.push(p.quality);
        reached.push({ bytes: p.bytesLoaded, quality: p.quality });
        text("s-quality", fmtQuality(p.quality));
        text("badge", `${p.fragmentsLoaded}/${p.totalFragments} · ${fmtQuality(p.quality)}`);
        showStats(p);
        drawPlot();
      },
    });
    if (controller.signal.aborted) return;
    state.complete = result.complete;
    state.reason = result.reason;
    state.fromCache = result.fromCache;
    state.prefetchReady = result.fromCache > 0;
    text(
      "s-prefetch",
      result.fromCache > 0 ? `ready: ${result.fromCache} fragment${result.fromCache === 1 ? "" : "s"} were cached` : "not prefetched",
    );
    showStats(result);
    text("badge", result.complete ? `complete · ${fmtQuality(state.quality)}` : `${result.reason} · ${fmtQuality(state.quality)}`);
    void setThumb(name).catch(() => {});
    state.streams += 1;
    // Prefetch what the server expects next, or else the next asset of the gallery.
    const next = result.prefetchHints.length ? result.prefetchHints : nextInGallery(name);
    if (prefetch) void prefetchAssets(server, next).catch(() => {});
  } catch (e) {
    if (controller.signal.aborted) return;
    state.error = (e as Error).message;
    text("badge", "failed");
    text("status", `Streaming ${name} failed: ${state.error}`);
    $("status").dataset.state = "error";
  }
}

function nextInGallery(name: string): string[] {
  const i = assets.findIndex((a) => a.name === name);
  return i >= 0 && i + 1 < assets.length ? [assets[i + 1].name] : [];
}

const sessionId = `demo-${Math.random().toString(36).slice(2)}`;
/** Whether the page prefetches what comes next (the server's hints, else the gallery's next). */
let prefetch = true;

function setupControls(): void {
  // ?throttle=BPS&deadline=MS&saver=1 preset the controls (links to a setting, tests);
  // ?prefetch=0 turns prefetching off (a test that measures every asset's own transfers).
  const query = new URLSearchParams(location.search);
  prefetch = query.get("prefetch") !== "0";
  state.throttleBps = Number(query.get("throttle") ?? 0) || 0;
  state.deadlineMs = Number(query.get("deadline") ?? 0) || 0;
  state.dataSaver = query.get("saver") === "1";
  $<HTMLInputElement>("data-saver").checked = state.dataSaver;
  const deadline = $<HTMLSelectElement>("deadline");
  if (![...deadline.options].some((o) => Number(o.value) === state.deadlineMs)) {
    deadline.append(new Option(`${state.deadlineMs} ms`, String(state.deadlineMs)));
  }
  deadline.value = String(state.deadlineMs);
  deadline.addEventListener("change", () => {
    state.deadlineMs = Number(deadline.value);
    if (state.asset) void open(state.asset);
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>("[data-throttle]")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.throttle) === state.throttleBps));
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>("[data-throttle]")) {
    b.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-throttle]")) other.setAttribute("aria-pressed", "false");
      b.setAttribute("aria-pressed", "true");
      state.throttleBps = Number(b.dataset.throttle);
      if (state.asset) void open(state.asset);
    });
  }
  $<HTMLInputElement>("data-saver").addEventListener("change", (e) => {
    state.dataSaver = (e.target as HTMLInputElement).checked;
    if (state.asset) void open(state.asset);
  });
  $("replay").addEventListener("click", () => {
    if (state.asset) void open(state.asset);
  });
}

async function main(): Promise<void> {
  await init();
  state.wasm = backend();
  text("s-backend", `CPU (WebAssembly ${state.wasm})`);
  setupControls();
  healthCheck(server, "demo-page").then(
    (info) => {
      $("server").dataset.state = "ok";
      text("server", `server ${info.version} · ${info.protocol}`);
    },
    (e) => {
      $("server").dataset.state = "error";
      text("server", `server unreachable: ${(e as Error).message}`);
    },
  );
  // While the list is on its way, the decoder runs once on a small picture: the first real
  // fragment then meets compiled code.
  const listed = listAssets(server);
  // WebGPU where the browser has it: spectral images are then reconstructed and drawn on the GPU.
  const gpu = "gpu" in navigator ? enableWebGpu(gpuCanvas) : null;
  gpu?.catch(() => {}); // awaited below, after the list
  const warm = warmUp();
  assets = await listed;
  try {
    if (!gpu) throw new Error("this browser has no WebGPU");
    state.gpu = await gpu;
    state.backend = "webgpu";
    text("s-backend", `WebGPU (${state.gpu}) for photos · CPU (WebAssembly ${backend()}) for the rest`);
  } catch (e) {
    state.gpu = (e as Error).message;
    state.backend = "cpu";
    text("s-backend", `CPU (WebAssembly ${backend()}, warmed up in ${warm.toFixed(0)} ms)`);
  }
  // Photos first: the first asset streams as the page loads.
  assets.sort((a, b) => Number(a.kind !== "image") - Number(b.kind !== "image") || a.name.localeCompare(b.name));
  renderGallery();
  text("status", `${assets.length} assets on ${location.host}`);
  $("status").dataset.state = "ok";
  if (assets.length) await open(assets[0].name);
}

main().catch((e) => {
  state.error = (e as Error).message;
  text("status", `Failed to start: ${state.error}`);
  $("status").dataset.state = "error";
});
