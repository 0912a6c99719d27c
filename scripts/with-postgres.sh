#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server and HUB_TEST_POSTGRES_URL pointing at it.
# Uses an existing HUB_TEST_POSTGRES_URL as is. Installs PostgreSQL with apt where initdb is
# missing and apt is usable; without a server the PostgreSQL tests are skipped, not failed.
set -euo pipefail

if [ -n "${HUB_TEST_POSTGRES_URL:-}" ]; then exec "$@"; fi

find_bin() {
  command -v "$1" 2>/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

initdb_bin=$(find_bin initdb || true)
if [ -z "$initdb_bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "with-postgres: installing PostgreSQL (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 || true
  initdb_bin=$(find_bin initdb || true)
fi
if [ -z "$initdb_bin" ]; then
  echo "with-postgres: no initdb found; PostgreSQL tests will be skipped" >&2
  exec "$@"
fi
bindir=$(dirname "$initdb_bin")

dir=$(mktemp -d /tmp/hub-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
run_as=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: run the server as the postgres user (created if missing).
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  run_as=(runuser -u postgres --)
fi

cleanup() {
  "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${run_as[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
"${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null

export HUB_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port" >&2
"$@"
