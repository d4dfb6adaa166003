#!/usr/bin/env bash
# Headless Chromium + chromedriver for the dashboard browser tests (Debian packages), when missing.
set -euo pipefail
exec "$(dirname "$0")/ensure-apt.sh" chromium=chromium chromedriver=chromium-driver
