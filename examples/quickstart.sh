#!/usr/bin/env bash
# Quick start on a CPU machine: install into ./.venv, then score the built-in clinical sample
# and print every objective per response and on average.
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup_cpu_env.sh
exec .venv/bin/verl-crpo demo "$@"
