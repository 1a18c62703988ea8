#!/usr/bin/env bash
# provision.sh: fetch the pinned ONNX Runtime shared library from the npm
# registry (package onnxruntime-node), verify both the package and the library
# against pinned sha256 sums, and install it as lib/libonnxruntime.so.1.
#
# Usage: tools/ort/provision.sh [DEST_DIR]   (default: lib/ in the repo)
# The npm tarball is cached in ${SUBTITLED_CACHE:-$HOME/.cache/subtitled}.
set -euo pipefail

ORT_VERSION=1.30.0
PKG_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
LIB_IN_PKG=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/lib}
cache=${SUBTITLED_CACHE:-$HOME/.cache/subtitled}/ort/$ORT_VERSION
lib=$dest/libonnxruntime.so.1

if [ "$(uname -m)" != x86_64 ]; then
  echo "provision: only linux x86_64 is pinned here (found $(uname -m))" >&2
  exit 1
fi

if [ -f "$lib" ] && echo "$LIB_SHA256  $lib" | sha256sum -c --status; then
  exit 0
fi

mkdir -p "$cache" "$dest"
tgz=$cache/onnxruntime-node-$ORT_VERSION.tgz
if ! { [ -f "$tgz" ] && echo "$PKG_SHA256  $tgz" | sha256sum -c --status; }; then
  echo "provision: fetching onnxruntime-node@$ORT_VERSION from the npm registry" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  mv "$tmp/onnxruntime-node-$ORT_VERSION.tgz" "$tgz.part"
  if ! echo "$PKG_SHA256  $tgz.part" | sha256sum -c --status; then
    echo "provision: checksum mismatch for onnxruntime-node-$ORT_VERSION.tgz (want $PKG_SHA256)" >&2
    rm -f "$tgz.part"
    exit 1
  fi
  mv "$tgz.part" "$tgz"
fi

tmp2=$(mktemp -d)
tar -xzf "$tgz" -C "$tmp2" "$LIB_IN_PKG"
if ! echo "$LIB_SHA256  $tmp2/$LIB_IN_PKG" | sha256sum -c --status; then
  echo "provision: checksum mismatch for $LIB_IN_PKG (want $LIB_SHA256)" >&2
  rm -rf "$tmp2"
  exit 1
fi
install -m 0644 "$tmp2/$LIB_IN_PKG" "$lib.part"
mv "$lib.part" "$lib"
rm -rf "$tmp2"
echo "provision: ONNX Runtime $ORT_VERSION at $lib" >&2
