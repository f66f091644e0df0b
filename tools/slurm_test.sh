#!/usr/bin/env bash
# Slurm testing: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# Environment: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS (see srun_launch.sh).
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
exec "$DIR/srun_launch.sh" "$1" "$2" "$DIR/test.py" "$3" "$4" "${@:5}"
