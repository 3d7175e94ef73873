#!/usr/bin/env bash
# The CUDA kernels without a GPU: NVRTC (from PyPI) compiles crates/haagenti-cuda/kernels/*.cu
# to PTX, which must equal the committed crates/haagenti-cuda/ptx/*.ptx (the PTX the crate
# loads at run time), and ptxas assembles that PTX for sm_80 and sm_90. Fails if a kernel does
# not compile or the committed PTX is stale (then: scripts/cuda-check.sh --write).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools=${HAAGENTI_CUDA_TOOLS:-$HOME/.cache/haagenti/cuda-tools}
# CUDA 12.4's NVRTC writes PTX ISA 8.4, which drivers from R550 load; newer wheels write newer
# ISAs that older drivers refuse.
nvrtc_version=12.4.127
nvcc_version=12.4.131
if [ ! -x "$tools/bin/python" ]; then
  python3 -m venv "$tools"
fi
"$tools/bin/pip" install -q --disable-pip-version-check "nvidia-cuda-nvrtc-cu12==$nvrtc_version" "nvidia-cuda-nvcc-cu12==$nvcc_version"
nvidia=$("$tools/bin/python" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")')
export LD_LIBRARY_PATH="$nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ptxas="$nvidia/cuda_nvcc/bin/ptxas"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "${1:-}" = "--write" ]; then
  out=crates/haagenti-cuda/ptx
fi
cargo run --quiet --locked -p haagenti-cuda --bin build-ptx -- "$out"
status=0
if [ "$out" != crates/haagenti-cuda/ptx ]; then
  for f in "$out"/*.ptx; do
    name=$(basename "$f")
    if ! cmp -s "$f" "crates/haagenti-cuda/ptx/$name"; then
      echo "cuda-check: crates/haagenti-cuda/ptx/$name is not what kernels/${name%.ptx}.cu compiles to; run scripts/cuda-check.sh --write" >&2
      status=1
    fi
  done
fi
for arch in sm_80 sm_90; do
  for f in crates/haagenti-cuda/ptx/*.ptx; do
    if "$ptxas" --gpu-name "$arch" "$f" -o /dev/null; then
      echo "cuda-check: ptxas $arch $(basename "$f"): ok"
    else
      echo "cuda-check: ptxas $arch $(basename "$f"): FAILED" >&2
      status=1
    fi
  done
done
exit $status
