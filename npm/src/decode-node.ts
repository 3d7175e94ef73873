// The Node entry point of `haagenti/decode`: the module is loaded on import; `init()` stays
// callable and does nothing more.

import { readFileSync } from "node:fs";

import { initSync, wasmUrl } from "./decoder.js";

export * from "./decoder.js";

initSync(readFileSync(wasmUrl()));

/** The module is loaded on import in Node; this resolves at once (kept for portable code). */
export function init(_input?: unknown): Promise<void> {
  return Promise.resolve();
}
