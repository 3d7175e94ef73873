#!/usr/bin/env bash
# The WebGPU decode benchmark in headless Chromium (crates/haagenti-gpu/tests/browser_bench.rs):
# the kernels against the CPU decoders in the same page, release build, the table printed.
# Needs chromium and chromium-driver (scripts/setup.sh installs them) and wasm-pack.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(chromium --version 2>/dev/null || echo chromium)"
WASM_BINDGEN_TEST_TIMEOUT=300 HAAGENTI_GPU_TESTS=require wasm-pack test --release --headless --chrome --chromedriver /usr/bin/chromedriver \
  crates/haagenti-gpu --test browser_bench -- --nocapture 2>&1 | grep -E '^(\||webgpu bench|test result|.*panicked)' 
