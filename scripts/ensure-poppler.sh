#!/usr/bin/env bash
# pdftoppm and pdftotext (Debian poppler-utils) for the board-pack test (tests/test_report.py), which
# renders the PDF to images. Installs only when missing, so `make test` stays fast on a prepared machine.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have pdftoppm && have pdftotext; then
  exit 0
fi

if ! have apt-get; then
  echo "pdftoppm/pdftotext missing and apt-get is not available: install poppler-utils by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "pdftoppm/pdftotext missing; run this script as root to install poppler-utils" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null
pdftoppm -v 2>&1 | head -1
