#!/usr/bin/env bash
# The paper's GRPO baseline (recipes/crpo/config/grpo_accuracy_baseline.yaml): GRPO on accuracy alone,
# rollout temperature 1.0, everything else as run_crpo.sh. Compare with run_crpo.sh for the paper's
# GRPO vs CRPO table; run_grpo_baseline.sh instead isolates the estimator (same reward as CRPO).
#
# Environment (defaults in brackets):
#   MODEL_PATH      model to train, HF id or local dir [Qwen/Qwen2.5-3B-Instruct]
#   TRAIN_FILES     RL parquet(s) from `verl-crpo prepare`, a hydra list for several
#                   [$HOME/data/crpo/medqa/train.parquet; train_rl.parquet after a cold start]
#   VAL_FILES       validation parquet(s) [$HOME/data/crpo/medqa/test.parquet]
#   NGPUS_PER_NODE  GPUs per node [8]
#   NNODES          nodes [1]
#   PROJECT_NAME, EXPERIMENT_NAME  logger names     PYTHON  interpreter [python3]
# Extra arguments are hydra overrides: bash recipes/crpo/run_grpo_accuracy_baseline.sh trainer.total_epochs=2
#
# Multi-node, from an existing Ray cluster (started beforehand: `ray start --head` on the head node,
# `ray start --address=HEAD_IP:6379` on every other node, the same environment and data paths on all):
# on the head node, point Ray at the cluster and state the node count, e.g.
#   RAY_ADDRESS=auto NNODES=2 NGPUS_PER_NODE=8 bash recipes/crpo/run_grpo_accuracy_baseline.sh
# (main_ppo's ray.init() joins the cluster named by RAY_ADDRESS instead of starting a local one).
set -euo pipefail

RECIPE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python3}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-3B-Instruct}
TRAIN_FILES=${TRAIN_FILES:-$HOME/data/crpo/medqa/train.parquet}
VAL_FILES=${VAL_FILES:-$HOME/data/crpo/medqa/test.parquet}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
NNODES=${NNODES:-1}
PROJECT_NAME=${PROJECT_NAME:-verl_crpo}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-grpo_accuracy_qwen2.5_3b}

"$PYTHON" -m verl.trainer.main_ppo \
    --config-path="$RECIPE_DIR/config" \
    --config-name=grpo_accuracy_baseline \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILES" \
    data.val_files="$VAL_FILES" \
    trainer.n_gpus_per_node="$NGPUS_PER_NODE" \
    trainer.nnodes="$NNODES" \
    trainer.project_name="$PROJECT_NAME" \
    trainer.experiment_name="$EXPERIMENT_NAME" \
    "$@"
