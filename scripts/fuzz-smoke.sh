#!/usr/bin/env bash
# Builds the cargo-fuzz targets and runs each for a short time, seeded with the reference test
# vectors, seeds and past findings. Any finding fails the run: a crash, a leak, running out of
# memory (-rss_limit_mb, also per allocation), a timeout or a slow unit, or the fuzzer exiting
# non-zero for any other reason. Save a finding under fuzz/regressions/TARGET/ so the replay test
# (tests/tests/fuzz_regressions.rs) keeps it fixed.
#   scripts/fuzz-smoke.sh [SECONDS] [SANITIZER] [TARGET...]
# SANITIZER is cargo-fuzz's -s: none (default, fast) or address (AddressSanitizer, for the
# targets that reach unsafe code: zstd_decode, zstd_stream, zstd_differential, hct_read).
# fuzz/ is its own workspace with its own, committed Cargo.lock: it pins libzstd (zstd-sys) to the
# version the workspace's tests use, so zstd_differential's reference is the one the regression
# replay (tests/tests/fuzz_regressions.rs) checks against. Unpinned, a fresh machine resolved
# zstd-sys 2.2.0 (libzstd 1.6.0), which refuses RLE blocks over the block maximum in one-shot
# decoding where 1.5.7 accepts them (fuzz/regressions/zstd_differential/rle-block-larger-than-window).
set -uo pipefail

seconds=${1:-20}
sanitizer=${2:-none}
shift 2 2>/dev/null || shift $#
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] cargo install cargo-fuzz (a few minutes, once)"
  cargo install cargo-fuzz --locked || exit 1
fi
# cargo-fuzz's instrumentation flags are stable; RUSTC_BOOTSTRAP lets its build (and
# -Zsanitizer) run on the stable toolchain these machines have.
export RUSTC_BOOTSTRAP=1
# Build outputs beside the workspace's when CI caches those (CARGO_TARGET_DIR), else fuzz/target.
target_dir=()
[ -n "${CARGO_TARGET_DIR:-}" ] && target_dir=(--target-dir "$CARGO_TARGET_DIR/fuzz")
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
if [ $# -eq 0 ]; then
  cargo fuzz build "${target_dir[@]}" -s "$sanitizer" || { echo "[fuzz] build failed" >&2; exit 1; }
else
  for target in "${targets[@]}"; do
    cargo fuzz build "${target_dir[@]}" -s "$sanitizer" "$target" || { echo "[fuzz] build of $target failed" >&2; exit 1; }
  done
fi

failed=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  rm -f "$artifacts"/*
  cp -n tests/data/zstd/decodecorpus/*.zst tests/data/zstd/golden-decompression/*.zst "$corpus"/ 2>/dev/null
  cp -n fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null
  cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null
  echo "[fuzz] $target for ${seconds}s (sanitizer: $sanitizer)"
  log="fuzz/artifacts/$target.log"
  # -timeout: one input may take 10 s at most; -report_slow_units: slower than 2 s is a finding.
  cargo fuzz run "${target_dir[@]}" -s "$sanitizer" "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -timeout=10 -report_slow_units=2 -print_final_stats=1 >"$log" 2>&1
  status=$?
  grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|panicked|ERROR|SUMMARY|Slow unit|stat::number_of_executed_units" "$log"
  findings=$(ls "$artifacts" 2>/dev/null)
  if [ "$status" -ne 0 ] || [ -n "$findings" ]; then
    echo "[fuzz] $target: FINDING (exit $status) ${findings:+in $artifacts/: $findings}; log: $log" >&2
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] findings in: ${failed[*]}" >&2
  exit 1
fi
echo "[fuzz] no findings in ${#targets[@]} targets"
