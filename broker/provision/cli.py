"""Make a vhost match the topology definition, or report how it differs.

    python -m broker.provision apply    # create/update what differs; a second run changes nothing
    python -m broker.provision check    # report drift; exit 1 if there is any
    python -m broker.provision show     # print the definition as JSON
    python -m broker.provision migrate  # rebuild the queues whose type differs from
                                        # BROKER_QUEUE_TYPE, keeping their messages; then apply

It talks to the management HTTP API (and `migrate` moves messages over AMQP, as the same admin
login), so the same code provisions the local broker, the compose one and a cluster. Every
change is computed first (a plan), then applied or printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict

from pika.exceptions import AMQPError
from pydantic import ValidationError

from broker.management import ManagementClient, ManagementError
from broker.provision.migrate import MigrationRefused, migrate
from broker.provision.plan import Change
from broker.provision.planner import plan, view
from broker.settings import ProvisionSettings
from services.common import topology as topo
from services.common.outbox.pika_publisher import connection_parameters, describe

Out = Callable[[str], None]


def run(
    command: str,
    vhost: str | None = None,
    out: Out = print,
    queue_type: topo.QueueType | None = None,
) -> int:
    """Entry point shared by the CLI and the tests. Returns the exit code. `queue_type`
    overrides BROKER_QUEUE_TYPE (tests provisioning a vhost of each type)."""
    settings = ProvisionSettings()
    vhost = vhost or settings.broker.vhost
    topology = topo.build(
        vhost, queue_type or settings.broker.queue_type, settings.event_log.retention
    )
    if command == "show":
        out(json.dumps(asdict(topology), indent=2, default=str))
        return 0
    with ManagementClient(
        settings.broker.management_url,
        settings.admin_user,
        settings.admin_password.get_secret_value(),
    ) as api:
        try:
            if command == "migrate" and not _migrated(api, topology, settings, out):
                return 2
            changes = plan(api, topology, settings)
            if command == "check":
                return _report_drift(changes, vhost, out)
            return _apply(changes, lambda: plan(api, topology, settings), vhost, out)
        except ManagementError as exc:
            out(f"error: {exc}")
            return 1
        except AMQPError as exc:
            out(f"error: {describe(exc)}")
            return 1


def _migrated(
    api: ManagementClient, topology: topo.Topology, settings: ProvisionSettings, out: Out
) -> bool:
    """`migrate`: rebuild the queues of the other type as the admin login, over AMQP. False
    (nothing touched) when a queue to rebuild has consumers."""
    broker = settings.broker.model_copy(update={"vhost": topology.vhost})
    urls = broker.amqp_urls(settings.admin_user, settings.admin_password)
    parameters = connection_parameters(urls, timeout=settings.broker.connect_timeout)
    try:
        migrate(view(api, topology.vhost), topology, parameters, out)
    except MigrationRefused as exc:
        out(f"refusing to migrate: {exc}")
        return False
    return True


def _report_drift(changes: list[Change], vhost: str, out: Out) -> int:
    """`check`: exit 1 if there is any difference."""
    for change in changes:
        out(f"drift: {change}")
    summary = f"{len(changes)} difference(s)" if changes else "in sync"
    out(f"vhost {vhost}: {summary}")
    return 1 if changes else 0


def _apply(changes: list[Change], replan: Callable[[], list[Change]], vhost: str, out: Out) -> int:
    """`apply`: 0 when in sync afterwards, 2 when a person must act, 1 when apply did not stick.
    A blocking difference (a queue of the wrong type) makes it change nothing at all."""
    blocking = [c for c in changes if c.blocking]
    if blocking:
        for change in blocking:
            out(f"refusing to apply: {change}")
        out(f"vhost {vhost}: nothing changed; migrate the queues first (docs/scaling.md)")
        return 2
    manual = [c for c in changes if c.action is None]
    for change in changes:
        if change.action is not None:
            change.action()
            out(f"applied: {change}")
    for change in manual:
        out(f"needs you: {change}")
    if not changes:
        out(f"vhost {vhost}: already in sync, nothing changed")
    elif _still_different(replan(), out):
        return 1
    return 2 if manual else 0


def _still_different(remaining: list[Change], out: Out) -> bool:
    """Whether a second plan, right after applying, still has changes apply could make."""
    fixable = [c for c in remaining if c.action is not None]
    for change in fixable:
        out(f"still different after apply: {change}")
    return bool(fixable)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m broker.provision",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["apply", "check", "show", "migrate"])
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
