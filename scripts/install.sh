#!/usr/bin/env bash
# Install every implemented package of the monorepo (editable) with the test tools.
# Usage: bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(packages/core)
for pkg in packages/htex packages/providers-hpc; do
    [ -f "$pkg/pyproject.toml" ] && packages+=("$pkg")
done
args=()
for pkg in "${packages[@]}"; do
    if grep -q '^test = ' "$pkg/pyproject.toml"; then args+=(-e "$pkg[test]"); else args+=(-e "$pkg"); fi
done
python -m pip install --disable-pip-version-check -q "${args[@]}" \
    "pytest>=7" "pytest-timeout>=2.2"
echo "installed: ${packages[*]}"
