#!/usr/bin/env bash
# Prints each built .wasm file's size, raw and gzipped at level 9 (`gzip -9 -c FILE | wc -c`).
set -euo pipefail
cd "$(dirname "$0")/.."
for f in wasm/haagenti_wasm_bg.wasm wasm/haagenti_wasm_simd_bg.wasm wasm-decode/haagenti_wasm_bg.wasm wasm-decode/haagenti_wasm_simd_bg.wasm; do
  printf '%-40s %8d bytes  %7d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)"
done
