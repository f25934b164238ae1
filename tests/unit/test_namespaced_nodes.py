"""A cluster layout whose nodes run in network namespaces (the partition scenario's): what each
node is called, where it listens and how its commands run. The scenario itself is
tests/reliability/test_network_partition.py."""

from __future__ import annotations

from pathlib import Path

from broker.cluster.layout import Layout
from broker.local_node import NodePorts, script

PORTS = tuple(NodePorts(amqp=5700 + i, management=15700 + i, dist=25700 + i) for i in range(3))
HOSTS = ("10.213.7.11", "10.213.7.12", "10.213.7.13")


def test_each_node_is_named_after_its_address_and_listens_there(tmp_path: Path) -> None:
    layout = Layout("p", tmp_path, PORTS, hosts=HOSTS, netns=("a", "b", "c"))
    nodes = layout.nodes()
    assert [n.name for n in nodes] == [f"p-{i}@{h}" for i, h in enumerate(HOSTS, 1)]
    assert nodes[1].home == tmp_path / "p-2"
    assert nodes[1].management_url == "http://10.213.7.12:15701"
    config = nodes[1]._config()
    assert "listeners.tcp.default = 10.213.7.12:5701" in config
    assert "management.tcp.ip = 10.213.7.12" in config


def test_its_commands_run_in_its_namespace_with_long_names(tmp_path: Path) -> None:
    node = Layout("p", tmp_path, PORTS, hosts=HOSTS, netns=("a", "b", "c")).nodes()[2]
    assert node.command("rabbitmqctl") == ["ip", "netns", "exec", "c", script("rabbitmqctl")]
    env = node.cli_env()
    assert env["RABBITMQ_USE_LONGNAME"] == "true"
    # not the machine's rabbitmq-env.conf, which may bind epmd to 127.0.0.1
    assert env["RABBITMQ_CONF_ENV_FILE"] == str(node.home / "rabbitmq-env.conf")


def test_a_layout_without_namespaces_is_unchanged(tmp_path: Path) -> None:
    node = Layout("p", tmp_path, PORTS).nodes()[0]
    assert node.name == "p-1@localhost"
    assert node.command("rabbitmqctl") == [script("rabbitmqctl")]
    assert "listeners.tcp.default = 127.0.0.1:5700" in node._config()
    assert "RABBITMQ_USE_LONGNAME" not in node.cli_env()
    assert "RABBITMQ_CONF_ENV_FILE" not in node.cli_env()
