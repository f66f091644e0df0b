#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG GPUS [train.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# Works on CPU-only machines too (gloo backend): GPUS is then the process count.
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
exec "$DIR/torchrun_launch.sh" "$2" "$DIR/train.py" "$1" "${@:3}"
