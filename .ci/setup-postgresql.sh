#!/usr/bin/env bash
# Install the PostgreSQL server binaries the parsl-monitoring tests start themselves.
#
# The tests' fixture creates a throwaway cluster (initdb, pg_ctl) in a temporary folder on
# a free port of 127.0.0.1, as the unprivileged `postgres` user, so no cluster is started
# or configured here. Runs as root on Debian 12; idempotent; bounded by timeouts.
set -euo pipefail

have_server() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
        && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null \
        && id postgres >/dev/null 2>&1
}

if have_server; then
    echo "setup-postgresql: PostgreSQL server binaries already installed"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "setup-postgresql: ERROR: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq \
    || { echo "setup-postgresql: ERROR: apt-get update failed" >&2; exit 1; }
timeout 900 apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    || { echo "setup-postgresql: ERROR: apt-get install postgresql failed" >&2; exit 1; }
have_server || { echo "setup-postgresql: ERROR: initdb/pg_ctl or the postgres user are" \
                      "missing after installing postgresql" >&2; exit 1; }
echo "setup-postgresql: installed $(ls -d /usr/lib/postgresql/*/bin | head -n 1)"
