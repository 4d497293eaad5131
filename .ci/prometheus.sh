#!/usr/bin/env bash
# Starts a throwaway Prometheus on 127.0.0.1 for the test suite and prints the lines to export:
#   eval "$(.ci/prometheus.sh)"      # then: npx vitest run
# Idempotent: a second run reuses the server (starting it again if it stopped). Works on a fresh
# Debian 12 as root (installs Debian's `prometheus` package if missing) or as a user with the
# binary installed. Only the export lines go to stdout; progress goes to stderr.
# Tests add scrape targets by writing file_sd JSON files into $IAMWARDEN_TEST_PROM_TARGETS
# (picked up within a second); each labels its targets so that its queries see only its own.
# Stop it with: kill "$(cat "$IAMWARDEN_PROM_DIR/prometheus.pid")"
set -euo pipefail

PORT="${IAMWARDEN_PROM_PORT:-59090}"
DIR="${IAMWARDEN_PROM_DIR:-${TMPDIR:-/tmp}/iamwarden-prom-$PORT}"
URL="http://127.0.0.1:$PORT"
URL_FILE="${TMPDIR:-/tmp}/iamwarden-test-prom.env"

log() { echo "prometheus.sh: $*" >&2; }

ready() { curl -fsS -m 2 "$URL/-/ready" >/dev/null 2>&1; }

if ! command -v curl >/dev/null; then
  log "curl is needed to see whether the server is up"
  exit 1
fi

if ! command -v prometheus >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "prometheus is not installed and we are not root"; exit 1; }
    SUDO="sudo"
  fi
  log "installing prometheus (apt-get)…"
  # The package's own service (port 9090) is not needed: policy-rc.d keeps it from starting.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
fi

mkdir -p "$DIR/targets" "$DIR/data"
# A short scrape interval so tests that move a counter see it within seconds.
cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: iamwarden-test
    file_sd_configs:
      - files: ["$DIR/targets/*.json"]
        refresh_interval: 1s
EOF

if ready; then
  log "already running on $URL"
else
  if [ -s "$DIR/prometheus.pid" ] && kill -0 "$(cat "$DIR/prometheus.pid")" 2>/dev/null; then
    log "a server from $DIR is running but not ready on $URL; set IAMWARDEN_PROM_PORT"
    exit 1
  fi
  log "starting on $URL (data in $DIR/data)"
  # setsid: the server outlives this script and the test run that started it, as PostgreSQL does.
  setsid prometheus \
    --config.file="$DIR/prometheus.yml" \
    --storage.tsdb.path="$DIR/data" \
    --storage.tsdb.retention.time=2h \
    --web.listen-address="127.0.0.1:$PORT" \
    >"$DIR/server.log" 2>&1 </dev/null &
  echo $! >"$DIR/prometheus.pid"
  for _ in $(seq 1 60); do
    ready && break
    sleep 0.5
  done
  if ! ready; then
    log "the server did not become ready; see $DIR/server.log"
    tail -n 20 "$DIR/server.log" >&2 || true
    exit 1
  fi
fi

printf 'IAMWARDEN_TEST_PROM=%s\nIAMWARDEN_TEST_PROM_TARGETS=%s\n' "$URL" "$DIR/targets" >"$URL_FILE"
echo "export IAMWARDEN_TEST_PROM=$URL"
echo "export IAMWARDEN_TEST_PROM_TARGETS=$DIR/targets"
