#!/usr/bin/env bash
# Installs what is missing: Debian packages (as root only), the Python venv, npm front-end packages.
# Usage: scripts/install.sh [run|test]   — "test" also needs PostgreSQL and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "$mode" = test ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  [ -x /usr/bin/chromium ] || need+=(chromium)
fi
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif [ "$mode" = test ]; then
    echo "Missing Debian packages: ${need[*]}. Install them (sudo apt-get install ${need[*]}) and run again." >&2
    exit 1
  else
    echo "Note: ${need[*]} not installed and not root; running with the embedded filesystem broker instead of Redis."
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ]; then
  echo "Installing Python packages into .venv ..."
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import django, celery, playwright" && touch "$stamp"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "Installing front-end packages from npm ..."
  npm ci --no-audit --no-fund --loglevel=error
fi
