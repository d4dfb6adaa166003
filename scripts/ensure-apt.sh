#!/usr/bin/env bash
# Installs Debian packages for the test suite only when a command they provide is missing, so
# `make test` stays fast on a prepared machine. Arguments: COMMAND=PACKAGE pairs, e.g.
#   scripts/ensure-apt.sh chromium=chromium chromedriver=chromium-driver
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
for pair in "$@"; do
  have "${pair%%=*}" || missing+=("${pair#*=}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! have apt-get; then
  echo "missing ${missing[*]} and apt-get is not available: install them by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed ${missing[*]}"
