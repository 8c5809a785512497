#!/usr/bin/env bash
# Refresh the calibration of the CI reference (results/reference/ci.calibration.yaml and
# ci_weights.calibration.yaml): run the ci DAG of this working tree under other CPU kernel
# settings (the reference's seed) and with other seeds, each in its own copy of the tree, then
# `dsbench calibrate` for the trained rows and for the committed weights' rows. About 5 minutes
# per run on 2 cores; the runs' metrics stay in results/calibration/ (ignored). Extra kernel runs
# made elsewhere (another CPU model, same code and seed) can be added as EXTRA="name=file.csv ...".
#   bash workflows/calibrate_ci.sh            # every setting below
#   bash workflows/calibrate_ci.sh --collect  # only re-run `dsbench calibrate` on stored metrics
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
store=results/calibration
mkdir -p "$store"
pins="ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2"   # what .ci/run exports
# name | kind | environment (on top of no pins) | config overrides (YAML; --config would read the seed as text)
settings=(
  "unpinned|kernel||"
  "aten_default|kernel|ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2|"
  "onednn_sse41|kernel|ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=SSE41 MKL_CBWR=AVX2|"
  "mkl_compatible|kernel|ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=COMPATIBLE|"
  "seed1|seed|$pins|seeds: [1]"
  "seed2|seed|$pins|seeds: [2]"
)
if [ "${1:-}" != "--collect" ]; then
  for entry in "${settings[@]}"; do
    IFS='|' read -r name kind envs overrides <<<"$entry"
    work=$(mktemp -d)
    extra=()
    if [ -n "$overrides" ]; then echo "$overrides" >"$work/.calibration.yaml"; extra=(--configfile "$work/.calibration.yaml"); fi
    # This working tree as it is (tracked and untracked, not ignored files), without results.
    git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$work"
    echo "calibrate: $name ($kind: ${envs:-no pins}) in $work"
    (cd "$work" && env -u ATEN_CPU_CAPABILITY -u ONEDNN_MAX_CPU_ISA -u MKL_CBWR PYTHONPATH="$work" MPLBACKEND=Agg \
       $envs snakemake --profile workflows/profiles/ci "${extra[@]}" --quiet rules >"$repo/$store/$name.log" 2>&1) \
      || { echo "calibrate: the ci DAG failed under $name; see $store/$name.log" >&2; exit 1; }
    cp "$work/results/ci/metrics.csv" "$store/$name.csv"
    cp "$work/results/ci/reference_weights/metrics.csv" "$store/$name.weights.csv"
    rm -rf "$work"
  done
fi
args=() weights=()
for entry in "${settings[@]}"; do
  IFS='|' read -r name kind _ _ <<<"$entry"
  args+=("--$kind" "$name=$store/$name.csv")
  [ "$kind" = kernel ] && weights+=("--kernel" "$name=$store/$name.weights.csv")
done
for extra in ${EXTRA:-}; do args+=("--kernel" "$extra"); done
dsbench calibrate --reference results/reference/ci.csv "${args[@]}" --command "bash workflows/calibrate_ci.sh"
dsbench calibrate --reference results/reference/ci_weights.csv "${weights[@]}" --command "bash workflows/calibrate_ci.sh"
