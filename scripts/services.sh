#!/usr/bin/env bash
# Starts or stops private Redis and PostgreSQL servers on loopback, tracked by PID files.
# Usage: scripts/services.sh start|stop DIR   (ports from REDIS_PORT / PG_PORT, default 6390 / 55432)
set -euo pipefail
action="$1"; dir="$(realpath -m "$2")"
REDIS_PORT="${REDIS_PORT:-6390}"; PG_PORT="${PG_PORT:-55432}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
start)
  mkdir -p "$dir/redis" "$dir/pg"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir/pg"
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/pg.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  echo "Redis on 127.0.0.1:$REDIS_PORT (pid $(cat "$dir/redis/redis.pid")), PostgreSQL on 127.0.0.1:$PG_PORT (pid $(head -1 "$dir/pg/data/postmaster.pid"))"
  ;;
stop)
  if [ -f "$dir/redis/redis.pid" ]; then kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    pid="$(head -1 "$dir/pg/data/postmaster.pid")"
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  echo "Stopped Redis and PostgreSQL started in $dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
