#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for kefu's tests and prints the
# connection string of its maintenance database on stdout, for
# KEFU_TEST_POSTGRES_DSN:
#
#   export KEFU_TEST_POSTGRES_DSN=$(bash scripts/pg-start.sh)
#
# It installs Debian's postgresql package when no server binaries are found
# (apt-get, as root), keeps the cluster in PGTEST_DIR (default: a new
# temporary directory) and listens on loopback only, on PGTEST_PORT
# (default 55432). A server already answering on that port is reused.
# Stop it with: pg_ctl -D "$PGTEST_DIR" stop (as the user that started it).
set -euo pipefail

port=${PGTEST_PORT:-55432}
dsn="postgres://kefu@127.0.0.1:$port/postgres?sslmode=disable"

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

if ! bin=$(find_bin); then
  echo "pg-start: installing postgresql from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
  echo "$dsn"
  exit 0
fi

dir=${PGTEST_DIR:-$(mktemp -d /tmp/kefu-pg.XXXXXX)}
mkdir -p "$dir"
run=()
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root; the package's postgres user runs it.
  id postgres >/dev/null 2>&1 || useradd --system --home "$dir" postgres
  chown -R postgres "$dir"
  run=(runuser -u postgres --)
fi
if [ ! -f "$dir/PG_VERSION" ]; then
  "${run[@]}" "$bin/initdb" -D "$dir" -U kefu --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
"${run[@]}" "$bin/pg_ctl" -D "$dir" -w -l "$dir/server.log" \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2
echo "$dsn"
