"""Make a vhost match the topology definition, or report how it differs.

    python -m broker.provision apply   # create/update what differs; a second run changes nothing
    python -m broker.provision check   # report drift; exit 1 if there is any
    python -m broker.provision show    # print the definition as JSON

It talks only to the management HTTP API, so the same code provisions the local broker and the
compose one. Every change is computed first (a plan), then applied or printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError

from broker.management import ManagementClient, ManagementError
from broker.settings import ProvisionSettings
from services.common import topology as topo

# Objects that Celery workers and clients declare for themselves; not drift.
_SELF_DECLARED_EXCHANGES = {"celeryev", "celery.pidbox", "reply.celery.pidbox"}


@dataclass
class Change:
    what: str  # e.g. "create queue inventory.orders"
    detail: str
    action: Callable[[], None] | None  # None: cannot be fixed automatically

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}" if self.detail else self.what


def password_matches(password_hash: str, password: str, algorithm: str) -> bool:
    """RabbitMQ's hash is base64(salt[4] + H(salt + password)); compare without changing it."""
    hashers = {
        "rabbit_password_hashing_sha256": hashlib.sha256,
        "rabbit_password_hashing_sha512": hashlib.sha512,
        "rabbit_password_hashing_md5": hashlib.md5,
    }
    hasher = hashers.get(algorithm)
    if hasher is None or not password_hash:
        return False
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hasher(salt + password.encode()).digest() == digest


