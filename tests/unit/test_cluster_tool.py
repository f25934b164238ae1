"""The local cluster tool's pure parts: its layout, its files and its report (no node runs)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from broker import local_node
from broker.cluster.layout import Layout
from broker.cluster.leaders import QueueLeader
from broker.cluster.settings import ClusterSettings
from broker.cluster.status import ClusterStatus, NodeState, render
from broker.local_node import NodeError, NodePorts


def test_node_i_uses_each_base_port_plus_i_minus_one(tmp_path: Path) -> None:
    layout = Layout.from_settings(ClusterSettings(state_dir=tmp_path))
    nodes = layout.nodes()
    assert [n.name for n in nodes] == [f"shopflow-{i}@localhost" for i in (1, 2, 3)]
    assert [n.ports for n in nodes] == [
        NodePorts(amqp=5681 + i, management=15681 + i, dist=25681 + i, prometheus=15701 + i)
        for i in range(3)
    ]
    assert [n.home for n in nodes] == [tmp_path / f"shopflow-{i}" for i in (1, 2, 3)]


def test_the_saved_layout_is_the_one_read_back(tmp_path: Path) -> None:
    layout = Layout.from_settings(ClusterSettings(state_dir=tmp_path, name="other", amqp_port=7000))
    layout.save()
    assert Layout.load(tmp_path) == layout
    assert Layout.load(tmp_path / "nothing-here") is None


def test_the_cookie_is_made_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    layout = Layout.from_settings(ClusterSettings(state_dir=tmp_path))
    cookie = layout.cookie()
    assert layout.cookie() == cookie
    node = layout.nodes(cookie)[0]
    node.write_files()
    node_cookie = node.home / ".erlang.cookie"
    assert node_cookie.read_text() == cookie
    assert stat.S_IMODE(node_cookie.stat().st_mode) == 0o400
    assert "rabbitmq_prometheus" in (node.home / "enabled_plugins").read_text()
    assert "prometheus.tcp.port = 15701" in (node.home / "rabbitmq.conf").read_text()


def test_a_missing_rabbitmq_names_the_apt_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(local_node, "DEBIAN_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NodeError, match=r"run `sudo apt-get install rabbitmq-server`"):
        local_node.script("rabbitmq-server")


def test_a_release_root_runs_the_nodes_scripts_under_chroot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    bin_dir = root / local_node.DEBIAN_BIN.relative_to("/")
    bin_dir.mkdir(parents=True)
    (bin_dir / "rabbitmqctl").touch()
    monkeypatch.setenv(local_node.RELEASE_ROOT_ENV, str(root))
    [node, *_] = Layout.from_settings(ClusterSettings(state_dir=tmp_path / "state")).nodes()
    assert node.command("rabbitmqctl") == ["chroot", str(root), "/usr/lib/rabbitmq/bin/rabbitmqctl"]
    with pytest.raises(NodeError, match=r"no RabbitMQ in .*ensure-rabbitmq4"):
        node.command("rabbitmq-server")
    # its HOME is not at the same path inside the root: the chrooted node could not read it
    (bin_dir / "rabbitmq-server").touch()
    with pytest.raises(NodeError, match=r"not at the same path in .*: use /tmp"):
        node.start()
    monkeypatch.setenv(local_node.RELEASE_ROOT_ENV, "")
    assert Layout.from_settings(ClusterSettings(state_dir=tmp_path)).nodes()[0].root is None


def test_the_report_names_each_node_and_each_leader(tmp_path: Path) -> None:
    nodes = Layout.from_settings(ClusterSettings(state_dir=tmp_path)).nodes()
    names = tuple(n.name for n in nodes)
    up = [NodeState(n, 100 + i, True, names, names[:2]) for i, n in enumerate(nodes[:2])]
    leaders = [
        QueueLeader("shop", "inventory.orders", names[0], names, names[:2]),
        QueueLeader("shop", "email.orders", None, names, names[:1]),
    ]
    status = ClusterStatus([*up, NodeState(nodes[2], None, False)], leaders)
    assert not status.whole
    assert render(status) == [
        "node                         state         amqp management  sees running",
        "shopflow-1@localhost         running       5681      15681  shopflow-1, shopflow-2",
        "shopflow-2@localhost         running       5682      15682  shopflow-1, shopflow-2",
        "shopflow-3@localhost         stopped       5683      15683  -",
        "cluster: NOT whole",
        "quorum queue leaders:",
        "  vhost shop",
        "    inventory.orders: shopflow-1@localhost (2/3 online)",
        "    email.orders: NO LEADER (1/3 online)",
        "queues led: shopflow-1@localhost 1",
    ]
