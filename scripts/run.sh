#!/usr/bin/env bash
# make run: installs what is missing, migrates, bootstraps, then runs the web server, the Celery
# worker and beat (and Redis when installed) together under honcho. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh run
export DATA_DIR="${DATA_DIR:-$PWD/.local}"
(umask 077 && mkdir -p "$DATA_DIR/run")  # private like the rest of DATA_DIR (settings make it 0700)
if [ -z "${REDIS_URL:-}" ] && command -v redis-server >/dev/null 2>&1; then
  port="${RUN_REDIS_PORT:-6389}"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$DATA_DIR/run" \
    --pidfile "$DATA_DIR/run/redis.pid" --logfile "$DATA_DIR/run/redis.log"
  trap 'kill "$(cat "$DATA_DIR/run/redis.pid")" 2>/dev/null || true' EXIT
  export REDIS_URL="redis://127.0.0.1:$port/0"
fi
.venv/bin/python manage.py migrate --no-input -v0
.venv/bin/python manage.py bootstrap
export PORT="${PORT:-8000}"
# The filesystem broker is safe with one consumer at a time; Redis takes a thread pool.
if [ -n "${REDIS_URL:-}" ]; then export CELERY_POOL="${CELERY_POOL:-threads}"; else export CELERY_POOL="${CELERY_POOL:-solo}"; fi
# The Palette simulator, so the whole flow can be tried without a Palette account. Its API key
# is kept in DATA_DIR so Settings saved against it keep working across restarts.
export SIM_PORT="${SIM_PORT:-8443}"
[ -s "$DATA_DIR/sim-api-key" ] || .venv/bin/python -c "import secrets; print('sim-' + secrets.token_urlsafe(24))" > "$DATA_DIR/sim-api-key"
chmod 600 "$DATA_DIR/sim-api-key"
export SIM_API_KEY="$(cat "$DATA_DIR/sim-api-key")"
export SIM_TLS_DIR="$DATA_DIR/sim"
# The simulator is on loopback, which is refused as a Palette address unless allowed (production: unset).
export PALETTE_ALLOWED_NETWORKS="${PALETTE_ALLOWED_NETWORKS:-127.0.0.0/8,::1/128}"
echo
echo "PaletteAI Admin:   http://127.0.0.1:$PORT/   (log in as ${ADMIN_USERNAME:-admin}; a password generated on first run is printed above once — set ADMIN_PASSWORD to choose one)"
echo "Palette simulator: https://127.0.0.1:$SIM_PORT   API key: $SIM_API_KEY   CA certificate: $SIM_TLS_DIR/ca.crt   tenant: PaletteAI Demo"
echo "                   (its project UIDs are printed by the sim process below; use the first, \"Default\")"
echo "Background work:   ${REDIS_URL:-filesystem broker in $DATA_DIR/broker}"
echo
.venv/bin/honcho -f Procfile start
