#!/usr/bin/env bash
# The whole test suite: lint, format check, docstring examples and tests (CPU).
# Usage: bash tests/run.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup_cpu_env.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
verl-crpo check
pytest "$@"
