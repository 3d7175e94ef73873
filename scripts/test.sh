#!/usr/bin/env bash
# Runs every check and test: formatting, lints, native tests, wasm32 builds, wasm tests in Node
# and headless Chromium, the npm package's tests and the demo page against the real server.
# Prints a summary; exits non-zero if anything failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}

./scripts/setup.sh test || { echo "setup failed" >&2; exit 1; }

# The GPU kernels' tests run on Mesa's lavapipe (Vulkan on the CPU, installed by setup.sh):
# with an adapter expected, a test that finds none fails instead of skipping.
export HAAGENTI_GPU_TESTS=${HAAGENTI_GPU_TESTS:-require}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

results=()
failed=0
step() {
  local name=$1
  shift
  printf '\n==> %s\n' "$name"
  local start=$SECONDS
  if "$@"; then
    results+=("ok    $(printf '%4ss' $((SECONDS - start)))  $name")
  else
    results+=("FAIL  $(printf '%4ss' $((SECONDS - start)))  $name")
    failed=1
  fi
}

# Every crate that claims wasm32 support; the zstd core also without std.
wasm_builds() {
  cargo build --target wasm32-unknown-unknown -p haagenti-zstd --no-default-features &&
    cargo build --target wasm32-unknown-unknown -p haagenti-hct -p haagenti-nct -p haagenti-holo -p haagenti-stream --no-default-features &&
    cargo build --target wasm32-unknown-unknown -p haagenti-zstd -p haagenti-codec -p haagenti-proto -p haagenti -p haagenti-wasm -p haagenti-gpu &&
    cargo build --target wasm32-unknown-unknown -p haagenti-wasm --no-default-features
}

# Lints for wasm32: the bindings with their tests, the libraries without theirs (their
# dev-dependencies, like libzstd, are native only).
wasm_clippy() {
  cargo clippy --target wasm32-unknown-unknown -p haagenti-wasm --all-targets --locked -- -D warnings &&
    cargo clippy --target wasm32-unknown-unknown -p haagenti-wasm --no-default-features --lib --locked -- -D warnings &&
    cargo clippy --target wasm32-unknown-unknown -p haagenti-zstd -p haagenti-codec -p haagenti-proto -p haagenti \
      -p haagenti-hct -p haagenti-nct -p haagenti-holo -p haagenti-stream -p haagenti-gpu --locked -- -D warnings
}

step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy (workspace)" cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo clippy (wasm32)" wasm_clippy
step "cargo test --workspace" cargo test --workspace --locked
step "zstd decoder tests, portable code (no BMI2 copies)" \
  env HAAGENTI_ZSTD_PORTABLE=1 cargo test --locked -p haagenti-zstd -p haagenti-tests \
  --test zstd_vectors --test zstd_differential --test fuzz_regressions --lib
step "CUDA kernels: NVRTC compiles them to the committed PTX, ptxas takes it for sm_80 and sm_90" ./scripts/cuda-check.sh
step "wasm32 builds" wasm_builds
step "HoloTensor without the nct feature (as the decoder-only wasm module has it)" \
  cargo test --locked -p haagenti-holo --no-default-features --lib
step "NCT: decode_to_candle (the candle feature, candle-core 0.11 on the CPU)" \
  cargo test --locked -p haagenti-nct --features candle --test roundtrip
step "NCT against k-quants on MiniLM, small form (encoder layer 0, with calibration; the full run: benches/nct-eval)" \
  cargo run --release --locked --manifest-path benches/nct-eval/Cargo.toml -- --quick --calib --sentences 30 --runs 1 \
  --out "$CARGO_TARGET_DIR/nct-eval-quick"
step "NCT: the same file and decoded bytes on wasm32 (Node) as natively" \
  env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked --target wasm32-unknown-unknown -p haagenti-nct --test identity
step "fuzz targets (smoke)" ./scripts/fuzz-smoke.sh 15
step "npm package: build (full and decoder-only modules, baseline and simd128)" bash -c "cd npm && npm run --silent build"
step "npm package: tests" bash -c "cd npm && npm test"
step "demo page: build" bash -c "cd web && npx vite build --logLevel warn"
step "server binary" cargo build --locked -p haagenti-server
# The runner's timeout (20 s by default) covers a whole test file; on SwiftShader and two busy
# cores this one's six tests take about that long.
step "GPU kernels in headless Chromium (WebGPU on SwiftShader) against the CPU decoders" \
  env WASM_BINDGEN_TEST_TIMEOUT=180 \
  wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver crates/haagenti-gpu
step "wasm tests in Node (with a fragment server)" ./scripts/wasm-test.sh node
step "wasm tests in headless Chromium (with a fragment server)" ./scripts/wasm-test.sh chrome
step "demo page against the server, npm tarball in Vite, webpack and plain pages (Chromium)" \
  env HAAGENTI_SERVER_BIN="$target_dir/debug/haagenti-server" bash -c "cd web && npm test"

printf '\n==> summary\n'
printf '  %s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "FAILED"
  exit 1
fi
echo "all passed"
