#!/usr/bin/env bash
# Runs the bindings' wasm tests in Node (`node`) or headless Chromium (`chrome`) with a real
# fragment server for the streaming client's tests: the server (plain HTTP on the loopback,
# the embedded demo assets, CORS open to the test page) is started here and its URL handed to
# the tests at compile time in HAAGENTI_TEST_SERVER.
#
#   scripts/wasm-test.sh node|chrome      (HAAGENTI_SERVER_BIN: the server binary to start)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:?usage: scripts/wasm-test.sh node|chrome}
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=${HAAGENTI_SERVER_BIN:-$target_dir/debug/haagenti-server}
[ -x "$bin" ] || { echo "server binary missing at $bin: cargo build -p haagenti-server" >&2; exit 1; }

log=$(mktemp)
"$bin" --plain-http --addr 127.0.0.1:0 --cors-origin '*' >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 300); do
  url=$(grep -oE 'listening on http://[0-9.:]+' "$log" | head -1 | sed 's/listening on //') || true
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; echo "the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "the server did not start" >&2; exit 1; }
echo "fragment server for the tests: $url"
export HAAGENTI_TEST_SERVER=$url
cd "$root"
case $mode in
  node) wasm-pack test --node crates/haagenti-wasm ;;
  chrome) wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver crates/haagenti-wasm ;;
  *) echo "unknown mode $mode (node or chrome)" >&2; exit 2 ;;
esac
