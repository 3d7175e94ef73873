// The simd128 and baseline builds: both ship for both modules, Node loads the simd128 one, and
// an engine without SIMD gets the baseline one (WebAssembly.validate stubbed in a child process).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as haagenti from "haagenti";
import * as decode from "haagenti/decode";

const root = fileURLToPath(new URL("..", import.meta.url));

test("both builds of both modules are valid and differ", () => {
  for (const dir of ["wasm", "wasm-decode"]) {
    const base = readFileSync(`${root}/${dir}/haagenti_wasm_bg.wasm`);
    const simd = readFileSync(`${root}/${dir}/haagenti_wasm_simd_bg.wasm`);
    assert.ok(WebAssembly.validate(base), `${dir} baseline`);
    assert.ok(WebAssembly.validate(simd), `${dir} simd128`);
    assert.notDeepEqual(base, simd, `${dir}: the simd128 build is the baseline one`);
  }
});

test("Node 20 runs SIMD, so the simd128 builds load", () => {
  assert.equal(haagenti.backend(), "simd128");
  assert.equal(decode.backend(), "simd128");
});

test("without SIMD the baseline builds load and work", () => {
  const script = `
    WebAssembly.validate = () => false;
    const full = await import("haagenti");
    const dec = await import("haagenti/decode");
    const text = new TextEncoder().encode("fallback ".repeat(500));
    const back = dec.decompress(full.compress("zstd", text));
    console.log(full.backend(), dec.backend(), back.length === text.length && back.every((b, i) => b === text[i]));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
  assert.equal(out.trim(), "baseline baseline true");
});
