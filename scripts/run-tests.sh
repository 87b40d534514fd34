#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: install the packages, start the services,
# run pytest over every package's tests and the cross-package tests.
# Usage: bash scripts/run-tests.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/setup-services.sh
test_dirs=()
for dir in packages/*/tests tests; do
    [ -d "$dir" ] && test_dirs+=("$dir")
done
exec python -m pytest "${test_dirs[@]}" "$@"
