#!/usr/bin/env bash
# Make sure the browser tests (tests/browser) have a Chromium: Debian's package, installed with
# apt when missing. Nothing downloads a browser of its own (Playwright's `install` would): the
# tests drive this one through Playwright with `executable_path`.
# SHOPFLOW_CHROMIUM names another Chromium binary to use instead (it must exist).
set -euo pipefail
say() { printf '[chromium] %s\n' "$*"; }
die() { printf '[chromium] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${SHOPFLOW_CHROMIUM:-}" ]]; then
  [[ -x "$SHOPFLOW_CHROMIUM" ]] || die "SHOPFLOW_CHROMIUM=$SHOPFLOW_CHROMIUM is not an executable"
  say "using $SHOPFLOW_CHROMIUM (SHOPFLOW_CHROMIUM)"
  exit 0
fi
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

say "Chromium is not installed: installing Debian's package with apt-get"
as_root apt-get update -q >/dev/null || die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q chromium >/dev/null \
  || die "apt-get install chromium failed"
[[ -x /usr/bin/chromium ]] || die "the chromium package did not install /usr/bin/chromium"
say "installed $(/usr/bin/chromium --version 2>/dev/null | tail -1)"
