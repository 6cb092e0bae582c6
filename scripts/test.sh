#!/usr/bin/env bash
# make test: installs what is missing, starts Redis and PostgreSQL on private loopback ports,
# runs the whole suite on PostgreSQL, and stops what it started (by PID) whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
svc="$PWD/.local/test-services"
rm -rf "$svc"
trap 'scripts/services.sh stop "$svc"' EXIT
scripts/services.sh start "$svc"
export REDIS_URL="redis://127.0.0.1:${REDIS_PORT:-6390}/0"
export DATABASE_URL="postgres://postgres@127.0.0.1:${PG_PORT:-55432}/paletteai_admin"
export DATA_DIR="$PWD/.local/test-data"
export DJANGO_SETTINGS_MODULE=paletteai_admin.settings
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
