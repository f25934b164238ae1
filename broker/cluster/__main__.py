"""A three-node RabbitMQ cluster on this machine, from the installed RabbitMQ.

    python -m broker.cluster up             # start and cluster the nodes (idempotent)
    python -m broker.cluster status         # each node, the membership, quorum queue leaders
    python -m broker.cluster down [--keep]  # stop the nodes, delete their data (--keep: keep it)

The nodes are <name>-1@localhost .. <name>-3@localhost (default name `shopflow`) with AMQP on
5681-5683, management on 15681-15683, Prometheus on 15701-15703 and Erlang distribution on
25681-25683, all on 127.0.0.1; their files live in var/cluster/. The machine's shared node
(5672/15672) is never touched. `up` makes the admin login BROKER_ADMIN_USER/BROKER_ADMIN_PASSWORD
(default guest/guest) and prints the settings that point the system at the cluster
(BROKER_NODES, BROKER_MANAGEMENT_URL, BROKER_QUEUE_TYPE).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from broker.cluster.layout import Layout
from broker.cluster.lifecycle import ClusterError, down, up
from broker.cluster.settings import ClusterSettings
from broker.cluster.status import cluster_status, render
from broker.local_node import NodeError
from broker.management import ManagementError
from broker.settings import AdminLogin

_FLAGS = ("name", "state_dir", "amqp_port", "management_port", "prometheus_port", "dist_port")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m broker.cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "status", "down"])
    parser.add_argument("--keep", action="store_true", help="down: keep the nodes' data")
    parser.add_argument("--name", help="node name prefix ($BROKER_CLUSTER_NAME, shopflow)")
    parser.add_argument("--state-dir", type=Path, help="$BROKER_CLUSTER_STATE_DIR, var/cluster")
    for port in ("amqp", "management", "prometheus", "dist"):
        parser.add_argument(
            f"--{port}-port",
            type=int,
            help=f"node 1's {port} port, +1 per node ($BROKER_CLUSTER_{port.upper()}_PORT)",
        )
    return parser


def _layout(args: argparse.Namespace) -> tuple[Layout, str | None]:
    """The layout saved in the state dir if there is one (its nodes may be running), else the
    one the settings ask for; and a note when settings given explicitly ask for another."""
    flags = {k: v for k, v in vars(args).items() if k in _FLAGS and v is not None}
    settings = ClusterSettings(**flags)
    asked = Layout.from_settings(settings)
    saved = Layout.load(asked.state_dir)
    if saved is None:
        return asked, None
    if saved != asked and settings.model_fields_set - {"state_dir"}:
        return saved, f"note: using the cluster saved in {saved.state_dir} (`down` to change it)"
    return saved, None


def _connection_help(layout: Layout, admin_user: str) -> list[str]:
    nodes = layout.nodes()
    every = ",".join(f"127.0.0.1:{n.ports.amqp}" for n in nodes)
    return [
        "Point the system at the cluster, every node listed (then `make provision`: a fresh "
        "vhost, or `python -m broker.provision migrate` for one of classic queues):",
        f"  export BROKER_NODES={every}",
        f"  export BROKER_MANAGEMENT_URL={nodes[0].management_url}",
        "  export BROKER_QUEUE_TYPE=quorum",
        f"  (the management UI and `make provision` log in as {admin_user}: BROKER_ADMIN_USER)",
    ]


def run(args: argparse.Namespace) -> int:
    layout, note = _layout(args)
    if note:
        print(note)
    admin = AdminLogin()
    login = (admin.admin_user, admin.admin_password.get_secret_value())
    if args.command == "down":
        stopped = down(layout, keep=args.keep)
        kept = f"; data kept in {layout.state_dir}" if args.keep else ", data removed"
        print(f"stopped {len(stopped)} node(s){kept}")
        return 0
    if args.command == "up":
        done = up(layout, login)
        print("\n".join(done) if done else "the cluster is already running; nothing changed")
    status = cluster_status(layout.nodes(), login)
    print("\n".join(render(status)))
    if args.command == "up":
        print("\n".join(_connection_help(layout, admin.admin_user)))
    return 0 if status.whole else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (ClusterError, NodeError, ManagementError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = "_".join(str(p) for p in err["loc"])
        flag, env = name.replace("_", "-"), f"BROKER_CLUSTER_{name.upper()}"
        print(f"error: --{flag} / {env}: {err['msg']}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
