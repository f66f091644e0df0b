#!/usr/bin/env bash
# The GPU machine's one call (README, "On a GPU"; docs/gpu.md):
#   run(command="bash tools/gpu/device_check.sh", carry=["wheelhouse/gpu"])
# Installs the carried wheelhouse, runs `pytest -m cuda`, the COCO-size
# benchmark and (with 2 GPUs) a 2-process NCCL check within 8 minutes, and
# writes $OUT/device_check.json and $OUT/device_check.log.
# `bash tools/gpu/device_check.sh --dry-run --out DIR` checks it all on CPU.
set -u
cd "$(dirname "$0")/../.." || exit 1
exec "${PYTHON:-python3}" tools/gpu/device_check.py "$@"
