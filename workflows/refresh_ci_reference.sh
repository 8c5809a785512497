#!/usr/bin/env bash
# Refresh the CI reference after an intended change (README, "Regression gate"): the ci DAG with
# .ci/run's kernel pins, its rows as results/reference/ci.csv, the 16x32 runs' weights as
# results/reference/ci_weights/ and their evaluation as results/reference/ci_weights.csv. Prints
# the Markdown diffs to paste into the review. Then refresh the calibration too
# (bash workflows/calibrate_ci.sh) when trained numbers moved.
set -euo pipefail
cd "$(dirname "$0")/.."
export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2   # as .ci/run
resolution=16x32   # the runs whose weights are bundled (one per method: ~19 MiB)
snakemake --profile workflows/profiles/ci --quiet rules
dsbench refresh-reference --metrics results/ci/metrics.csv --reference results/reference/ci.csv
dsbench export-weights results/ci/runs/*-unet-${resolution}-s0 --out results/reference/ci_weights
snakemake --profile workflows/profiles/ci --quiet rules --forcerun evaluate_reference_weights
dsbench refresh-reference --metrics results/ci/reference_weights/metrics.csv --reference results/reference/ci_weights.csv
