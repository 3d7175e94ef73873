#!/usr/bin/env bash
# Makes the HoloTensor assets holo-ab.mjs decodes, with the release CLI: the five test photos in
# the `spectral` (the demo's) and `residual` encodings and MiniLM's layer-0 query weights in
# `lowrank` and `residual`, 8 fragments each.   bash holo-assets.sh DIR
set -euo pipefail
out=${1:?usage: holo-assets.sh DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --locked --quiet -p haagenti-cli --manifest-path "$root/Cargo.toml"
cli=$target/release/haagenti
mkdir -p "$out"
for img in "$root"/tests/data/images/*; do
  name=$(basename "${img%.*}")
  for enc in spectral residual; do
    "$cli" holo encode "$img" --encoding "$enc" -o "$out/$name-$enc" >/dev/null
  done
done
for enc in lowrank residual; do
  "$cli" holo encode "$root/tests/data/minilm-l0-query.safetensors" --encoding "$enc" -o "$out/minilm-$enc" >/dev/null
done
ls "$out"
