#!/usr/bin/env bash
# Lint and type-check the implemented packages: ruff everywhere, mypy (strict) on the
# core and parsl-htex, mypy on parsl-providers-hpc. Usage: bash scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --disable-pip-version-check -q "ruff>=0.6" "mypy>=1.10"
python -m ruff check packages tests examples benchmarks
python -m mypy packages/core/src/parsl packages/htex/src/parsl_htex packages/providers-hpc/src/parsl_hpc
