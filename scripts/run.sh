#!/usr/bin/env bash
# Sets up what is missing, builds the wasm module, the npm package and the demo page, and runs
# the fragment server with the demo at https://127.0.0.1:8443/ (Ctrl-C stops it).
# Extra arguments go to the server, e.g. --cert/--key/--client-ca (see --help).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
./scripts/setup.sh run
(cd npm && npm run --silent build)
(cd web && npx vite build --logLevel warn)
exec cargo run --release --quiet -p haagenti-server -- --addr 127.0.0.1:8443 --web "$root/web/dist" "$@"
