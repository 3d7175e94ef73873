// The decoder-only module behind `haagenti/decode`: zstd decoding (one-shot and streaming) and
// HoloTensor decoding, in a much smaller .wasm file than the full module. Shared by the
// browser/bundler entry (`decode.ts`, call `await init()` first) and the Node entry
// (`decode-node.ts`, loaded on import).

import initWasm, { initSync as initWasmSync } from "../wasm-decode/haagenti_wasm.js";
import * as wasm from "../wasm-decode/haagenti_wasm.js";
import type { HoloStream, InitInput } from "../wasm-decode/haagenti_wasm.js";
import { type Backend, simdSupported } from "./simd.js";
import { DecodingStream, type DecompressionStreamOptions } from "./streams.js";
import { ZstdDecoderBase, type ZstdDecoderOptions } from "./zstd-decoder.js";

export type { HoloStream, InitInput };
export type { Backend, DecompressionStreamOptions, ZstdDecoderOptions };
export type {
  ImageReconstruction,
  PreviewFrame,
  QualityPoint,
  TensorReconstruction,
} from "../wasm-decode/haagenti_wasm.js";
export { DecodingStream };

const simd = simdSupported();
let ready: Promise<void> | undefined;
let initialized = false;
let memory: WebAssembly.Memory | undefined;

/** The `.wasm` file this engine loads by default (the simd128 build where supported). */
export function wasmUrl(): URL {
  return simd
    ? new URL("../wasm-decode/haagenti_wasm_simd_bg.wasm", import.meta.url)
    : new URL("../wasm-decode/haagenti_wasm_bg.wasm", import.meta.url);
}

/**
 * Loads the decoder module. `input` may be a URL, a `Response`, bytes or a compiled
 * `WebAssembly.Module`; by default the `.wasm` file beside this module is fetched. Calling it
 * again is harmless.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void> {
  if (initialized) return Promise.resolve();
  ready ??= initWasm({ module_or_path: input ?? wasmUrl() }).then((exports) => {
    memory = exports.memory;
    initialized = true;
  });
  return ready;
}

/** Loads the decoder module synchronously from its bytes or a compiled module. */
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
    throw new Error("haagenti: call `await init()` before using the decoders");
  }
}

/** The version of the WebAssembly module. */
export function version(): string {
  check();
  return wasm.version();
}

/** Which module this is: "decode". */
export function variant(): "full" | "decode" {
  check();
  return wasm.variant() as "full" | "decode";
}

/**
 * Decompresses zstd frames (the only format of this entry; use `haagenti` for the others).
 * `maxOutput` bounds the output (default 1 GiB).
 */
export function decompress(data: Uint8Array, maxOutput?: number): Uint8Array {
  check();
  return wasm.decompress(data, maxOutput);
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

/** A fragment's id: the BLAKE3 hash of its bytes as 64 hex digits (its name in a fragment store). */
export function fragmentId(fragment: Uint8Array): string {
  check();
  return wasm.fragmentId(fragment);
}

/**
 * Decompresses zstd frames with memory bounded by the frame's window:
 * `response.body.pipeThrough(new ZstdDecompressionStream())`.
 */
export class ZstdDecompressionStream extends DecodingStream {
  constructor(options: DecompressionStreamOptions = {}) {
    check();
    super(() => new wasm.StreamDecoder("zstd", options.maxOutput, options.maxWindow), options);
  }
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
