#!/usr/bin/env bash
# Make sure the PostgreSQL that the test suite uses answers on 127.0.0.1:5432.
# Installs it with apt when missing, starts an installed but stopped cluster, waits until ready.
# The tests connect as user `postgres` without a password (trust auth, as on the dev machines);
# elsewhere set TEST_POSTGRES_DSN (a libpq DSN of a user that may CREATE DATABASE).
set -euo pipefail
say() { printf '[postgres] %s\n' "$*"; }
die() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${TEST_POSTGRES_DSN:-}" ]]; then
  say "TEST_POSTGRES_DSN is set: using that server"
  exit 0
fi
up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
up && exit 0

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

if ! command -v pg_ctlcluster >/dev/null; then
  say "PostgreSQL is not installed: installing it with apt-get"
  as_root apt-get update -q >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q postgresql >/dev/null \
    || die "apt-get install postgresql failed"
fi
version=$(ls /etc/postgresql | sort -V | tail -1)
[[ -n "$version" ]] || die "no PostgreSQL cluster found in /etc/postgresql"
say "starting PostgreSQL $version"
as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 60); do up && { say "PostgreSQL is up"; exit 0; }; sleep 1; done
die "PostgreSQL did not answer on 127.0.0.1:5432 within 60s (see /var/log/postgresql/)"
