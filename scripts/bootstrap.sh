#!/usr/bin/env bash
# Install what is missing: uv in a project-local tools venv, then the four venvs from the committed
# locks (airflow, dbt, superset, spark; `databricks.lock` is documented, not installed). Re-running is quick: a venv is re-synced only when its lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."
SPW_HOME=${SPW_HOME:-$PWD/.spw}
VENVS=${SPW_VENVS:-$SPW_HOME/venvs}
t0=$(date +%s)
say() { printf '[%5ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

# A system interpreter (not one under /root) so that non-root processes can use the venvs too.
PY=${SPW_PYTHON:-}
for cand in /usr/bin/python3.11 "$(command -v python3.11 || true)" "$(command -v python3 || true)"; do
  if [ -z "$PY" ] && [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    PY=$cand
  fi
done
[ -n "$PY" ] || { echo "Python 3.11 is required (set SPW_PYTHON to its path)." >&2; exit 2; }

# The in-repo state folder is its own (empty) git repository, so `git clean -fdx` leaves the database,
# secrets and key alone (git keeps nested repositories unless given -ff); see docs/operations.md.
if [ "$SPW_HOME" = "$PWD/.spw" ] && [ ! -e "$SPW_HOME/.git" ] && command -v git >/dev/null; then
  mkdir -p "$SPW_HOME" && git init --quiet "$SPW_HOME"
fi

UV=$SPW_HOME/tools/bin/uv
if [ ! -x "$UV" ]; then
  say "installing uv into $SPW_HOME/tools"
  "$PY" -m venv "$SPW_HOME/tools"
  "$SPW_HOME/tools/bin/pip" install --quiet --disable-pip-version-check uv
fi

for env in airflow dbt superset spark; do
  lock=requirements/$env.lock
  stamp=$VENVS/$env/.lock.sha256
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  say "installing venv '$env' from $lock"
  [ -x "$VENVS/$env/bin/python" ] || "$UV" venv --quiet --python "$PY" "$VENVS/$env"
  VIRTUAL_ENV=$VENVS/$env "$UV" pip sync --quiet "$lock"
  if [ "$env" = airflow ] || [ "$env" = spark ]; then
    VIRTUAL_ENV=$VENVS/$env "$UV" pip install --quiet --no-deps -e .
  fi
  echo "$want" > "$stamp"
done
# The editable install is cheap to verify and may be missing after a fresh clone at the same path.
for env in airflow spark; do
  "$VENVS/$env/bin/python" -c 'import spw' 2>/dev/null || VIRTUAL_ENV=$VENVS/$env "$UV" pip install --quiet --no-deps -e .
done
say "environments ready ($(du -sh "$VENVS" 2>/dev/null | cut -f1) in $VENVS)"
