#!/usr/bin/env bash
# Installs what smp needs to build and test on Debian 12, with apt-get, only when missing.
# Idempotent and quiet when everything is there. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libopencv-dev       # image processing (imgproc, photo); contrib modules included
  libstb-dev          # stb_image / stb_image_write: decoding and encoding
  libdlib-dev libdlib-data  # face landmarks: the 68-point shape predictor model
  nlohmann-json3-dev  # JSON output of the CLI
  libcli11-dev        # CLI parsing: subcommands, typed options, checked ranges, --help
  libgtest-dev libgmock-dev  # GoogleTest
  libbenchmark-dev    # Google Benchmark (smp_bench)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
