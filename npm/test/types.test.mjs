// The shipped .d.ts files type-check a consumer, and reject a misuse.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(root, "node_modules/typescript/bin/tsc");
const options = ["--noEmit", "--strict", "--module", "ES2022", "--moduleResolution", "bundler", "--target", "ES2022", "--lib", "ES2022,DOM", "--types", "node"];

test("a typed consumer compiles", () => {
  const r = spawnSync(process.execPath, [tsc, ...options, join(root, "test/types/consumer.ts")], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("the decoder-only entry has no encoder (a type error)", () => {
  const file = join(root, "test/types", `bad-decode-${process.pid}.ts`);
  writeFileSync(file, `import { compress } from "haagenti/decode";\ncompress("zstd", new Uint8Array());\n`);
  let r;
  try {
    r = spawnSync(process.execPath, [tsc, ...options, file], { cwd: root, encoding: "utf8" });
  } finally {
    rmSync(file);
  }
  assert.notEqual(r.status, 0, "tsc accepted compress from haagenti/decode");
  assert.match(r.stdout, /compress/);
});

test("a wrong format name is a type error", () => {
  // Inside the package folder, so "haagenti" resolves to this package by its own name.
  const file = join(root, "test/types", `bad-${process.pid}.ts`);
  writeFileSync(file, `import { compress } from "haagenti";\ncompress("zip", new Uint8Array());\n`);
  let r;
  try {
    r = spawnSync(process.execPath, [tsc, ...options, file], { cwd: root, encoding: "utf8" });
  } finally {
    rmSync(file);
  }
  assert.notEqual(r.status, 0, "tsc accepted compress(\"zip\")");
  assert.match(r.stdout, /"zip"/);
});
