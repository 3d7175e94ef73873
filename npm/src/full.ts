// Haagenti's codecs, HCT tensor files, HoloTensor fragments and gRPC-web client, compiled from
// Rust to WebAssembly: the full module, shared by the browser/bundler entry (`index.ts`, call
// `await init()` first) and the Node entry (`node.ts`, loaded on import).
//
// Errors from the decoders are thrown as `Error`s whose message says what was wrong with the
// input.

import initWasm, { initSync as initWasmSync } from "../wasm/haagenti_wasm.js";
import * as wasm from "../wasm/haagenti_wasm.js";
import type { HctFile, HealthInfo, HoloEncodeOptions, HoloStream, InitInput } from "../wasm/haagenti_wasm.js";
import { type Backend, simdSupported } from "./simd.js";
import { DecodingStream, type DecompressionStreamOptions } from "./streams.js";
import { ZstdDecoderBase, type ZstdDecoderOptions } from "./zstd-decoder.js";
import {
  streamOptions,
  type AssetManifest,
  type AssetSummary,
  type ClientStats,
  type StreamAssetOptions,
  type StreamResult,
} from "./client.js";

export type { HctFile, HealthInfo, HoloEncodeOptions, HoloStream, InitInput };
export type { Backend, DecompressionStreamOptions, ZstdDecoderOptions };
export { DecodingStream };
export type {
  ImageReconstruction,
  PreviewFrame,
  QualityPoint,
  TensorEntry,
  TensorReconstruction,
} from "../wasm/haagenti_wasm.js";

/** The formats Haagenti reads and writes. */
export type FormatName = "zstd" | "lz4" | "lz4-block" | "gzip" | "zlib" | "deflate" | "brotli";

/** The formats the decompression streams read. */
export type StreamFormatName = "zstd" | "lz4" | "gzip" | "zlib" | "deflate" | "brotli";

const simd = simdSupported();
let ready: Promise<void> | undefined;
let initialized = false;
let memory: WebAssembly.Memory | undefined;

/**
 * The `.wasm` file this engine loads by default: the simd128 build where WebAssembly SIMD
 * validates, the baseline build elsewhere. (Both `new URL` literals let bundlers find and emit
 * the files.)
 */
export function wasmUrl(): URL {
  return simd
    ? new URL("../wasm/haagenti_wasm_simd_bg.wasm", import.meta.url)
    : new URL("../wasm/haagenti_wasm_bg.wasm", import.meta.url);
}

/**
 * Loads the WebAssembly module. `input` may be a URL, a `Response`, bytes or a compiled
 * `WebAssembly.Module`; by default the `.wasm` file that ships beside this module (the simd128
 * build where supported, see `backend()`) is fetched. Calling it again is harmless.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void> {
  if (initialized) return Promise.resolve();
  ready ??= initWasm({ module_or_path: input ?? wasmUrl() }).then((exports) => {
    memory = exports.memory;
    initialized = true;
  });
  return ready;
}

/** Loads the WebAssembly module synchronously from its bytes or a compiled module. */
export function initSync(module: BufferSource | WebAssembly.Module): void {
  if (initialized) return;
  memory = initWasmSync({ module }).memory;
  initialized = true;
}

/** Which build of the module this engine loads: "simd128" or "baseline" (no WebAssembly SIMD). */
export function backend(): Backend {
  return simd ? "simd128" : "baseline";
}

function check(): void {
  if (!initialized) {
    throw new Error("haagenti: call `await init()` before using the codecs");
  }
}

/** Which module this is: "full" here, "decode" for `haagenti/decode`. */
export function variant(): "full" | "decode" {
  check();
  return wasm.variant() as "full" | "decode";
}

/** The version of the WebAssembly module. */
export function version(): string {
  check();
  return wasm.version();
}

/** Names the format of `data` by its magic number, or `undefined` when none matches. */
export function detectFormat(data: Uint8Array): FormatName | undefined {
  check();
  return wasm.detectFormat(data) as FormatName | undefined;
}

/** Decompresses `data`, detecting its format. `maxOutput` bounds the output (default 1 GiB). */
export function decompress(data: Uint8Array, maxOutput?: number): Uint8Array {
  check();
  return wasm.decompress(data, maxOutput);
}

