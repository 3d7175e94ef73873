#!/bin/sh
# Builds the haagenti wasm module for the benchmark in one or more variants, each into
# build/VARIANT/ (haagenti_wasm.js + haagenti_wasm_bg.wasm, wasm-bindgen --target web, no
# wasm-opt), to pass to decode.mjs / chromium.mjs with --module build/VARIANT/haagenti_wasm.js.
#
#   sh build-wasm.sh [plain] [simd]        (default: both)
#
# plain: the release profile as the npm package's `npm run build:wasm` builds it (wasm32
# baseline features); simd: the same with RUSTFLAGS="-C target-feature=+simd128".
# CARGO_TARGET_DIR defaults to ~/.cache/haagenti-bench-target; the simd variant uses a
# subdirectory of it so that switching flags does not rebuild the other.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${CARGO_TARGET_DIR:-$HOME/.cache/haagenti-bench-target}
[ $# -gt 0 ] || set -- plain simd
for variant in "$@"; do
  case $variant in
    plain) dir=$target flags="" ;;
    simd) dir=$target/simd flags="-C target-feature=+simd128" ;;
    *) echo "unknown variant $variant (plain, simd)" >&2; exit 2 ;;
  esac
  (cd "$here/../.." && if [ -n "$flags" ]; then export RUSTFLAGS="$flags"; fi &&
    CARGO_TARGET_DIR=$dir cargo build --release --target wasm32-unknown-unknown -p haagenti-wasm)
  wasm-bindgen --target web --out-dir "$here/build/$variant" --out-name haagenti_wasm \
    "$dir/wasm32-unknown-unknown/release/haagenti_wasm.wasm"
  echo "built $here/build/$variant/haagenti_wasm.js"
done
