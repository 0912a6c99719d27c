#!/usr/bin/env bash
# Run a command with a throwaway Redis server and HUB_TEST_REDIS_URL pointing at it (the
# shared rate budgets and the Celery broker of the scale-out tests). Uses an existing
# HUB_TEST_REDIS_URL as is. Installs Debian's redis-server with apt where it is missing and
# apt is usable (root), as with-postgres.sh installs PostgreSQL; without a server the Redis
# tests are skipped, not failed.
set -euo pipefail

if [ -n "${HUB_TEST_REDIS_URL:-}" ]; then exec "$@"; fi

if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "with-redis: installing redis-server (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) >&2 || true
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "with-redis: no redis-server found; the Redis tests will be skipped" >&2
  exec "$@"
fi

dir=$(mktemp -d /tmp/hub-redis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# no persistence: a throwaway server for one test run; 64 databases, one per scale-out test (tests/scale)
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --databases 64 \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null

cleanup() {
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 0.05
done

export HUB_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "with-redis: Redis on 127.0.0.1:$port" >&2
"$@"
