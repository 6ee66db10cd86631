#!/usr/bin/env bash
# Regenerates the sample heads in samples/ and the README pictures in docs/images/ with the
# project's own code (smp synth + smp preview). Everything here is a phantom: no real photo.
#   bash scripts/make_samples.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target smp_cli >/dev/null
smp=./build/smp
mkdir -p samples docs/images

# Sample heads: a thinning crown (the demo's default), a receding front, darker skin.
$smp synth -o samples/crown_level6.jpg --view top --size 1280x960 --level 6 --skin 2 --hair dark --seed 3
$smp synth -o samples/front_level4.jpg --view front --size 960x1200 --level 4 --skin 3 --hair brown --seed 5
$smp synth -o samples/crown_level7_dark.jpg --view top --size 1280x960 --level 7 --skin 5 --hair black --seed 8
$smp synth -o samples/crown_level5_grey.jpg --view top --size 1280x960 --level 5 --skin 1 --hair grey --seed 11

# README pictures.
$smp preview samples/crown_level6.jpg -o docs/images/crown_before_after.jpg
$smp preview samples/crown_level6.jpg -o docs/images/crown_stages.jpg --stages
$smp preview samples/crown_level7_dark.jpg -o docs/images/dark_before_after.jpg
$smp preview samples/crown_level5_grey.jpg -o docs/images/grey_before_after.jpg
$smp preview samples/front_level4.jpg -o docs/images/front_before_after.jpg --hairline soft --hairline-height-cm 5 \
  --hairline-overlay docs/images/front_hairline.jpg
$smp analyze samples/crown_level6.jpg --labels /tmp/smp_labels.png --overlay docs/images/crown_labels.jpg
echo "samples/ and docs/images/ regenerated"
