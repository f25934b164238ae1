"""How `up` treats a node that dies while it boots: started again, unless a port was taken."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest

from broker.cluster import lifecycle
from broker.local_node import LocalNode, NodeError, NodePorts


@dataclass
class BootingNode:
    """Dies at each of its first boots with the given crash reasons, then runs."""

    crashes: list[str]
    name: str = "fake-1@localhost"
    host: str = "127.0.0.1"
    ports: NodePorts = field(default_factory=lambda: NodePorts(amqp=1, management=2, dist=3))
    log_dir: Path = field(default_factory=lambda: Path("/nowhere/log"))
    starts: int = 0

    def start(self) -> None:
        self.starts += 1

    def processes(self) -> list[int]:
        return [] if self.starts <= len(self.crashes) else [4242]

    def crash_reason(self) -> str:
        return self.crashes[self.starts - 1]

    def wait_started(self) -> None:
        if not self.processes():
            raise NodeError(f"{self.name} died while booting")


@pytest.fixture(autouse=True)
def every_port_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "port_open", lambda port, host: True)


def _start(node: BootingNode) -> list[str]:
    return lifecycle.start_nodes([cast(LocalNode, node)])


def test_a_node_that_crashed_booting_beside_a_peer_is_started_again() -> None:
    node = BootingNode(crashes=["{incompatible_feature_flags,...}"])
    assert _start(node) == ["started fake-1@localhost"]
    assert node.starts == 2


def test_a_node_whose_port_was_taken_is_not_started_again() -> None:
    taken = '{dist_port_already_used,25681,not_erlang,"localhost"}'
    node = BootingNode(crashes=[taken, taken])
    with pytest.raises(lifecycle.ClusterError, match="dist_port_already_used,25681"):
        _start(node)
    assert node.starts == 1


def test_a_node_that_keeps_dying_is_given_up_with_its_reason() -> None:
    node = BootingNode(crashes=["{bad_config}"] * (lifecycle.MAX_RESTARTS + 1))
    with pytest.raises(lifecycle.ClusterError, match=r"died while booting \(\{bad_config\}\)"):
        _start(node)
    assert node.starts == lifecycle.MAX_RESTARTS + 1
