#!/usr/bin/env bash
# The serving benchmark: haagenti-server (gRPC streams and HTTPS GETs) against nginx serving
# the same fragment files, on loopback, with the same load generator. Prints a table with
# date, machine and versions, and writes it to docs/serve-bench.md.
#   scripts/bench-serve.sh [CLIENTS [SECONDS]]     default: 64 clients, 30 s per run
# Run it with nothing else heavy on the machine: the client, our server and nginx share it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
clients=${1:-64}
secs=${2:-30}

command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
  echo "nginx is not installed: scripts/setup.sh test installs it" >&2
  exit 1
}
cargo bench --locked -p haagenti-server --bench serve -- \
  --clients "$clients" --secs "$secs" --slices 6 --out "$root/docs/serve-bench.md"
