#!/usr/bin/env bash
# Builds the npm package's WebAssembly modules with cargo and wasm-bindgen (the version
# Cargo.lock pins; scripts/setup.sh installs it):
#   wasm/         the full module (crate features "full" and "client"), cargo profile wasm-full
#   wasm-decode/  the decoder-only module (--no-default-features), cargo profile wasm-decode
# each twice: haagenti_wasm_bg.wasm (baseline) and haagenti_wasm_simd_bg.wasm (built with
# -C target-feature=+simd128); the JS loader picks one with WebAssembly.validate at load time.
# The decoder-only files then go through wasm-opt -Oz --converge from the npm package `binaryen` (a
# devDependency: `npm ci` installs it; Debian's binaryen breaks wasm-bindgen output, so it is not
# used). The full module skips it: -O3 makes it 7% smaller but 1% larger gzipped.
#   build-wasm.sh [full|decode]...   (default: both)
set -euo pipefail

npm_dir=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$npm_dir/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
# Paths in panic messages name no build machine, so the files are the same wherever they're built.
base_flags="${RUSTFLAGS:-} --remap-path-prefix=$root=/haagenti --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"

wasm_opt=$npm_dir/node_modules/.bin/wasm-opt
if [ ! -x "$wasm_opt" ]; then
  echo "[build-wasm] $wasm_opt is missing: run \`npm ci\` in $npm_dir first" >&2
  exit 1
fi
# The features rustc's wasm32-unknown-unknown output uses (its target_features section), named so
# that wasm-opt neither refuses the module nor brings in others; the section itself is stripped.
opt_features=(--enable-bulk-memory --enable-bulk-memory-opt --enable-call-indirect-overlong --enable-multivalue
  --enable-mutable-globals --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext)

# build <out dir> <cargo profile> <simd: 0|1> [cargo feature flags...]
build() {
  local out=$1 profile=$2 simd=$3
  shift 3
  local dir=$target flags=$base_flags
  if [ "$simd" = 1 ]; then
    # Its own target folder: a change of RUSTFLAGS would rebuild everything in a shared one.
    dir=$target/wasm-simd
    flags="$flags -C target-feature=+simd128"
  fi
  local label=baseline
  [ "$simd" = 1 ] && label=simd128
  echo "[build-wasm] $out: cargo profile $profile, $label" >&2
  RUSTFLAGS=$flags cargo build --locked --quiet --target wasm32-unknown-unknown -p haagenti-wasm \
    --profile "$profile" --target-dir "$dir" "$@"
  local tmp
  tmp=$(mktemp -d)
  wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir "$tmp" --out-name haagenti_wasm \
    "$dir/wasm32-unknown-unknown/$profile/haagenti_wasm.wasm"
  if [ "$out" = wasm-decode ]; then
    local simd_feature=()
    [ "$simd" = 1 ] && simd_feature=(--enable-simd)
    # -Oz --converge (the passes again until the file stops shrinking): on 2026-12-08 0.14 KB
    # (baseline) and 0.2 KB (simd128) smaller gzipped than -O3 --converge at the same speed in
    # Node and Chromium, zstd and HoloTensor alike (npm/README.md); --converge saves some
    # 0.4 KB.
    "$wasm_opt" -Oz --converge "${opt_features[@]}" "${simd_feature[@]}" --strip-debug --strip-producers --strip-target-features \
      "$tmp/haagenti_wasm_bg.wasm" -o "$tmp/haagenti_wasm_bg.wasm"
  fi
  mkdir -p "$npm_dir/$out"
  if [ "$simd" = 1 ]; then
    # One JS glue serves both builds: the bindings must be the same.
    if ! cmp -s "$tmp/haagenti_wasm.js" "$npm_dir/$out/haagenti_wasm.js"; then
      echo "[build-wasm] $out: the simd128 build's JS bindings differ from the baseline's" >&2
      rm -rf "$tmp"
      return 1
    fi
    cp "$tmp/haagenti_wasm_bg.wasm" "$npm_dir/$out/haagenti_wasm_simd_bg.wasm"
  else
    rm -f "$npm_dir/$out"/haagenti_wasm*
    cp "$tmp"/haagenti_wasm.js "$tmp"/haagenti_wasm.d.ts "$tmp"/haagenti_wasm_bg.wasm "$tmp"/haagenti_wasm_bg.wasm.d.ts "$npm_dir/$out/"
  fi
  rm -rf "$tmp"
}

variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(full decode)
for v in "${variants[@]}"; do
  case $v in
    full)
      build wasm wasm-full 0
      build wasm wasm-full 1
      ;;
    decode)
      build wasm-decode wasm-decode 0 --no-default-features
      build wasm-decode wasm-decode 1 --no-default-features
      ;;
    *)
      echo "usage: build-wasm.sh [full|decode]..." >&2
      exit 2
      ;;
  esac
done
bash "$npm_dir/scripts/size.sh" >&2 || true
