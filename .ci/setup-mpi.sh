#!/usr/bin/env bash
# Install Open MPI's launcher for the parsl-htex MPI tests (packages/htex/tests/test_mpi.py).
#
# Runs as root on Debian 12 and is idempotent: if mpiexec.openmpi already answers, it only
# prints its version. Only openmpi-bin is installed (it brings the runtime libraries
# mpiexec needs); the tests launch small programs, they compile nothing, so
# libopenmpi-dev is not needed.
#
# /usr/bin/mpiexec is chosen by update-alternatives between packages that provide it
# (slurm-wlm-torque installs a Slurm wrapper under that name; installing openmpi-bin
# usually makes it Open MPI's). The tests do not depend on that choice: they find
# mpiexec.openmpi themselves and put it first on the workers' PATH as "mpiexec".
#
# Open MPI refuses to start as root unless OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set; CI runs as root, so the tests set both in the
# workers' environment (not here: they must not leak into other tests).
set -euo pipefail

say() {
    echo "setup-mpi: $*"
}

die() {
    echo "setup-mpi: ERROR: $*" >&2
    exit 1
}

if ! command -v mpiexec.openmpi >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "must run as root to install openmpi-bin"
    say "installing openmpi-bin"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends openmpi-bin >/dev/null \
        || die "apt-get install openmpi-bin failed"
fi

command -v mpiexec.openmpi >/dev/null 2>&1 || die "mpiexec.openmpi is still missing"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpiexec.openmpi --version | head -n 1 || die "mpiexec.openmpi --version failed"
say "ready: $(command -v mpiexec.openmpi)"
