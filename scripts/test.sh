#!/usr/bin/env bash
# make test: installs what is missing, starts Redis and PostgreSQL on private loopback ports,
# runs the whole suite on PostgreSQL, and stops what it started (by PID) whatever happens.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/compute -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
export DATA_DIR="$PWD/.local/test-data"
export DJANGO_SETTINGS_MODULE=paletteai_admin.settings
# The suite's simulator and listeners run on loopback, which production refuses as a Palette address.
export PALETTE_ALLOWED_NETWORKS="${PALETTE_ALLOWED_NETWORKS:-127.0.0.0/8,::1/128}"
# Redis, PostgreSQL (and Chromium for the browser tests) are part of the run: one missing fails it, never skips
# (tests/conftest.py require_services). By hand, without this, such tests skip.
export REQUIRE_SERVICES=1
exec scripts/with-services.sh .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
