#!/usr/bin/env bash
# make test: installs what is missing, starts Redis and PostgreSQL on private loopback ports,
# runs the whole suite on PostgreSQL, and stops what it started (by PID) whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
# A private folder and free ports per run, so two runs on one machine never share servers.
svc="$PWD/.local/test-services-$$"
read -r REDIS_PORT PG_PORT < <(.venv/bin/python -c "
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(('127.0.0.1', 0))
print(*[s.getsockname()[1] for s in socks])")
export REDIS_PORT PG_PORT
trap 'scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
scripts/services.sh start "$svc"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/paletteai_admin"
export DATA_DIR="$PWD/.local/test-data"
export DJANGO_SETTINGS_MODULE=paletteai_admin.settings
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
