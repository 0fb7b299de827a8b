#!/usr/bin/env bash
# GRPO baseline for CRPO: GRPO on the same weighted clinical reward (recipes/crpo/config/crpo_trainer.yaml).
# It differs from run_crpo.sh only in algorithm.adv_estimator (grpo on the reward's weighted total).
# Paths come from the environment; extra hydra overrides pass through:
#   MODEL_PATH=/models/qwen3b bash recipes/crpo/run_grpo_baseline.sh trainer.total_epochs=2
set -euo pipefail

RECIPE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python3}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-3B-Instruct}
TRAIN_FILES=${TRAIN_FILES:-$HOME/data/crpo/medqa/train.parquet}
VAL_FILES=${VAL_FILES:-$HOME/data/crpo/medqa/test.parquet}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
NNODES=${NNODES:-1}
PROJECT_NAME=${PROJECT_NAME:-verl_crpo}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-grpo_qwen2.5_3b}

"$PYTHON" -m verl.trainer.main_ppo \
    --config-path="$RECIPE_DIR/config" \
    --config-name=crpo_trainer \
    algorithm.adv_estimator=grpo \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILES" \
    data.val_files="$VAL_FILES" \
    trainer.n_gpus_per_node="$NGPUS_PER_NODE" \
    trainer.nnodes="$NNODES" \
    trainer.project_name="$PROJECT_NAME" \
    trainer.experiment_name="$EXPERIMENT_NAME" \
    "$@"
