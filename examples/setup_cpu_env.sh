#!/usr/bin/env bash
# Creates (or reuses) ./.venv with verl-crpo and its test tools, on a CPU-only machine.
# Usage: bash examples/setup_cpu_env.sh        (idempotent; VENV=path to choose another place)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.verl-crpo-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c examples/cpu-constraints.txt "torch==2.13.0"
    "$VENV/bin/python" -m pip install --quiet -c examples/cpu-constraints.txt -e ".[test]"
    touch "$stamp"
fi
