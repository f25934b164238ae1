"""What the docs say a runnable command shows, and what is true once it ran.

Each entry is keyed by the command's line as the reader sees it (`Command.line`: continuation
lines joined, blanks collapsed, the comment included, since the comment often says what the
command prints). A changed command or comment is a changed key, and test_doc_markers.py fails
for an entry that no runnable command has any more: the table cannot drift from the docs.

A command without an entry must exit with 0, and that is all. An entry adds:
- `shows`: regular expressions (multi-line mode) that its output must match. `{order-id}`,
  `{message-id}`, `{file}` stand for the values a placeholder has at that moment (escaped);
- `hides`: expressions its output must not match;
- `status`: another exit status than 0, when the docs say so;
- `again`: the command only reads, and what it shows follows the system a moment later; it
  is run again, as a reader would, until it shows it (or the deadline passes);
- `then`: the name of a condition (`Reader.holds`) that must hold once it ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.readiness import PROBES
from services.common.registry import PROCESSES as REGISTERED
from services.common.topology import EMAIL_EVENTS_QUEUE, INVENTORY_EVENTS_QUEUE

# A placeholder of the docs, and where a reader finds its value: in an earlier command's output.
PLACEHOLDERS = {
    "<order-id>": r"(?im)^location: /orders/([0-9a-f-]+)\r?$",  # curl -si POST /orders
    "<message-id>": r"(?m)^- (\S+) type=",  # dead_letters show
    "<file>": r"(?m)^File: (\S+)\.eml$",  # services.email.sink show
}
PROCESSES = tuple(p.name for p in REGISTERED)
NOT_RUNNING = r"(STOPPED|EXITED|FATAL|STARTING|BACKOFF|STOPPING)"


@dataclass(frozen=True)
class Expect:
    shows: tuple[str, ...] = ()
    hides: tuple[str, ...] = ()
    status: int = 0
    again: bool = False
    then: str | None = None


# The conditions `then` names (the docs test checks them on the running system).
INVENTORY_WAITS = (
    f"the order's event waits in {INVENTORY_EVENTS_QUEUE}, none in {EMAIL_EVENTS_QUEUE}"
)
POISON_BACK = "the replayed poison event is dead again, in inventory.orders.dlq"
LOG_NAMES_POISON = "inventory-worker's log names the poison event's message id"
ALL_QUORUM = "every queue of the vhost is a quorum queue, as .env says now"
SCREENSHOT_MADE = "the screenshot is a new PNG"
CONDITIONS = (INVENTORY_WAITS, POISON_BACK, LOG_NAMES_POISON, ALL_QUORUM, SCREENSHOT_MADE)

ACCEPTED = r"^HTTP/1\.1 202 Accepted\r?$"
LOCATION = r"(?i)^location: /orders/[0-9a-f-]+\r?$"
STOPPED = {name: rf"^{name}: stopped$" for name in PROCESSES}
IN_SYNC = r"^vhost \S+: in sync$"
DEFINITION = r'^  "vhost": "\S+",$'

BODY = '{"customer_email": "ada@example.com", "lines": [{"sku": "MUG-BLUE", "quantity": %d}]}'
POST = "curl -si http://127.0.0.1:8000/orders -H 'Content-Type: application/json'"
RUNNER = ".venv/bin/python -m runner"
DEAD_LETTERS = ".venv/bin/python -m broker.dead_letters"
REPLAY = ".venv/bin/python -m broker.replay --service inventory"
SHIPMENTS = ".venv/bin/python -m services.shipping.cli shipments"
SHIPMENT = r"\S.* +[A-Z]{3}[0-9A-F]{10}  \d{4}-\d\d-\d\dT"  # carrier, tracking number, when
SHIPMENT_COUNT = r"^[1-9]\d* shipment\(s\)$"

EXPECTED: dict[str, Expect] = {
    # README.md: What you should see
    f"{POST} -H 'Idempotency-Key: my-first-order' -d '{BODY % 2}'": Expect(
        shows=(ACCEPTED, LOCATION)
    ),
    (
        "curl -s http://127.0.0.1:8000/orders "
        """-H "Authorization: Bearer $(sed -n 's/^ORDERS_OPERATOR_TOKEN=//p' .env)\""""
    ): Expect(shows=(r'^\{"items":\[\{"id":"', r'"total":[1-9]')),
    f"{RUNNER} stop inventory-worker # inventory-worker: stopped": Expect(
        shows=(STOPPED["inventory-worker"],)
    ),
    f"{RUNNER} status # inventory-worker STOPPED, the rest RUNNING": Expect(
        shows=(r"^inventory-worker +STOPPED ", r"^orders-api +RUNNING +pid \d+"),
        hides=(rf"^(?!inventory-worker )\S+ +{NOT_RUNNING}",),
        status=3,
    ),
    f"{POST} -d '{BODY % 1}'": Expect(
        shows=(ACCEPTED, LOCATION, r'"status":"PENDING"'), then=INVENTORY_WAITS
    ),
    'curl -s http://127.0.0.1:8000/orders/<order-id> # "status":"PENDING"': Expect(
        shows=(r'^\{"id":"{order-id}","status":"PENDING"',)
    ),
    f"{RUNNER} start inventory-worker # ready: inventory-worker (it consumes)": Expect(
        shows=(r"^inventory-worker: started$", r"^ready: inventory-worker$")
    ),
    'curl -s http://127.0.0.1:8000/orders/<order-id> # "status":"CONFIRMED"': Expect(
        shows=(r'^\{"id":"{order-id}","status":"CONFIRMED"',), again=True
    ),
    ".venv/bin/python -m services.inventory.cli stock # on hand, reserved, available per SKU": (
        Expect(shows=(r"^SKU +ON HAND +RESERVED +AVAILABLE$", r"^MUG-BLUE +\d+ +[1-9]\d* +\d+$"))
    ),
    f"{SHIPMENTS} # carrier and tracking number per order": Expect(
        shows=(rf"^{{order-id}}  {SHIPMENT}", SHIPMENT_COUNT), again=True
    ),
    ".venv/bin/python -m services.email.sink list # one line per mail, oldest first": Expect(
        shows=(
            r"to=ada@example\.com +subject='Order {order-id} received'",
            r"to=ada@example\.com +subject='Order {order-id} confirmed'",
            r"to=ada@example\.com +subject='Order {order-id} is on its way'",
        ),
        again=True,
    ),
    ".venv/bin/python -m services.email.sink show # the newest mail: headers and text": Expect(
        shows=(r"^Subject: Order \S+ ", r"^File: var/mail/\S+\.eml$")
    ),
    "make scenario": Expect(shows=(r"^ALL GOOD: (\d+)/\1 checks passed$",)),
    ".venv/bin/python -m scenario --orders 500 --json # a bigger run, the result as JSON": Expect(
        shows=(r'^  "ok": true,?$',)
    ),
    ".venv/bin/python -m scenario --keep-poison": Expect(
        shows=(r"^poison event in inventory\.orders\.dlq +present \(kept\)", r"^ALL GOOD: ")
    ),
    f"{DEAD_LETTERS} list # every DLQ and unroutable sink, with its count": Expect(
        shows=(r"^ +1 +inventory\.orders\.dlq$", r"^ +1 +email\.orders\.dlq$")
    ),
    f"{DEAD_LETTERS} show inventory.orders --newest": Expect(
        shows=(
            r"^inventory\.orders\.dlq: 1 message\(s\); the newest 1, oldest first:$",
            r"^- scenario-poison-\S+ type=None reason=rejected from=inventory\.orders "
            r"keys=\['order\.placed'\] at=",
        ),
        then=LOG_NAMES_POISON,
    ),
    # docs/operations.md
    f"{RUNNER} status # RUNNING (pid, uptime), STOPPED, EXITED (when)": Expect(
        shows=(r"^inventory-worker +RUNNING +pid \d+, uptime ",), hides=(rf" {NOT_RUNNING} ",)
    ),
    f"{RUNNER} stop inventory-worker # SIGTERM, SIGKILL after 20 s; the rest run on": Expect(
        shows=(STOPPED["inventory-worker"],)
    ),
    f'{RUNNER} start inventory-worker # waits for its readiness probe, says "ready"': Expect(
        shows=(r"^ready: inventory-worker$",)
    ),
    f"{RUNNER} restart orders-api # stop, then start": Expect(
        shows=(STOPPED["orders-api"], r"^orders-api: started$", r"^ready: orders-api$")
    ),
    f"{RUNNER} stop all # every process, but keep `make up` running": Expect(
        shows=tuple(STOPPED.values())
    ),
    f"{RUNNER} start all # every process again": Expect(
        shows=(rf"^ready: {', '.join(p for p in PROCESSES if p in PROBES)}$",)
    ),
    ".venv/bin/supervisorctl -c var/runner/supervisord.conf tail email-worker": Expect(
        shows=(r"\S",)
    ),
    "make check-topology # does the broker still match the definition?": Expect(shows=(IN_SYNC,)),
    ".venv/bin/python -m broker.provision show # the definition itself": Expect(
        shows=(DEFINITION,)
    ),
    f"{DEAD_LETTERS} show inventory.orders -n 5 # the total, then the oldest 5: reason, origin, "
    "time": Expect(shows=(r"^inventory\.orders\.dlq: 1 message\(s\); the oldest 1:$",)),
    f"{DEAD_LETTERS} show inventory.orders --newest # the last 10: what just died": Expect(
        shows=(r"^inventory\.orders\.dlq: 1 message\(s\); the newest 1, oldest first:$",)
    ),
    f"{DEAD_LETTERS} replay inventory.orders # back to the queue it died in": Expect(
        shows=(r"^replayed 1; kept 0 ",), then=POISON_BACK
    ),
    f"{DEAD_LETTERS} discard inventory.orders --id <message-id> # that one only": Expect(
        shows=(r"^discarded 1 message\(s\) from inventory\.orders\.dlq$",)
    ),
    f"{DEAD_LETTERS} purge inventory.orders --yes": Expect(
        shows=(r"^purged 0 messages from inventory\.orders\.dlq$",)
    ),
    "make reset # = .venv/bin/python -m services.inventory.manage reset-stock": Expect(
        shows=(
            r"^demo stock available again: 10 SKUs$",
            r"^removed 1 scenario poison event\(s\) in all$",
        )
    ),
    # docs/email.md
    ".venv/bin/python -m services.email.sink show 3 --part html": Expect(
        shows=(r"^<!DOCTYPE html>$",)
    ),
    ".venv/bin/python -m services.email.sink show <file>.eml --part raw": Expect(
        shows=(r"^MIME-Version: 1\.0$", r"^Content-Type: multipart/alternative")
    ),
    ".venv/bin/python -m services.email.manage init # create sent_emails (make databases does "
    "this)": Expect(shows=(r"^schema ready in sqlite:///var/email\.db$",)),
    # docs/event-log.md
    f"{REPLAY} --since 1h --dry-run # one line per event it would send": Expect(
        shows=(
            r"^orders\.log: read (nothing|offsets \d+-\d+); skipped ",
            r"^orders\.log@\d+  \S+  order\.(placed|expired)  \S+  -> inventory\.orders$",
            r"^dry run: would replay \d+ event\(s\) into inventory\.orders \(.*\); nothing sent$",
        )
    ),
    f"{REPLAY} --since 1h --type order.placed # sends them: each a no-op for inventory": Expect(
        shows=(r"^replayed \d+ event\(s\) into inventory\.orders \(order\.placed \d+\)$",)
    ),
    f"{REPLAY} --since-offset 999999999 2>&1 # refused: past the end, exit status 2": Expect(
        shows=(
            r"^error: --since-offset 999999999 is past the end of orders\.log, which ends at "
            r"offset \d+$",
        ),
        status=2,
    ),
    # docs/inventory.md
    ".venv/bin/python -m services.inventory.cli stock": Expect(
        shows=(r"^SKU +ON HAND +RESERVED +AVAILABLE$", r"^BOTTLE-STEEL +3 +0 +3$")
    ),
    ".venv/bin/python -m services.inventory.cli stock --json # for scripts": Expect(
        shows=(r'^    "sku": "MUG-BLUE",$',)
    ),
    ".venv/bin/python -m services.inventory.cli order <order-id> # RESERVED lines or shortages": (
        Expect(shows=(r'^  "order_id": "{order-id}",$', r'^  "status": "RESERVED",$'))
    ),
    # docs/shipping.md
    f"{SHIPMENTS} # order, carrier, tracking number, when": Expect(
        shows=(rf"^[0-9a-f-]{{36}}  {SHIPMENT}", SHIPMENT_COUNT)
    ),
    f"{SHIPMENTS} --json # for scripts": Expect(shows=(r'^    "tracking_number": "\S+",$',)),
    # docs/orders.md
    ".venv/bin/python -m services.orders.manage create-schema # tables (never done at import)": (
        Expect(shows=(r"^schema ready in sqlite:///var/orders\.db$",))
    ),
    ".venv/bin/python -m services.orders.manage seed-catalogue # the demo catalogue below": Expect(
        shows=(r"^catalogue seeded: 10 products$",)
    ),
    # docs/scaling.md: moving to quorum queues
    ".venv/bin/python -m broker.provision migrate": Expect(then=ALL_QUORUM),
    ".venv/bin/python -m broker.provision check": Expect(shows=(IN_SYNC,)),
    # docs/topology.md
    "make provision # = .venv/bin/python -m broker.provision apply (idempotent)": Expect(
        shows=(r"^vhost \S+: already in sync, nothing changed$",)
    ),
    "make check-topology # = .venv/bin/python -m broker.provision check (exit 1 on drift)": (
        Expect(shows=(IN_SYNC,))
    ),
    ".venv/bin/python -m broker.provision show # the definition as JSON": Expect(
        shows=(DEFINITION,)
    ),
    ".venv/bin/python -m broker.provision migrate # rebuild queues of the other type, messages "
    "kept": Expect(shows=(r"^vhost \S+: every queue is a quorum queue already$",)),
    # docs/writing-docs.md
    ".venv/bin/python -m tests.support.tour_screenshot": Expect(
        shows=(r"^saved docs/images/management-ui-inventory-waiting\.png: ",), then=SCREENSHOT_MADE
    ),
}
