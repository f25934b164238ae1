#!/usr/bin/env bash
# Make sure a local RabbitMQ answers on 127.0.0.1 with the management and Prometheus plugins.
#   - installs rabbitmq-server with apt when it is missing,
#   - enables rabbitmq_management and rabbitmq_prometheus (metrics on 15692),
#   - starts the node when it is installed but stopped,
#   - waits until AMQP (5672), the management API (15672) and the metrics (15692) answer.
# Exits non-zero with a message naming the missing piece when it cannot.
# Set BROKER_BOOTSTRAP=skip to use a broker you run yourself (e.g. the compose one).
set -euo pipefail

AMQP_PORT="${BROKER_PORT:-5672}"
MGMT_URL="${BROKER_MANAGEMENT_URL:-http://127.0.0.1:15672}"
PROMETHEUS_URL="${BROKER_PROMETHEUS_URL:-http://127.0.0.1:15692}"
PLUGINS=(rabbitmq_management rabbitmq_prometheus)
WAIT_SECONDS="${BROKER_WAIT_SECONDS:-120}"

say() { printf '[broker] %s\n' "$*"; }
die() { printf '[broker] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ "${BROKER_BOOTSTRAP:-}" == "skip" ]]; then
  say "BROKER_BOOTSTRAP=skip: not touching the local RabbitMQ"
  exit 0
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

amqp_up() { (exec 3<>"/dev/tcp/127.0.0.1/${AMQP_PORT}") 2>/dev/null; }
mgmt_up() { curl -fsS -o /dev/null --max-time 3 "${MGMT_URL}/api/overview" -u "${BROKER_ADMIN_USER:-guest}:${BROKER_ADMIN_PASSWORD:-guest}"; }
metrics_up() { curl -fsS -o /dev/null --max-time 3 "${PROMETHEUS_URL}/metrics"; }

if amqp_up && mgmt_up && metrics_up; then
  say "RabbitMQ is up with the management UI (${MGMT_URL}) and metrics (${PROMETHEUS_URL}/metrics)"
  exit 0
fi

command -v curl >/dev/null || as_root apt-get install -y -q curl >/dev/null || die "curl is missing and apt-get could not install it"

if ! command -v rabbitmq-server >/dev/null; then
  say "rabbitmq-server is not installed: installing it with apt-get"
  command -v apt-get >/dev/null || die "rabbitmq-server is missing and there is no apt-get; install RabbitMQ 3.10+ yourself"
  as_root apt-get update -q >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q rabbitmq-server >/dev/null \
    || die "apt-get install rabbitmq-server failed"
fi

node_running() { as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

if ! node_running; then
  say "RabbitMQ is installed but not running: starting it"
  as_root rabbitmq-plugins --offline enable "${PLUGINS[@]}" >/dev/null \
    || die "could not enable ${PLUGINS[*]} offline"
  if [[ -d /run/systemd/system ]]; then
    as_root systemctl start rabbitmq-server || die "systemctl start rabbitmq-server failed"
  else
    as_root rabbitmq-server -detached || die "rabbitmq-server -detached failed"
  fi
  deadline=$((SECONDS + WAIT_SECONDS))
  until as_root rabbitmq-diagnostics -q check_running >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "RabbitMQ did not finish starting within ${WAIT_SECONDS}s (see /var/log/rabbitmq/)"
    sleep 1
  done
fi

for plugin in "${PLUGINS[@]}"; do
  if ! as_root rabbitmq-plugins -q list -e "${plugin}" 2>/dev/null | grep -q 'E\*\|\[E'; then
    say "enabling the ${plugin} plugin"
    as_root rabbitmq-plugins -q enable "${plugin}" >/dev/null \
      || die "rabbitmq-plugins enable ${plugin} failed"
  fi
done

deadline=$((SECONDS + WAIT_SECONDS))
until amqp_up; do
  (( SECONDS < deadline )) || die "nothing answers AMQP on 127.0.0.1:${AMQP_PORT} after ${WAIT_SECONDS}s"
  sleep 1
done
until mgmt_up; do
  (( SECONDS < deadline )) || die "the management API at ${MGMT_URL} did not answer within ${WAIT_SECONDS}s (plugin enabled? credentials BROKER_ADMIN_USER/BROKER_ADMIN_PASSWORD right?)"
  sleep 1
done
until metrics_up; do
  (( SECONDS < deadline )) || die "the Prometheus metrics at ${PROMETHEUS_URL}/metrics did not answer within ${WAIT_SECONDS}s (rabbitmq_prometheus enabled?)"
  sleep 1
done
say "RabbitMQ $(as_root rabbitmqctl -q version 2>/dev/null || echo '?') is up; management UI at ${MGMT_URL}, metrics at ${PROMETHEUS_URL}/metrics"
