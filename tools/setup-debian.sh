#!/usr/bin/env bash
# setup-debian.sh: install everything subtitled needs to build, run and test on
# a fresh Debian 12 machine (run as root, or it re-runs itself with sudo).
#
#   tools/setup-debian.sh          build + run dependencies and test peers
#
# Go itself is expected at /usr/local/go or on PATH (go >= 1.26).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  exec sudo -E "$0" "$@"
fi

pkgs=(
  # build: cgo over libavcodec/libswresample, npm for the ONNX Runtime package
  build-essential pkg-config libavcodec-dev libavutil-dev libswresample-dev
  ca-certificates git make
  # run and test peers: ffmpeg with libzvbi, speech synthesis, GStreamer teletextdec,
  # headless Chromium, systemd-analyze
  ffmpeg espeak-ng sox flite
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  chromium systemd
  # model and fixture generators (tools/): Debian's python with torch and onnx
  python3 python3-numpy python3-onnx python3-torch python3-torchaudio
)

# npm fetches the pinned ONNX Runtime package; keep a Node.js that is
# already installed (e.g. from NodeSource) rather than fight it.
if ! command -v npm >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "setup: Go is not installed; install Go >= 1.26 to /usr/local/go" >&2
  exit 1
fi
echo "setup: Debian packages present" >&2
