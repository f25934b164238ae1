#!/usr/bin/env bash
# Make sure jq is there: docs/observability.md reads JSON logs with it, and the docs test
# (tests/docs) runs that command as written. Debian's package, installed with apt when missing.
set -euo pipefail
say() { printf '[jq] %s\n' "$*"; }
die() { printf '[jq] ERROR: %s\n' "$*" >&2; exit 1; }

command -v jq >/dev/null && exit 0

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

say "jq is not installed: installing Debian's package with apt-get"
as_root apt-get update -q >/dev/null || die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q jq >/dev/null \
  || die "apt-get install jq failed"
say "installed $(jq --version)"
