// The Node entry point of `haagenti`: the module is loaded from the package folder on import,
// so the functions work at once; `init()` stays callable and does nothing more.

import { readFileSync } from "node:fs";

import { initSync, wasmUrl } from "./full.js";

export * from "./full.js";

initSync(readFileSync(wasmUrl()));

/** The module is loaded on import in Node; this resolves at once (kept for portable code). */
export function init(_input?: unknown): Promise<void> {
  return Promise.resolve();
}
