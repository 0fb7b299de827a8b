#!/usr/bin/env bash
# Quick start on a CPU machine: install into ./.venv, then train a tiny model end to end with CRPO
# through verl's main_ppo (`verl-crpo demo`: the paper's GRPO baseline and CRPO side by side; extra arguments pass through, e.g. --arms crpo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup_cpu_env.sh
exec .venv/bin/verl-crpo demo "$@"
