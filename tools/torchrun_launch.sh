#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: torchrun_launch.sh NPROC SCRIPT [ARGS...]
# Honours NNODES, NODE_RANK, MASTER_ADDR, PORT and PYTHON.
set -euo pipefail
NPROC=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

# SCRIPT puts its own checkout on sys.path (no PYTHONPATH needed)
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}" --launcher pytorch
