#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a short time (default 20 s), seeded with the
# reference test vectors. A crash fails the run; save its input under fuzz/regressions/TARGET/
# so the replay test (tests/tests/fuzz_regressions.rs) keeps it fixed.
#   scripts/fuzz-smoke.sh [SECONDS]
set -euo pipefail

seconds=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] cargo install cargo-fuzz (a few minutes, once)"
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz's instrumentation flags are stable; RUSTC_BOOTSTRAP lets its build run on the stable
# toolchain these machines have. No sanitizer: Rust's own checks catch what matters here.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
for target in $(cargo fuzz list); do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  cp -n tests/data/zstd/decodecorpus/*.zst tests/data/zstd/golden-decompression/*.zst "$corpus"/ 2>/dev/null || true
  cp -n fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  echo "[fuzz] $target for ${seconds}s"
  cargo fuzz run -s none "$target" "$corpus" -- -max_total_time="$seconds" -max_len=8192 2>&1 |
    grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|panicked|ERROR|SUMMARY|crash-" || true
  if ls fuzz/artifacts/"$target"/crash-* >/dev/null 2>&1; then
    echo "[fuzz] $target found a crash: fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
