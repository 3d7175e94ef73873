// Haagenti's codecs and gRPC-web client, compiled from Rust to WebAssembly.
//
// Call `init()` once (it loads the .wasm file), then use the functions. Errors from the decoders
// are thrown as `Error`s whose message says what was wrong with the input.

import initWasm, * as wasm from "../wasm/haagenti_wasm.js";
import type { HealthInfo, InitInput } from "../wasm/haagenti_wasm.js";

export type { HealthInfo, InitInput };

/** The formats Haagenti reads and writes. */
export type FormatName = "zstd" | "lz4" | "lz4-block" | "gzip" | "zlib" | "deflate" | "brotli";

let ready: Promise<void> | undefined;
let initialized = false;

/**
 * Loads the WebAssembly module. `input` may be a URL, a `Response`, bytes or a compiled
 * `WebAssembly.Module`; by default the `.wasm` file that ships beside this module is fetched.
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void> {
  ready ??= initWasm({
    module_or_path: input ?? new URL("../wasm/haagenti_wasm_bg.wasm", import.meta.url),
  }).then(() => {
    initialized = true;
  });
  return ready;
}

function check(): void {
  if (!initialized) {
    throw new Error("haagenti: call `await init()` before using the codecs");
  }
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
