#!/usr/bin/env bash
# Install and start the real services the test suite uses (needs root, as on CI and the
# developers' machines): every .ci/setup-*.sh script, in name order (a one-node Slurm
# cluster, OpenSSH server binaries, Open MPI, and whatever the plugin packages add).
# Idempotent. Usage: bash scripts/setup-services.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "setup-services: not root; tests needing system services will be skipped" >&2
    exit 0
fi
for script in .ci/setup-*.sh; do
    echo "== $script"
    bash "$script"
done
