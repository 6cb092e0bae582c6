#!/usr/bin/env bash
# Runs a command with private Redis and PostgreSQL servers on free loopback ports, then stops them
# (by PID) whatever happens. Exports REDIS_URL and DATABASE_URL for the command.
# Usage: scripts/with-services.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
# A private folder and free ports per run, so two runs on one machine never share servers.
# Not under .local/ (DATA_DIR's default): that folder is private (0700) and PostgreSQL runs as its own user.
mkdir -p "$PWD/.services" && chmod 755 "$PWD/.services"
svc="$PWD/.services/run-$$"
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
"$@"