/** Decompresses `data` as `format` (needed for brotli, raw deflate and LZ4 blocks). */
export function decompressFormat(format: FormatName, data: Uint8Array, maxOutput?: number): Uint8Array {
  check();
  return wasm.decompressFormat(format, data, maxOutput);
}

/** Compresses `data` as `format`, at `level` or the format's default. */
export function compress(format: FormatName, data: Uint8Array, level?: number): Uint8Array {
  check();
  return wasm.compress(format, data, level);
}

/** Calls the fragment server's `Health` RPC over gRPC-web. */
export function healthCheck(baseUrl: string, client = "haagenti-js"): Promise<HealthInfo> {
  check();
  return wasm.healthCheck(baseUrl, client);
}

/**
 * Opens the browser's WebGPU adapter for previews drawn onto `canvas` (the canvas's `webgpu`
 * context is taken; keep it for this). Resolves to the adapter's name; rejects where the
 * browser has no WebGPU, and the CPU path stays in use. Then `streamAsset(.., { webgpu: true })`
 * reconstructs `spectral` images on the GPU, draws them onto `canvas`, and hands previews with
 * `gpu: true` and no pixels (copy the canvas with `drawImage` where it is wanted elsewhere).
 */
export function enableWebGpu(canvas: HTMLCanvasElement): Promise<string> {
  check();
  return wasm.enableWebGpu(canvas);
}

/**
 * The RGBA pixels of the last image drawn on WebGPU, read back from the GPU (a thumbnail, a
 * test; previews themselves never pass through JavaScript).
 */
export function readWebGpuPixels(): Promise<Uint8Array> {
  check();
  return wasm.readWebGpuPixels();
}

/** Whether `enableWebGpu` succeeded. */
export function webGpuEnabled(): boolean {
  check();
  return wasm.webGpuEnabled();
}

/**
 * Opens an HCT tensor file held in memory (the bytes are copied into the module). The preamble
 * and index are checked now; each tensor's blocks are checked when read. Throws on a corrupted
 * or truncated file.
 */
export function openHct(bytes: Uint8Array): HctFile {
  check();
  return new wasm.HctFile(bytes);
}

/** Options of `holoStream`. */
export interface HoloStreamOptions {
  /** Least time between two previews (default 0: a preview per fragment). */
  previewIntervalMs?: number;
  /** No preview before the encoder's curve reaches this quality (default 0). */
  minQuality?: number;
  /** Longer side of the previews, in pixels (default 512). */
  maxPreviewResolution?: number;
  /** Largest asset accepted, in samples (pixels times channels, or tensor elements; default 2^24). */
  maxSamples?: number;
}

/**
 * A decoder for the fragments of one HoloTensor asset: push them in any order as they arrive
 * (`push(fragment, performance.now())`) and paint the previews it returns. A corrupted
 * fragment, or one of another asset, throws and changes nothing; duplicates are ignored.
 */
export function holoStream(options: HoloStreamOptions = {}): HoloStream {
  check();
  return new wasm.HoloStream(options.previewIntervalMs, options.minQuality, options.maxPreviewResolution, options.maxSamples);
}

/** Encodes an 8-bit image (`channels` 1 or 3, row-major) into HoloTensor fragments. */
export function holoEncodeImage(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  options?: HoloEncodeOptions,
): Uint8Array[] {
  check();
  return wasm.holoEncodeImage(pixels, width, height, channels, options);
}

/** A fragment's id: the BLAKE3 hash of its bytes as 64 hex digits (its name in a fragment store). */
export function fragmentId(fragment: Uint8Array): string {
  check();
  return wasm.fragmentId(fragment);
}

/**
 * A decompression stream for `format`, e.g.
 * `response.body.pipeThrough(new HaagentiDecompressionStream("brotli"))`. See
 * `DecompressionStreamOptions` for the limits.
 */
export class HaagentiDecompressionStream extends DecodingStream {
  constructor(format: StreamFormatName, options: DecompressionStreamOptions = {}) {
    check();
    super(() => new wasm.StreamDecoder(format, options.maxOutput, options.maxWindow), options);
  }
}

/**
 * Decompresses zstd frames (concatenated and skippable frames included) with memory bounded by
 * the frame's window: `response.body.pipeThrough(new ZstdDecompressionStream())`.
 */
