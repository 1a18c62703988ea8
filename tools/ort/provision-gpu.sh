#!/usr/bin/env bash
# provision-gpu.sh: fetch ONNX Runtime with its CUDA execution provider, one
# matched version, from the npm registry, verify the packages and every
# library against pinned sha256 sums, and install them in DEST_DIR (default
# lib/gpu/ in the repo):
#
#   libonnxruntime.so.1                  the runtime (also runs on the CPU)
#   libonnxruntime_providers_shared.so   provider bridge
#   libonnxruntime_providers_cuda.so     CUDA execution provider
#
# Use it with SUBTITLED_ORT_LIB=DEST_DIR/libonnxruntime.so.1 and
# `device: cuda:N` on a model. Both halves are ONNX Runtime 1.29.0:
#   - the runtime from onnxruntime-node@1.29.0, a build with the provider
#     bridge enabled (it loads libonnxruntime_providers_*.so beside itself);
#   - the provider libraries from asus4's com.github.asus4.onnxruntime.
#     linux-x64-gpu@0.4.9 (ONNX Runtime 1.29.0). Its companion core package
#     com.github.asus4.onnxruntime@0.4.9 was tried first: its Linux library is
#     built without the CUDA bridge ("CUDA execution provider is not enabled
#     in this build"), so it cannot be used.
# The CUDA provider links against CUDA 13 (libcudart.so.13, libcublas.so.13,
# libcublasLt.so.13, libcurand.so.10) and cuDNN 9, which the host must
# provide (`ldd DEST_DIR/libonnxruntime_providers_cuda.so` lists what is
# missing). About 290 MB of downloads. Checked here only up to the point of
# loading the provider (no GPU machine): the runtime finds the CUDA provider
# and stops at the missing CUDA libraries.
#
# Usage: tools/ort/provision-gpu.sh [DEST_DIR]
set -euo pipefail

ORT_VERSION=1.29.0
CORE_PKG=onnxruntime-node
CORE_VERSION=$ORT_VERSION
CORE_PKG_SHA256=cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037
CORE_LIB=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
CORE_LIB_SHA256=89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d
GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu
GPU_VERSION=0.4.9
GPU_PKG_SHA256=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
GPU_DIR=package/Plugins/Linux/x64
declare -A LIB_SHA256=(
  [libonnxruntime_providers_shared.so]=c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
  [libonnxruntime_providers_cuda.so]=56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
)

root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/lib/gpu}
cache=${SUBTITLED_CACHE:-$HOME/.cache/subtitled}/ort-gpu/$ORT_VERSION

if [ "$(uname -m)" != x86_64 ]; then
  echo "provision-gpu: only linux x86_64 is pinned here (found $(uname -m))" >&2
  exit 1
fi

fetch() { # fetch PKG VERSION SHA256 -> path of the verified tarball
  local pkg=$1 version=$2 sum=$3 tgz=$cache/$1-$2.tgz
  if ! { [ -f "$tgz" ] && echo "$sum  $tgz" | sha256sum -c --status; }; then
    echo "provision-gpu: fetching $pkg@$version from the npm registry" >&2
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
    mv "$tmp/$pkg-$version.tgz" "$tgz.part"
    rm -rf "$tmp"
    if ! echo "$sum  $tgz.part" | sha256sum -c --status; then
      echo "provision-gpu: checksum mismatch for $pkg-$version.tgz (want $sum)" >&2
      rm -f "$tgz.part"
      exit 1
    fi
    mv "$tgz.part" "$tgz"
  fi
  echo "$tgz"
}

mkdir -p "$cache" "$dest"
core=$(fetch $CORE_PKG $CORE_VERSION $CORE_PKG_SHA256)
gpu=$(fetch $GPU_PKG $GPU_VERSION $GPU_PKG_SHA256)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$core" -C "$work" "$CORE_LIB"
if ! echo "$CORE_LIB_SHA256  $work/$CORE_LIB" | sha256sum -c --status; then
  echo "provision-gpu: checksum mismatch for $CORE_LIB (want $CORE_LIB_SHA256)" >&2
  exit 1
fi
tar -xzf "$gpu" -C "$work" "$GPU_DIR/libonnxruntime_providers_shared.so" "$GPU_DIR/libonnxruntime_providers_cuda.so"
for lib in "${!LIB_SHA256[@]}"; do
  if ! echo "${LIB_SHA256[$lib]}  $work/$GPU_DIR/$lib" | sha256sum -c --status; then
    echo "provision-gpu: checksum mismatch for $lib (want ${LIB_SHA256[$lib]})" >&2
    exit 1
  fi
done
install -m 0644 "$work/$CORE_LIB" "$dest/libonnxruntime.so.1"
install -m 0755 "$work/$GPU_DIR/libonnxruntime_providers_shared.so" "$dest/"
install -m 0755 "$work/$GPU_DIR/libonnxruntime_providers_cuda.so" "$dest/"
echo "provision-gpu: ONNX Runtime $ORT_VERSION with the CUDA provider in $dest" >&2
echo "provision-gpu: run with SUBTITLED_ORT_LIB=$dest/libonnxruntime.so.1 and device: cuda:N" >&2
missing=$(ldd "$dest/libonnxruntime_providers_cuda.so" | grep "not found" || true)
if [ -n "$missing" ]; then
  echo "provision-gpu: this host lacks libraries the CUDA provider needs (install CUDA 13 and cuDNN 9):" >&2
  echo "$missing" >&2
fi
