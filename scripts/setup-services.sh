#!/usr/bin/env bash
# Install and start the real services the test suite uses (needs root, as on CI and the
# developers' machines): a one-node Slurm cluster, OpenSSH server binaries, Open MPI.
# Idempotent. Usage: bash scripts/setup-services.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "setup-services: not root; tests needing Slurm, sshd or MPI will be skipped" >&2
    exit 0
fi
for script in .ci/setup-slurm.sh .ci/setup-sshd.sh .ci/setup-mpi.sh; do
    if [ -f "$script" ]; then
        echo "== $script"
        bash "$script"
    fi
done
