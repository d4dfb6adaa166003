#!/usr/bin/env bash
# axe-core (pinned in requirements/axe/package-lock.json) for the dashboards' accessibility check in
# the browser tests. Installed with npm into the state folder; only when missing or the lock changed.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$REPO/.spw/tools/axe"  # the repo state folder, whatever SPW_HOME the tests set
LOCK="$REPO/requirements/axe/package-lock.json"

if [ -f "$DEST/node_modules/axe-core/axe.min.js" ] && cmp -s "$LOCK" "$DEST/package-lock.json"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js (apt-get install nodejs npm) for the accessibility check" >&2
  exit 1
fi
mkdir -p "$DEST"
cp "$REPO/requirements/axe/package.json" "$LOCK" "$DEST/"
npm ci --prefix "$DEST" --ignore-scripts --no-audit --no-fund --loglevel=error
