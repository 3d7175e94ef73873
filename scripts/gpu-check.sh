#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (only the driver needed: the PTX is in the
# repository, nothing downloads beyond crates): builds, runs every CUDA test with a device
# required (GPU output byte-compared with the CPU decoders: random tensors, MiniLM in NCT and
# as HCT planes), the wgpu kernels' tests on the machine's Vulkan adapter, and the GPU
# benchmarks, then prints one summary. Needs the MiniLM weights (scripts/fetch-minilm.sh) for
# the MiniLM tests.
#
#   scripts/gpu-check.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/haagenti/target}
export HAAGENTI_CUDA_TESTS=require
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
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
step "build (release)" cargo build --release --locked -p haagenti-cuda -p haagenti-gpu --examples
step "CUDA tests (device required)" cargo test --release --locked -p haagenti-cuda
step "CUDA on MiniLM (device required)" cargo test --release --locked -p haagenti-tests --test cuda
step "CUDA benchmark" cargo run --release --locked -p haagenti-cuda --example cuda_bench
step "wgpu kernels on this machine's adapter" env HAAGENTI_GPU_TESTS=require cargo test --release --locked -p haagenti-tests --test gpu
# The wgpu kernels against the CPU decoders, timed (rewrites docs/gpu-bench.md, naming the adapter).
step "wgpu benchmark" env HAAGENTI_GPU_TESTS=require cargo bench --locked -p haagenti-tests --bench gpu
printf '\n==> summary\n'
printf '  %s\n' "${results[@]}"
[ "$failed" -eq 0 ] && echo "all passed" || { echo "FAILED"; exit 1; }
