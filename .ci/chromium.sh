#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (driven by playwright-core) when
# /usr/bin/chromium is missing, and prints the line to export:
#   eval "$(.ci/chromium.sh)"      # then: npx vitest run test/server/dashboard.test.ts
# Idempotent; needs root (or sudo) and apt on a fresh machine. Only the export line goes to stdout.
set -euo pipefail

BIN=/usr/bin/chromium
log() { echo "chromium.sh: $*" >&2; }

if [ ! -x "$BIN" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "chromium is not installed and we are not root"; exit 1; }
    SUDO="sudo"
  fi
  command -v apt-get >/dev/null || { log "chromium is not installed and there is no apt-get"; exit 1; }
  log "installing chromium (apt-get)…"
  # Another apt run (the PostgreSQL set-up) may hold the lock: wait for it rather than fail.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends chromium fonts-dejavu-core >&2
fi

echo "export IAMWARDEN_TEST_CHROMIUM=$BIN"
