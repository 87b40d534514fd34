#!/usr/bin/env bash
# Lint and type-check every package: ruff everywhere, mypy on each package's sources
# (strict where pyproject.toml's [tool.mypy] overrides say so). Usage: bash scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --disable-pip-version-check -q "ruff>=0.6" "mypy>=1.10"
python -m ruff check packages tests examples benchmarks
srcs=()
for src in packages/*/src/*/; do
    [ -f "$src/__init__.py" ] && srcs+=("${src%/}")
done
python -m mypy "${srcs[@]}"
