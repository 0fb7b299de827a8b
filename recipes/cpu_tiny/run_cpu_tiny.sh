#!/usr/bin/env bash
# CRPO on one CPU with the tiny Qwen2 (recipes/cpu_tiny/config/cpu_tiny.yaml), through main_ppo.
# `verl-crpo demo` does all of this for you (model, data, cold start, run, summary); this script is the
# main_ppo step alone, for a model and data you already have:
#   MODEL_PATH=~/.cache/verl_crpo/coldstart-xxxx TRAIN_FILES=train.parquet VAL_FILES=val.parquet \
#     bash recipes/cpu_tiny/run_cpu_tiny.sh trainer.total_training_steps=10
# The GRPO baseline differs in one flag: ESTIMATOR=grpo.
set -euo pipefail

RECIPE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python3}
MODEL_PATH=${MODEL_PATH:?set MODEL_PATH to a cold-started tiny model (verl-crpo demo prints where it is)}
TRAIN_FILES=${TRAIN_FILES:?set TRAIN_FILES to an RL parquet (verl_crpo.data.write_rl_parquet)}
VAL_FILES=${VAL_FILES:-$TRAIN_FILES}
ESTIMATOR=${ESTIMATOR:-crpo}

# The switch for verl-crpo's CPU platform and transformers rollout; without it they stay inert.
export VERL_PLATFORM=cpu

"$PYTHON" -m verl.trainer.main_ppo \
    --config-path="$RECIPE_DIR/config" \
    --config-name=cpu_tiny \
    algorithm.adv_estimator="$ESTIMATOR" \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILES" \
    data.val_files="$VAL_FILES" \
    "$@"
