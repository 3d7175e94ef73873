// The Node entry point: the same API, with `init()` reading the .wasm file from disk.

import { readFile } from "node:fs/promises";

import { init as initFromInput, type InitInput } from "./index.js";

export * from "./index.js";

/** Loads the WebAssembly module from the package folder (or from `input` when given). */
export async function init(input?: InitInput): Promise<void> {
  const bytes = input ?? (await readFile(new URL("../wasm/haagenti_wasm_bg.wasm", import.meta.url)));
  await initFromInput(bytes);
}
