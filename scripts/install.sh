#!/usr/bin/env bash
# Install every package of the monorepo (editable) with its test extras, and the example
# plugin. Each package that needs system packages or a build (Debian packages, a vendored
# toolkit) has a script .ci/setup-<name>.sh run by scripts/setup-services.sh instead.
# Usage: bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# core first, then the plugins in a fixed order, so pip resolves parsl-core locally.
packages=(packages/core)
for pkg in packages/*/; do
    pkg="${pkg%/}"
    [ "$pkg" = packages/core ] && continue
    [ -f "$pkg/pyproject.toml" ] && packages+=("$pkg")
done
args=()
for pkg in "${packages[@]}"; do
    if grep -q '^test = ' "$pkg/pyproject.toml"; then args+=(-e "$pkg[test]"); else args+=(-e "$pkg"); fi
done
python -m pip install --disable-pip-version-check -q "${args[@]}" \
    "pytest>=7" "pytest-timeout>=2.2"
echo "installed: ${packages[*]}"
