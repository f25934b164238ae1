"""What identifies a local cluster: its node names, their ports and the directory holding them.

`up` writes the layout to `<state dir>/cluster.json`, and `status` and `down` read it back from
there, so they find the nodes `up` started even when they are run with other flags or settings.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from broker.cluster.settings import ClusterSettings
from broker.local_node import LocalNode, NodePorts, write_cookie

NODES = 3  # the smallest cluster in which a quorum queue survives the loss of a node
LAYOUT_FILE = "cluster.json"
COOKIE_FILE = ".erlang.cookie"


@dataclass(frozen=True)
class Layout:
    name: str  # nodes are <name>-1@localhost, <name>-2@localhost, ...
    state_dir: Path
    ports: tuple[NodePorts, ...]
    # Extra node configuration for test clusters (rabbitmq.conf lines, an advanced.config). The
    # tool never sets them and cluster.json does not keep them: `python -m broker.cluster` runs
    # RabbitMQ's defaults.
    settings: tuple[str, ...] = ()
    advanced_config: str | None = None
    # Test clusters whose nodes can be cut off from each other: node i runs in network namespace
    # netns[i] and listens on address hosts[i], which is also its name's host part (a long name).
    hosts: tuple[str, ...] = ()
    netns: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: ClusterSettings) -> Layout:
        ports = tuple(
            NodePorts(
                amqp=settings.amqp_port + i,
                management=settings.management_port + i,
                dist=settings.dist_port + i,
                prometheus=settings.prometheus_port + i,
            )
            for i in range(NODES)
        )
        return cls(settings.name, settings.state_dir, ports)

    @classmethod
    def load(cls, state_dir: Path) -> Layout | None:
        """The layout `up` saved in `state_dir`, None when there is none."""
        path = state_dir / LAYOUT_FILE
        if not path.exists():
            return None
        saved = json.loads(path.read_text())
        ports = tuple(NodePorts(**p) for p in saved["ports"])
        return cls(saved["name"], state_dir, ports)

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        body = {"name": self.name, "ports": [vars(p) for p in self.ports]}
        (self.state_dir / LAYOUT_FILE).write_text(json.dumps(body, indent=2) + "\n")

    def node_name(self, index: int) -> str:
        host = self.hosts[index] if self.hosts else "localhost"
        return f"{self.name}-{index + 1}@{host}"

    def nodes(self, cookie: str | None = None) -> list[LocalNode]:
        """The nodes; `cookie` is written to each node's HOME when they are started."""
        return [
            LocalNode(
                name=self.node_name(i),
                home=self.state_dir / self.node_name(i).partition("@")[0],
                ports=ports,
                cookie=cookie,
                settings=list(self.settings),
                advanced_config=self.advanced_config,
                netns=self.netns[i] if self.netns else None,
                host=self.hosts[i] if self.hosts else "127.0.0.1",
            )
            for i, ports in enumerate(self.ports)
        ]

    def cookie(self) -> str:
        """The cluster's Erlang cookie: nodes only talk to nodes (and CLIs) holding the same one.
        Made once, at random, so no other node on the machine shares it by accident."""
        path = self.state_dir / COOKIE_FILE
        if path.exists():
            return path.read_text()
        cookie = secrets.token_hex(16).upper()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_cookie(path, cookie)
        return cookie

    def files(self) -> list[Path]:
        """Everything the cluster keeps in the state dir, for `down` to remove."""
        homes = [node.home for node in self.nodes()]
        return [*homes, self.state_dir / COOKIE_FILE, self.state_dir / LAYOUT_FILE]