class Planner:
    """Compares the broker with a `Topology` and yields the changes that would make them equal."""

    def __init__(
        self, api: ManagementClient, topology: topo.Topology, settings: ProvisionSettings
    ) -> None:
        self.api = api
        self.t = topology
        self.settings = settings
        self.vhost = topology.vhost

    def plan(self) -> list[Change]:
        changes = list(self._vhost())
        if changes:  # nothing else can be read before the vhost exists
            changes += self._users(existing_vhost=False)
            changes += self._everything_else(existing_vhost=False)
            return changes
        return changes + self._users(existing_vhost=True) + self._everything_else(True)

    def _p(self, *parts: str) -> str:
        return self.api.path(*parts)

    def _vhost(self) -> list[Change]:
        if self.api.get(self._p("vhosts", self.vhost)) is not None:
            return []
        return [
            Change(
                f"create vhost {self.vhost}",
                "",
                partial(self.api.put, self._p("vhosts", self.vhost), {}),
            )
        ]

    def _users(self, existing_vhost: bool) -> list[Change]:
        changes: list[Change] = []
        for user in self.t.users:
            password = self.settings.password_of(user).get_secret_value()
            current = self.api.get(self._p("users", user.name))
            wanted_tags = sorted(user.tags)
            if current is None:
                why = "missing"
            else:
                tags = current.get("tags") or []
                tags = sorted(tags.split(",") if isinstance(tags, str) else tags)
                tags = [t for t in tags if t]
                if tags != wanted_tags:
                    why = f"tags {tags} != {wanted_tags}"
                elif not password_matches(
                    current.get("password_hash", ""),
                    password,
                    current.get("hashing_algorithm", ""),
                ):
                    why = "password differs from the environment"
                else:
                    why = ""
            if why:
                body = {"password": password, "tags": ",".join(wanted_tags)}
                changes.append(
                    Change(
                        f"put user {user.name}",
                        why,
                        partial(self.api.put, self._p("users", user.name), body),
                    )
                )
            changes += self._permissions(user, existing_vhost and current is not None)
        return changes

    def _permissions(self, user: topo.UserSpec, can_read: bool) -> list[Change]:
        changes: list[Change] = []
        wanted = asdict(user.permissions)
        path = self._p("permissions", self.vhost, user.name)
        current = self.api.get(path) if can_read else None
        have = {k: current.get(k) for k in wanted} if current else None
        if have != wanted:
            changes.append(
                Change(
                    f"set permissions of {user.name}",
                    f"{have} -> {wanted}",
                    partial(self.api.put, path, wanted),
                )
            )
        tpath = self._p("topic-permissions", self.vhost, user.name)
        current_topics = (self.api.get(tpath) or []) if can_read else []
        have_topics = {
            t["exchange"]: {"write": t["write"], "read": t["read"]} for t in current_topics
        }
        wanted_topics = {
            t.exchange: {"write": t.write, "read": t.read} for t in user.topic_permissions
        }
        for exchange, perm in wanted_topics.items():
            if have_topics.get(exchange) != perm:
                body = {"exchange": exchange, **perm}
                changes.append(
                    Change(
                        f"set topic permissions of {user.name} on {exchange}",
                        str(perm),
                        partial(self.api.put, tpath, body),
                    )
                )
        for exchange in have_topics.keys() - wanted_topics.keys():
            changes.append(
                Change(
                    f"remove topic permissions of {user.name} on {exchange}",
                    "not in the definition",
                    partial(
                        self.api.delete,
                        self._p("topic-permissions", self.vhost, user.name, exchange),
                    ),
                )
            )
        return changes

    def _everything_else(self, existing_vhost: bool) -> list[Change]:
        return (
            self._exchanges(existing_vhost)
            + self._queues(existing_vhost)
            + self._bindings(existing_vhost)
            + self._policies(existing_vhost)
        )

    def _list(self, kind: str, existing_vhost: bool) -> list[dict[str, Any]]:
        if not existing_vhost:
            return []
        result: list[dict[str, Any]] = self.api.get(self._p(kind, self.vhost)) or []
        return result

    def _exchanges(self, existing_vhost: bool) -> list[Change]:
        have = {e["name"]: e for e in self._list("exchanges", existing_vhost)}
        changes: list[Change] = []
        for ex in self.t.exchanges:
            body = {
                "type": ex.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            cur = have.get(ex.name)
            if cur is None:
                changes.append(
                    Change(
                        f"create exchange {ex.name}",
                        ex.type,
                        partial(self.api.put, self._p("exchanges", self.vhost, ex.name), body),
                    )
                )
            elif (cur["type"], cur["durable"], cur["auto_delete"], cur.get("arguments") or {}) != (
                ex.type,
                True,
                False,
                {},
            ):
                changes.append(
                    Change(
                        f"exchange {ex.name} differs",
                        f"is {cur['type']} durable={cur['durable']} args={cur.get('arguments')}; "
                        "delete it by hand to let apply recreate it",
                        None,
                    )
                )
        known = {ex.name for ex in self.t.exchanges} | _SELF_DECLARED_EXCHANGES
        for name, cur in have.items():
            if name and not name.startswith("amq.") and name not in known and cur["durable"]:
                changes.append(Change(f"unexpected exchange {name}", "not in the definition", None))
        return changes

    def _queue_args(self) -> dict[str, Any]:
        return {"x-queue-type": self.t.queue_type.value}

    def _queues(self, existing_vhost: bool) -> list[Change]:
        have = {q["name"]: q for q in self._list("queues", existing_vhost)}
        changes: list[Change] = []
        args = self._queue_args()
        for q in self.t.queues:
            body = {"durable": True, "auto_delete": False, "arguments": args}
            cur = have.get(q.name)
            if cur is None:
                changes.append(
                    Change(
                        f"create queue {q.name}",
                        self.t.queue_type.value,
                        partial(self.api.put, self._p("queues", self.vhost, q.name), body),
                    )
                )
                continue
            cur_type = (cur.get("arguments") or {}).get("x-queue-type", cur.get("type"))
            if not cur["durable"] or cur["auto_delete"] or cur_type != self.t.queue_type.value:
                changes.append(
                    Change(
                        f"queue {q.name} differs",
                        f"is durable={cur['durable']} type={cur_type}; a queue's type cannot "
                        "change: drain and delete it, then apply again",
                        None,
                    )
                )
        known = {q.name for q in self.t.queues}
        for name, cur in have.items():
            if (
                name not in known
                and cur["durable"]
                and not cur["auto_delete"]
                and not cur.get("exclusive")
            ):
                changes.append(Change(f"unexpected queue {name}", "not in the definition", None))
        return changes

    def _bindings(self, existing_vhost: bool) -> list[Change]:
        have = [
            b
            for b in self._list("bindings", existing_vhost)
            if b["source"] and b["destination_type"] == "queue"
        ]
        have_keys = {(b["source"], b["destination"], b["routing_key"]) for b in have}
        wanted = {(b.exchange, b.queue, b.routing_key) for b in self.t.bindings}
        changes: list[Change] = []
        for source, dest, key in sorted(wanted - have_keys):
            changes.append(
                Change(
                    f"bind {source} -> {dest}",
                    f"routing key {key!r}",
                    partial(
                        self.api.post,
                        self._p("bindings", self.vhost, "e", source, "q", dest),
                        {"routing_key": key, "arguments": {}},
                    ),
                )
            )
        ours = {ex.name for ex in self.t.exchanges}
        for b in have:
            if (
                b["source"] in ours
                and (b["source"], b["destination"], b["routing_key"]) not in wanted
            ):
                changes.append(
                    Change(
                        f"unbind {b['source']} -> {b['destination']}",
                        f"routing key {b['routing_key']!r} is not in the definition",
                        partial(
                            self.api.delete,
                            self._p(
                                "bindings",
                                self.vhost,
                                "e",
                                b["source"],
                                "q",
                                b["destination"],
                                b["properties_key"],
                            ),
                        ),
                    )
                )
        return changes

    def _policies(self, existing_vhost: bool) -> list[Change]:
        have = {p["name"]: p for p in self._list("policies", existing_vhost)}
        changes: list[Change] = []
        for pol in self.t.policies:
            body = {
                "pattern": pol.pattern,
                "definition": pol.definition,
                "priority": pol.priority,
                "apply-to": pol.apply_to,
            }
            cur = have.get(pol.name)
            cur_body = {k: cur.get(k) for k in body} if cur else None
            if cur_body != body:
                changes.append(
                    Change(
                        f"put policy {pol.name}",
                        f"{pol.pattern} {pol.definition}",
                        partial(self.api.put, self._p("policies", self.vhost, pol.name), body),
                    )
                )
        for name in have.keys() - {p.name for p in self.t.policies}:
            changes.append(
                Change(
                    f"delete policy {name}",
                    "not in the definition",
                    partial(self.api.delete, self._p("policies", self.vhost, name)),
                )
            )
        return changes


def run(command: str, vhost: str | None = None, out: Callable[[str], None] = print) -> int:
    """Entry point shared by the CLI and the tests. Returns the exit code."""
    settings = ProvisionSettings()
    vhost = vhost or settings.broker.vhost
    topology = topo.build(vhost, settings.broker.queue_type)
    if command == "show":
        out(json.dumps(asdict(topology), indent=2, default=str))
        return 0
    with ManagementClient(
        settings.broker.management_url,
        settings.admin_user,
        settings.admin_password.get_secret_value(),
    ) as api:
        try:
            changes = Planner(api, topology, settings).plan()
            if command == "check":
                for change in changes:
                    out(f"drift: {change}")
                summary = f"{len(changes)} difference(s)" if changes else "in sync"
                out(f"vhost {vhost}: {summary}")
                return 1 if changes else 0
            manual = [c for c in changes if c.action is None]
            for change in changes:
                if change.action is not None:
                    change.action()
                    out(f"applied: {change}")
            for change in manual:
                out(f"needs you: {change}")
            if not changes:
                out(f"vhost {vhost}: already in sync, nothing changed")
            else:
                remaining = Planner(api, topology, settings).plan()
                for change in remaining:
                    if change.action is not None:
                        out(f"still different after apply: {change}")
                if any(c.action is not None for c in remaining):
                    return 1
            return 2 if manual else 0
        except ManagementError as exc:
            out(f"error: {exc}")
            return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m broker.provision",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["apply", "check", "show"])
    parser.add_argument("--vhost", help="default: $BROKER_VHOST or 'shop'")
    args = parser.parse_args(argv)
    try:
        return run(args.command, args.vhost)
    except ValidationError as exc:  # settings: a password variable is missing
        for err in exc.errors(include_url=False):
            name = "_".join(str(p) for p in err["loc"]).upper()
            print(
                f"error: setting {name} (BROKER_{name} or <SERVICE>_{name}): {err['msg']}; "
                "add it to .env (see .env.example)",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
