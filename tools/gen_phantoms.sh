#!/bin/bash
# Renders the phantom half of the segmenter's training data with the project's own `smp synth`:
#   tools/gen_phantoms.sh SMP_BINARY OUT_DIR [COUNT]
# Views, hair-loss levels, skin types, hair colours and densities are drawn from bash's RANDOM
# with a fixed seed, so the same binary gives the same set. Output: pN.png, pN_lab.png (0/1/2),
# pN.json (true hairline and px per mm).
set -euo pipefail
smp=${1:?smp binary}; out=${2:?output folder}; count=${3:-240}
mkdir -p "$out"
hairs=(black dark brown blond red grey)
RANDOM=42
for i in $(seq 0 $((count - 1))); do
  v=$([ $((RANDOM % 3)) -eq 0 ] && echo front || echo top)
  lv=$((2 + RANDOM % 6)); sk=$((1 + RANDOM % 6)); h=${hairs[$((RANDOM % 6))]}
  d=$(awk -v r=$RANDOM 'BEGIN{printf "%.2f", 0.5 + 2.0*r/32767}')
  "$smp" synth -o "$out/p$i.png" --labels "$out/p${i}_lab.png" --truth "$out/p$i.json" \
    --view "$v" --size 384x384 --level "$lv" --skin "$sk" --hair "$h" --hair-density "$d" \
    --seed $((i + 100)) > /dev/null
done
