// The packed tarball, installed into a fresh project, works in Node; it ships its wasm and types.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

test("the packed tarball installs and runs in a fresh project", () => {
  const dir = mkdtempSync(join(tmpdir(), "haagenti-pack-"));
  const [info] = JSON.parse(execFileSync(npm, ["pack", "--json", "--pack-destination", dir], { cwd: root, encoding: "utf8" }));
  const files = info.files.map((f) => f.path);
  for (const needed of [
    "dist/index.js", "dist/index.d.ts", "dist/node.js", "dist/decode.js", "dist/decode.d.ts", "dist/decode-node.js",
    "wasm/haagenti_wasm.js", "wasm/haagenti_wasm_bg.wasm", "wasm/haagenti_wasm_simd_bg.wasm", "wasm/haagenti_wasm.d.ts",
    "wasm-decode/haagenti_wasm.js", "wasm-decode/haagenti_wasm_bg.wasm", "wasm-decode/haagenti_wasm_simd_bg.wasm", "wasm-decode/haagenti_wasm.d.ts",
  ]) {
    assert.ok(files.includes(needed), `${needed} missing from the tarball: ${files.join(", ")}`);
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync(npm, ["install", "--offline", "--no-audit", "--no-fund", join(dir, info.filename)], { cwd: dir, stdio: "pipe" });
  writeFileSync(
    join(dir, "check.mjs"),
    `import { init, compress, decompress } from "haagenti";
     await init();
     const text = new TextEncoder().encode("packed and installed ".repeat(100));
     const back = decompress(compress("zlib", text));
     if (back.length !== text.length || !back.every((b, i) => b === text[i])) throw new Error("round trip differs");
     console.log("ok " + back.length);`,
  );
  const out = execFileSync(process.execPath, ["check.mjs"], { cwd: dir, encoding: "utf8" });
  assert.equal(out.trim(), "ok 2100");
  // No init step in Node, for either entry.
  writeFileSync(
    join(dir, "noinit.mjs"),
    `import { compress } from "haagenti";
     import { decompress, variant } from "haagenti/decode";
     const text = new TextEncoder().encode("no init needed ".repeat(100));
     const back = decompress(compress("zstd", text));
     if (back.length !== text.length || !back.every((b, i) => b === text[i])) throw new Error("round trip differs");
     console.log(variant() + " " + back.length);`,
  );
  assert.equal(execFileSync(process.execPath, ["noinit.mjs"], { cwd: dir, encoding: "utf8" }).trim(), "decode 1500");
});
