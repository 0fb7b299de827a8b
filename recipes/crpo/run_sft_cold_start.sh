#!/usr/bin/env bash
# The optional cold start (recipes/crpo/config/sft_cold_start.yaml): LoRA SFT (r 32, alpha 16, lr 1e-4)
# with verl's SFT trainer on teacher traces for MedQA train_coldstart.parquet, made by `verl-crpo sft-data`.
# Then RL on the other half: TRAIN_FILES=.../train_rl.parquet MODEL_PATH=<merged SFT model> run_crpo.sh.
#
# Environment (defaults in brackets):
#   MODEL_PATH        base model, HF id or local dir [Qwen/Qwen2.5-3B-Instruct]
#   SFT_TRAIN_FILES   SFT parquet from `verl-crpo sft-data` [$HOME/data/crpo/medqa/sft_coldstart.parquet]
#   SAVE_DIR          checkpoint folder [checkpoints/verl_crpo/sft_cold_start_qwen2.5_3b]
#   NGPUS_PER_NODE    GPUs per node [8]
#   NNODES            nodes [1]
#   NODE_RANK, MASTER_ADDR, MASTER_PORT  multi-node rendezvous [0, 127.0.0.1, 29500]
#   TORCHRUN          launcher [torchrun]
# Extra arguments are hydra overrides: bash recipes/crpo/run_sft_cold_start.sh trainer.total_epochs=2
#
# Multi-node: verl's SFT trainer runs under torchrun, not Ray. Run this script on every node with the
# same NNODES, MASTER_ADDR (the first node's address) and MASTER_PORT, and NODE_RANK 0..NNODES-1, e.g.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash recipes/crpo/run_sft_cold_start.sh   # node 0
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 bash recipes/crpo/run_sft_cold_start.sh   # node 1
set -euo pipefail

RECIPE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TORCHRUN=${TORCHRUN:-torchrun}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-3B-Instruct}
SFT_TRAIN_FILES=${SFT_TRAIN_FILES:-$HOME/data/crpo/medqa/sft_coldstart.parquet}
SAVE_DIR=${SAVE_DIR:-checkpoints/verl_crpo/sft_cold_start_qwen2.5_3b}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}

"$TORCHRUN" --nnodes="$NNODES" --node_rank="$NODE_RANK" --nproc_per_node="$NGPUS_PER_NODE" \
    --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT" \
    -m verl.trainer.sft_trainer \
    --config-path="$RECIPE_DIR/config" \
    --config-name=sft_cold_start \
    model.path="$MODEL_PATH" \
    data.train_files="$SFT_TRAIN_FILES" \
    trainer.default_local_dir="$SAVE_DIR" \
    trainer.n_gpus_per_node="$NGPUS_PER_NODE" \
    trainer.nnodes="$NNODES" \
    "$@"
