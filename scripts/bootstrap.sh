#!/usr/bin/env bash
# Idempotent set-up of a fresh clone: Python venv, npm packages (solc, OpenZeppelin, anvil) and the
# offline Solidity compiler. Sourced by scripts/up and scripts/test; quick when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${DEPIN_PYTHON:-}"
if [ -z "$PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY="$c"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "bootstrap: Python 3.11 is required (set DEPIN_PYTHON to its path)" >&2; exit 1; }
command -v npm >/dev/null || { echo "bootstrap: Node.js and npm are required (apt-get install nodejs npm)" >&2; exit 1; }

stamp() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

py_stamp=$(stamp pyproject.toml constraints.txt)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.depin-stamp 2>/dev/null)" != "$py_stamp" ]; then
  echo "bootstrap: installing Python packages into .venv (about a minute on a fresh machine)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
  echo "$py_stamp" > .venv/.depin-stamp
fi

npm_stamp=$(stamp package.json package-lock.json)
if [ ! -d node_modules ] || [ "$(cat node_modules/.depin-stamp 2>/dev/null)" != "$npm_stamp" ]; then
  echo "bootstrap: installing npm packages (solc, OpenZeppelin, anvil)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_stamp" > node_modules/.depin-stamp
fi

.venv/bin/python -m depin.toolchain setup
