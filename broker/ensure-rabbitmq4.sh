#!/usr/bin/env bash
# Make sure a RabbitMQ 4 node answers beside the machine's 3.10 one, without Docker.
#   - makes a private Debian 13 (trixie) root with its rabbitmq-server (4.0.x, Erlang 27) by
#     debootstrap when it is missing (about a minute; the mirror is the machine's own apt mirror),
#   - mounts /proc, /dev, /sys and /tmp into it (/tmp so that nodes the tests lay out in a
#     temporary directory can be started from the root with the same paths),
#   - configures its node as RabbitMQ 4.3 behaves by default (global QoS and transient
#     non-exclusive queues denied), on ports of its own, with the management and Prometheus
#     plugins, and starts it under chroot when it is stopped,
#   - waits until AMQP, the management API and the metrics answer.
# The node shares the machine's epmd with the 3.10 node (which keeps 5672).
# Settings (environment): RABBITMQ4_ROOT (default /var/lib/shopflow/rabbitmq4-root),
# RABBITMQ4_PORT (5673), RABBITMQ4_MANAGEMENT_PORT (15673), RABBITMQ4_PROMETHEUS_PORT (15693),
# RABBITMQ4_DIST_PORT (25673). `make rabbitmq4` passes the Makefile's root and ports, which
# `make test-rabbitmq4` then points the tests at.
set -euo pipefail

ROOT="${RABBITMQ4_ROOT:-/var/lib/shopflow/rabbitmq4-root}"
AMQP_PORT="${RABBITMQ4_PORT:-5673}"
MGMT_PORT="${RABBITMQ4_MANAGEMENT_PORT:-15673}"
PROM_PORT="${RABBITMQ4_PROMETHEUS_PORT:-15693}"
DIST_PORT="${RABBITMQ4_DIST_PORT:-25673}"
NODE="rabbit4@localhost"
WAIT_SECONDS="${BROKER_WAIT_SECONDS:-120}"

say() { printf '[rabbitmq4] %s\n' "$*"; }
die() { printf '[rabbitmq4] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

amqp_up() { (exec 3<>"/dev/tcp/127.0.0.1/${AMQP_PORT}") 2>/dev/null; }
mgmt_up() { curl -fsS -o /dev/null --max-time 3 -u guest:guest "http://127.0.0.1:${MGMT_PORT}/api/overview"; }
metrics_up() { curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:${PROM_PORT}/metrics"; }

mounted() { mountpoint -q "$1"; }
mount_into_root() {
  mounted "$ROOT/proc" || as_root mount -t proc proc "$ROOT/proc"
  mounted "$ROOT/dev" || as_root mount --bind /dev "$ROOT/dev"
  mounted "$ROOT/sys" || as_root mount --bind /sys "$ROOT/sys"
  mounted "$ROOT/tmp" || as_root mount --bind /tmp "$ROOT/tmp"
}

if [[ -x "$ROOT/usr/lib/rabbitmq/bin/rabbitmq-server" ]] && amqp_up && mgmt_up && metrics_up; then
  mount_into_root
  say "RabbitMQ 4 is up: AMQP 127.0.0.1:${AMQP_PORT}, management http://127.0.0.1:${MGMT_PORT}"
  exit 0
fi

if [[ ! -x "$ROOT/usr/lib/rabbitmq/bin/rabbitmq-server" ]]; then
  command -v debootstrap >/dev/null || {
    say "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q debootstrap >/dev/null \
      || die "apt-get install debootstrap failed"
  }
  mirror=$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -v security | head -1 | sed 's/^URIs: *//')
  mirror="${mirror:-${RABBITMQ4_MIRROR:-http://deb.debian.org/debian}}"
  say "making a Debian trixie root with rabbitmq-server in $ROOT (mirror $mirror)"
  partial="$ROOT.partial"
  as_root rm -rf "$partial"
  as_root mkdir -p "$(dirname "$ROOT")"
  as_root debootstrap --variant=minbase --include=rabbitmq-server trixie "$partial" "$mirror" \
    > /tmp/shopflow-debootstrap.log 2>&1 \
    || die "debootstrap failed (see /tmp/shopflow-debootstrap.log)"
  as_root rm -rf "$ROOT"
  as_root mv "$partial" "$ROOT"
fi

# The node's settings: rewritten each time so that a changed port takes effect at the next start.
grep -q '^127.0.0.1 localhost' "$ROOT/etc/hosts" 2>/dev/null \
  || echo '127.0.0.1 localhost' | as_root tee -a "$ROOT/etc/hosts" >/dev/null
as_root tee "$ROOT/etc/rabbitmq/rabbitmq-env.conf" >/dev/null <<EOF
NODENAME=${NODE}
DIST_PORT=${DIST_PORT}
EOF
as_root tee "$ROOT/etc/rabbitmq/rabbitmq.conf" >/dev/null <<EOF
listeners.tcp.default = 127.0.0.1:${AMQP_PORT}
management.tcp.ip = 127.0.0.1
management.tcp.port = ${MGMT_PORT}
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = ${PROM_PORT}
loopback_users.guest = true
# RabbitMQ 4.3's defaults, on this 4.0 node: both are denied there.
deprecated_features.permit.transient_nonexcl_queues = false
deprecated_features.permit.global_qos = false
EOF
echo '[rabbitmq_management,rabbitmq_prometheus].' | as_root tee "$ROOT/etc/rabbitmq/enabled_plugins" >/dev/null

mount_into_root
in_root() { as_root chroot "$ROOT" env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="$NODE" "$@"; }

if ! in_root /usr/lib/rabbitmq/bin/rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
  say "starting ${NODE} from $ROOT"
  in_root /usr/lib/rabbitmq/bin/rabbitmq-server -detached \
    || die "rabbitmq-server -detached failed in $ROOT"
fi
deadline=$((SECONDS + WAIT_SECONDS))
until in_root /usr/lib/rabbitmq/bin/rabbitmq-diagnostics -q check_running >/dev/null 2>&1; do
  (( SECONDS < deadline )) || die "${NODE} did not start within ${WAIT_SECONDS}s (see $ROOT/var/log/rabbitmq/)"
  sleep 1
done
until amqp_up && mgmt_up && metrics_up; do
  (( SECONDS < deadline )) || die "${NODE}: AMQP ${AMQP_PORT}, management ${MGMT_PORT} or metrics ${PROM_PORT} did not answer within ${WAIT_SECONDS}s"
  sleep 1
done
say "RabbitMQ $(in_root /usr/lib/rabbitmq/bin/rabbitmqctl -q version 2>/dev/null || echo '?') is up: AMQP 127.0.0.1:${AMQP_PORT}, management http://127.0.0.1:${MGMT_PORT}, metrics http://127.0.0.1:${PROM_PORT}/metrics"
