#!/usr/bin/env bash
# Install the OpenSSH server binaries the parsl-providers-hpc SSH tests start themselves.
#
# The tests' fixture runs its own sshd (own host key, user key and sshd_config, on a free
# port of 127.0.0.1) from /usr/sbin/sshd, so nothing is started or configured here. Runs as
# root on Debian 12; idempotent.
set -euo pipefail

if [ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null; then
    echo "setup-sshd: openssh-server is already installed"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "setup-sshd: ERROR: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "setup-sshd: ERROR: apt-get update failed" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null \
    || { echo "setup-sshd: ERROR: apt-get install openssh-server failed" >&2; exit 1; }
# sshd refuses to start without its privilege-separation directory.
mkdir -p /run/sshd
chmod 0755 /run/sshd
echo "setup-sshd: openssh-server installed ($(/usr/sbin/sshd -V 2>&1 | head -n 1))"
