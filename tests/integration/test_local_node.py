"""A private RabbitMQ node that cannot boot says why, at once.

Without this, `rabbitmqctl wait` keeps polling the pid file the dead VM left behind until its own
timeout (two minutes), and the error says only "timed out".
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from broker.local_node import LocalNode, NodeError, NodePorts
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)  # a wait to the end of its 600 s would be the defect
def test_a_node_whose_amqp_port_is_taken_fails_with_the_reason(tmp_path: Path) -> None:
    ports = NodePorts(amqp=free_port(), management=free_port(), dist=free_port())
    node = LocalNode(f"shopflow-taken-{os.getpid()}@localhost", tmp_path, ports)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", ports.amqp))
        squatter.listen()
        node.start()
        try:
            with pytest.raises(NodeError) as raised:
                node.wait_started(timeout=600)
        finally:
            if node.vm_pid() is not None:
                node.kill9()
    assert "died while booting" in str(raised.value)
    assert f"could_not_start_listener,127.0.0.1,{ports.amqp}" in str(raised.value)
    assert not node.processes()
