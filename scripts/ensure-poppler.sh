#!/usr/bin/env bash
# pdftoppm and pdftotext (Debian poppler-utils) for the board-pack test (tests/test_report.py), which
# renders the PDF to images, when missing.
set -euo pipefail
exec "$(dirname "$0")/ensure-apt.sh" pdftoppm=poppler-utils pdftotext=poppler-utils
