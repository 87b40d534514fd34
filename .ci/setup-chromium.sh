#!/usr/bin/env bash
# Install headless Chromium and its WebDriver for the parsl-visualize browser tests.
#
# The tests start /usr/bin/chromedriver themselves (selenium) with a fresh profile, in
# headless mode, against a parsl-visualize server on 127.0.0.1; nothing is started here.
# Runs as root on Debian 12; idempotent; bounded by timeouts.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "setup-chromium: chromium and chromium-driver already installed"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "setup-chromium: ERROR: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq \
    || { echo "setup-chromium: ERROR: apt-get update failed" >&2; exit 1; }
timeout 1200 apt-get install -y -qq --no-install-recommends chromium chromium-driver \
    fonts-dejavu-core >/dev/null \
    || { echo "setup-chromium: ERROR: apt-get install chromium chromium-driver failed" >&2
         exit 1; }
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] \
    || { echo "setup-chromium: ERROR: /usr/bin/chromium or /usr/bin/chromedriver missing" \
              "after the install" >&2; exit 1; }
echo "setup-chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
