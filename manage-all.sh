#!/usr/bin/env bash
# The whole suite on one machine: ./manage-all.sh --help.
#
# This file only makes sure the virtualenv exists and holds the pinned
# requirements; everything else is the manage_all package (Python, linted and
# typed): the catalog of processes, supervisord to run them, the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VAR_DIR="${VAR_DIR:-$ROOT/var}"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

die() { printf 'manage-all: %s\n' "$*" >&2; exit 1; }

# Create .venv on the first run; install again whenever a requirements file changes.
ensure_venv() {
  local python="${PYTHON:-python3}" stamp="$VENV/.requirements.sha256" wanted
  if [ ! -x "$PY" ]; then
    command -v "$python" >/dev/null || die "$python not found; set PYTHON to a Python 3.11+ interpreter"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
      die "$python is older than 3.11; set PYTHON to a newer interpreter"
    printf 'Creating %s ...\n' "$VENV"
    "$python" -m venv "$VENV"
  fi
  wanted="$(cat "$ROOT"/requirements-dev.txt "$ROOT"/*_project/requirements.txt \
    "$ROOT"/shared/pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    printf 'Installing dependencies into %s (first run, or requirements changed) ...\n' "$VENV"
    mkdir -p "$VAR_DIR/log"
    if ! (cd "$ROOT" && "$PY" -m pip install --disable-pip-version-check \
      -r requirements-dev.txt >"$VAR_DIR/log/pip-install.log" 2>&1); then
      tail -n 30 "$VAR_DIR/log/pip-install.log" >&2
      die "pip install failed; the whole output is in $VAR_DIR/log/pip-install.log"
    fi
    echo "$wanted" >"$stamp"
  fi
}

case "${1:-}" in
  -h | --help | help | "") ;;
  *) ensure_venv ;;
esac
[ -x "$PY" ] || ensure_venv
cd "$ROOT"
exec "$PY" -m manage_all "$@"
