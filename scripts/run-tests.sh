#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: install the packages, start the services,
# run pytest over every package's tests and the cross-package tests.
# Usage: bash scripts/run-tests.sh [extra pytest arguments]
# (PARSL_SKIP_INSTALL=1 skips the install step when scripts/install.sh just ran, as in CI.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${PARSL_SKIP_INSTALL:-0}" != 1 ]; then
    bash scripts/install.sh
fi
bash scripts/setup-services.sh
test_dirs=()
for dir in packages/*/tests tests; do
    [ -d "$dir" ] && test_dirs+=("$dir")
done
exec python -m pytest "${test_dirs[@]}" "$@"
