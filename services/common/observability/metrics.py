"""Every Prometheus metric shopflow's processes export, defined once (docs/observability.md).

Each process exports the ones its code moves, plus `prometheus_client`'s `process_*` and
`python_*` series. The Grafana dashboard (`deploy/grafana/dashboards/shopflow.json`) queries these
names, and a test checks that every name it uses is defined here or by RabbitMQ.

Labels stay few and bounded: queue, exchange and event type come from the topology, never from a
message (an unknown type is counted as `(invalid)`), and reasons are a short fixed list.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INVALID_TYPE = "(invalid)"
# Handlers and publishes take milliseconds; a stuck one shows up in the last buckets.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# -- the orders API ------------------------------------------------------------------------------

ORDERS_ACCEPTED = Counter(
    "shopflow_orders_accepted", "New orders accepted by POST /orders (202, not a replay)"
)
ORDERS_REPLAYED = Counter(
    "shopflow_orders_replayed", "POST /orders answered with an earlier order (Idempotency-Key)"
)
ORDERS_REFUSED = Counter(
    "shopflow_orders_refused",
    "POST /orders refused, by the error code of the answer",
    ["reason"],
)
HTTP_REQUESTS = Counter(
    "shopflow_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "shopflow_http_request_duration_seconds",
    "Time from request to the end of the answer",
    ["method", "route"],
    buckets=_FAST,
)
HTTP_IN_PROGRESS = Gauge(
    "shopflow_http_requests_in_progress",
    "Requests being answered now (an open event stream counts until it closes)",
    ["method", "route"],
)

# -- the workers: ingress and tasks --------------------------------------------------------------

EVENTS_CONSUMED = Counter(
    "shopflow_events_consumed",
    "Events taken off an event queue (valid or not)",
    ["queue", "event_type"],
)
EVENTS_HANDLED = Counter(
    "shopflow_events_handled",
    "Events whose handler finished (duplicates included)",
    ["queue", "event_type"],
)
EVENTS_RETRIED = Counter(
    "shopflow_events_retried",
    "Handler runs that failed transiently and were scheduled again",
    ["queue", "event_type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "shopflow_events_dead_lettered",
    "Events rejected into a DLQ: `queue` is the queue whose DLQ got it",
    ["queue", "event_type", "reason"],
)
RETRY_PUBLISH_FAILURES = Counter(
    "shopflow_retry_publish_failures",
    "First attempts whose retry could not be put on the private task queue (the event is requeued)",
    ["queue"],
)
HANDLER_DURATION = Histogram(
    "shopflow_handler_duration_seconds",
    "Time one handler run took, by how it ended",
    ["queue", "event_type", "outcome"],
    buckets=_FAST,
)

# -- the relays ----------------------------------------------------------------------------------

RELAY_PUBLISHED = Counter(
    "shopflow_relay_published", "Outbox rows published and confirmed", ["exchange", "event_type"]
)
RELAY_FAILURES = Counter(
    "shopflow_relay_publish_failures",
    "Passes that stopped at a row the broker did not confirm",
    ["exchange", "kind"],
)
RELAY_CONFIRM_LATENCY = Histogram(
    "shopflow_relay_confirm_latency_seconds",
    "From a pass's first publish to the broker's last confirm of it",
    ["exchange"],
    buckets=_FAST,
)
OUTBOX_BACKLOG = "shopflow_outbox_backlog"  # gauges read at scrape time (outbox_backlog.py)
OUTBOX_OLDEST_AGE = "shopflow_outbox_oldest_pending_age_seconds"

# -- retention: the relays prune their outbox, the workers their inbox --------------------------

RETENTION_PRUNED = Counter(
    "shopflow_retention_pruned_rows",
    "Rows deleted because they outlived their retention (services/common/retention.py)",
    ["table"],
)

# -- beat, email, the SMTP sink ------------------------------------------------------------------

BEAT_SENT = Counter("shopflow_beat_sent", "Periodic tasks beat put on the queue", ["task"])
MAILS_SENT = Counter("shopflow_mails_sent", "Mails the SMTP server accepted", ["template"])
SINK_MAILS = Counter("shopflow_sink_mails", "Mails the development SMTP sink answered", ["outcome"])