export class ZstdDecompressionStream extends HaagentiDecompressionStream {
  constructor(options: DecompressionStreamOptions = {}) {
    super("zstd", options);
  }
}

/** Decompresses LZ4 frames, one block (at most 4 MiB) at a time. */
export class Lz4DecompressionStream extends HaagentiDecompressionStream {
  constructor(options: DecompressionStreamOptions = {}) {
    super("lz4", options);
  }
}

/** Decompresses gzip (every member of a multi-member file). */
export class GzipDecompressionStream extends HaagentiDecompressionStream {
  constructor(options: DecompressionStreamOptions = {}) {
    super("gzip", options);
  }
}

/** Decompresses a zlib stream. */
export class ZlibDecompressionStream extends HaagentiDecompressionStream {
  constructor(options: DecompressionStreamOptions = {}) {
    super("zlib", options);
  }
}

/** Decompresses a raw deflate stream. */
export class DeflateDecompressionStream extends HaagentiDecompressionStream {
  constructor(options: DecompressionStreamOptions = {}) {
    super("deflate", options);
  }
}

/** Decompresses a brotli stream. */
export class BrotliDecompressionStream extends HaagentiDecompressionStream {
  constructor(options: DecompressionStreamOptions = {}) {
    super("brotli", options);
  }
}

export { previewToImageData } from "./client.js";
export type {
  AssetManifest,
  AssetSummary,
  ClientStats,
  StreamAssetOptions,
  StreamBudget,
  StreamPreview,
  StreamProgress,
  StreamResult,
} from "./client.js";

/** The assets on the fragment server at `serverUrl` whose names start with `prefix`. */
export function listAssets(serverUrl: string, prefix?: string): Promise<AssetSummary[]> {
  check();
  return wasm.listAssets(serverUrl, prefix);
}

/** One asset's manifest: its fragments and the quality the encoder measured after each. */
export function getManifest(serverUrl: string, name: string): Promise<AssetManifest> {
  check();
  return wasm.getManifest(serverUrl, name);
}

/**
 * Streams one asset from the fragment server at `serverUrl`, adapting each request to the
 * throughput this client measured, and calls `options.onPreview` with ever better previews
 * (`imageData` for images, `values` for tensors) until the whole asset, the budget or the
 * target quality is reached. Rejects on a bad server answer, a fragment that does not match
 * its id, or when `options.signal` aborts.
 *
 * ```js
 * const result = await streamAsset("https://fragments.example", "photos/coffee.png", {
 *   onPreview: (p) => ctx.putImageData(p.imageData, 0, 0),
 *   budget: { dataSaver: true },
 * });
 * ```
 */
export function streamAsset(serverUrl: string, name: string, options: StreamAssetOptions = {}): Promise<StreamResult> {
  check();
  return wasm.streamAsset(serverUrl, name, streamOptions(options));
}

/** Fetches the first fragments of each named asset into the client's cache now. */
export function prefetchAssets(serverUrl: string, names: string[]): Promise<void> {
  check();
  return wasm.prefetchAssets(serverUrl, names);
}

/** The client's throughput estimate, latency and fragment cache. */
export function clientStats(): ClientStats {
  check();
  return wasm.clientStats();
}

/** Forgets the measured network, the fragment cache and the transport choice. */
export function resetClient(): void {
  check();
  wasm.resetClient();
}

/**
 * Runs the image decoder on a small picture built into the module, so that the engine has
 * compiled its code before the first real fragment arrives, and makes the module's memory
 * 10 MiB larger than that needs (written once, then free), so that the first photo's decode
 * does not wait on growing it; call it while the page waits on the network. Returns the
 * milliseconds it took.
 */
export function warmUp(): number {
  check();
  return wasm.warmUp();
}

/**
 * A reusable zstd decoder: `decodeView(data)` (no copy; valid until the next call into the
 * module), `decodeInto(data, out)`, `decode(data)`. See `ZstdDecoderBase`.
 */
export class ZstdDecoder extends ZstdDecoderBase {
  constructor(options: ZstdDecoderOptions = {}) {
    check();
    super(new wasm.ZstdDecoder(options.maxOutput), () => memory as WebAssembly.Memory);
  }
}
