#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1 for the test suite and prints the line to export:
#   eval "$(.ci/postgres.sh)"      # then: npx vitest run
# Idempotent: a second run reuses the cluster (starting it again if it stopped). Works on a fresh
# Debian 12 as root (installs Debian's `postgresql` package if missing) or as a user with the
# server binaries installed. Only the export line goes to stdout; progress goes to stderr.
# Stop it with: pg_ctl -D "$IAMWARDEN_PG_DATA" stop   (as the user that owns the data dir)
set -euo pipefail

PORT="${IAMWARDEN_PG_PORT:-54329}"
DATA="${IAMWARDEN_PG_DATA:-${TMPDIR:-/tmp}/iamwarden-pg-$PORT}"
DB=iamwarden_test
# A test-only role on a loopback-only server; SCRAM so the tests exercise password auth.
ROLE=iamwarden
PASSWORD=iamwarden
URL="postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
URL_FILE="${TMPDIR:-/tmp}/iamwarden-test-pg.url"

log() { echo "postgres.sh: $*" >&2; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(find_bin)" ] || [ ! -x "$(find_bin)/pg_ctl" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "PostgreSQL is not installed and we are not root"; exit 1; }
    SUDO="sudo"
  fi
  # We run our own cluster; the package's default one on 5432 is not needed.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  log "installing postgresql (apt-get)…"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
fi
BIN="$(find_bin)"

# initdb and postgres refuse to run as root: use the package's postgres user then.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  AS=(runuser -u postgres --)
  OWNER=postgres
else
  AS=()
  OWNER="$(id -un)"
fi

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "creating a cluster in $DATA"
  mkdir -p "$DATA"
  chown "$OWNER" "$DATA"
  chmod 700 "$DATA"
  PWFILE="$(mktemp)"
  echo "$PASSWORD" >"$PWFILE"
  chown "$OWNER" "$PWFILE"
  "${AS[@]}" "$BIN/initdb" -D "$DATA" --username="$ROLE" --pwfile="$PWFILE" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2
  rm -f "$PWFILE"
  # Test server: loopback only, socket in the data dir, durability traded for speed.
  cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

if "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "already running on 127.0.0.1:$PORT"
else
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    log "port $PORT is taken by another server; set IAMWARDEN_PG_PORT"
    exit 1
  fi
  log "starting on 127.0.0.1:$PORT"
  "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >&2
fi

export PGPASSWORD="$PASSWORD"
if [ "$("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$ROLE" "$DB"
fi

echo "$URL" >"$URL_FILE"
echo "export IAMWARDEN_TEST_PG=$URL"
