#!/usr/bin/env bash
# Quick start on a CPU machine: install into ./.venv, then train a tiny model end to end with CRPO
# through verl's main_ppo (`verl-crpo demo`; extra arguments pass through, e.g. --estimator grpo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup_cpu_env.sh
exec .venv/bin/verl-crpo demo "$@"
