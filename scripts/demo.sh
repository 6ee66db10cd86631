#!/usr/bin/env bash
# Set up, build, and run the main job: an SMP preview of a sample head the project ships.
#   bash scripts/demo.sh [IMAGE]      # default: samples/crown_level6.jpg
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target smp_cli >/dev/null
image="${1:-samples/crown_level6.jpg}"
mkdir -p out
./build/smp preview "$image" -o out/preview.png --stage healed
echo "before/after: $(pwd)/out/preview.png"
