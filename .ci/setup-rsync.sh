#!/usr/bin/env bash
# Install Debian's rsync for the parsl-staging RSyncStaging tests.
#
# The tests run rsync over a real OpenSSH server that their fixture starts itself (see
# .ci/setup-sshd.sh for the server binaries), so nothing is started here. Runs as root on
# Debian 12; idempotent; waits at most 5 minutes for another apt/dpkg run to finish.
set -euo pipefail

if command -v rsync >/dev/null; then
    echo "setup-rsync: rsync is already installed ($(rsync --version | head -n 1))"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "setup-rsync: ERROR: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=300)
timeout 600 apt-get "${apt_opts[@]}" update -qq \
    || { echo "setup-rsync: ERROR: apt-get update failed or timed out" >&2; exit 1; }
timeout 600 apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends rsync >/dev/null \
    || { echo "setup-rsync: ERROR: apt-get install rsync failed or timed out" >&2; exit 1; }
command -v rsync >/dev/null \
    || { echo "setup-rsync: ERROR: rsync still not on PATH after installing it" >&2; exit 1; }
echo "setup-rsync: rsync installed ($(rsync --version | head -n 1))"
