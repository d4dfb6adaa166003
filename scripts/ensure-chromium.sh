#!/usr/bin/env bash
# Headless Chromium + chromedriver for the dashboard browser tests (Debian packages).
# Installs only when missing, so `make test` stays fast on a prepared machine.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
  exit 0
fi

if ! have apt-get; then
  echo "chromium/chromedriver missing and apt-get is not available: install them by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "chromium/chromedriver missing; run this script as root to install them" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
chromium --version
chromedriver --version
