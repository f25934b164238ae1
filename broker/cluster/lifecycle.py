"""Bring the local cluster up (idempotently) and take it down.

`up` starts whichever nodes are not running (all at once: a node that restarts with data waits
for the others it knew), then joins to node 1 every node that is not yet a member
(`stop_app`, `reset`, `join_cluster`, `start_app`: RabbitMQ's manual clustering), then makes
sure the admin login exists. A second `up` finds everything in place and changes nothing.
"""

from __future__ import annotations

import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from broker.cluster.layout import Layout
from broker.cluster.status import node_state
from broker.local_node import LocalNode, NodeError

EPMD_PORT = 4369  # Erlang's name registry, shared by every node on the machine
BOOT_TIMEOUT = 330  # a node restarting with data waits up to 5 minutes for the peers it knew
MAX_RESTARTS = 3
# How a crash dump says one of the node's ports was taken after `up` checked it: no restart helps.
PORT_TAKEN = ("could_not_start_listener", "dist_port_already_used")


class ClusterError(RuntimeError):
    """Something the person running the tool must fix; the message is one line."""


def up(layout: Layout, admin: tuple[str, str]) -> list[str]:
    """Start and cluster the nodes. Returns what it did (nothing when all was in place)."""
    stopped = {n.name for n in layout.nodes() if n.vm_pid() is None}
    _check_free([n for n in layout.nodes() if n.name in stopped])  # before writing anything
    layout.save()
    nodes = layout.nodes(layout.cookie())
    done = start_nodes([n for n in nodes if n.name in stopped])
    done += _start_apps(nodes)
    done += _join(nodes)
    done += _ensure_admin(nodes[0], *admin)
    return done


def down(layout: Layout, keep: bool = False) -> list[LocalNode]:
    """Stop every node and, unless `keep`, delete their data. Returns the nodes it stopped.
    They stop together: `up` starts them together too, and a node restarting with data waits
    for the others, so no order matters."""
    running = [n for n in layout.nodes() if n.vm_pid() is not None]
    with ThreadPoolExecutor(max_workers=len(running) or 1) as pool:
        list(pool.map(_stop, running))  # list(): re-raise the first failure
    if not keep:
        for path in layout.files():
            _remove(path)
        if layout.state_dir.is_dir() and not any(layout.state_dir.iterdir()):
            layout.state_dir.rmdir()
    return running


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (SO_REUSEADDR: old TIME_WAIT connections don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def registered_nodes() -> dict[str, int]:
    """Short node names registered with epmd on this machine, with their distribution ports."""
    try:
        with socket.create_connection(("127.0.0.1", EPMD_PORT), timeout=2) as s:
            s.sendall(b"\x00\x01n")  # NAMES_REQ
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
    except OSError:  # no epmd: no Erlang node runs here
        return {}
    names = {}
    for line in reply[4:].decode(errors="replace").splitlines():
        parts = line.split()  # "name shopflow-1 at port 25681"
        if len(parts) == 5 and parts[0] == "name":
            names[parts[1]] = int(parts[4])
    return names


def _check_free(nodes: list[LocalNode]) -> None:
    taken_names = registered_nodes()
    for node in nodes:
        short = node.name.partition("@")[0]
        if short in taken_names:
            raise ClusterError(
                f"node name {node.name} is taken by another Erlang node (distribution port "
                f"{taken_names[short]}): stop it, or choose another --name"
            )
        for what, port in node.ports.named().items():
            if not port_free(port):
                raise ClusterError(
                    f"port {port} ({what} of {node.name}) is taken by another process: "
                    f"free it or choose other ports (--{what.lower()}-port, see --help)"
                )


def start_nodes(nodes: list[LocalNode]) -> list[str]:
    """Start them together: a node restarting with data waits for the others it knew.

    RabbitMQ 3.10 sometimes crashes a node that boots while a peer it knows boots too
    (`incompatible_feature_flags` in its log); such a node is simply started again. A node that
    cannot listen on one of its ports is not (PORT_TAKEN)."""
    for node in nodes:
        node.start()
    booting, restarts = list(nodes), 0
    deadline = time.monotonic() + BOOT_TIMEOUT
    while booting:
        for node in list(booting):
            # the listeners open last
            if node.processes() and port_open(node.ports.amqp, node.host):
                try:
                    node.wait_started()
                    booting.remove(node)
                    continue
                except NodeError:
                    if node.processes():  # alive but not started: no restart will help
                        raise
            if not node.processes():
                reason = node.crash_reason()
                restarts += 1
                if restarts > MAX_RESTARTS or any(m in reason for m in PORT_TAKEN):
                    raise ClusterError(
                        f"{node.name} died while booting ({reason}); see {node.log_dir}"
                    )
                node.start()
        if booting and time.monotonic() > deadline:
            names = ", ".join(n.name for n in booting)
            raise ClusterError(f"{names} did not boot in {BOOT_TIMEOUT}s; see their log/ dirs")
        time.sleep(0.2)
    return [f"started {n.name}" for n in nodes]


def _start_apps(nodes: list[LocalNode]) -> list[str]:
    """Start RabbitMQ in a VM where `rabbitmqctl stop_app` left it stopped."""
    done = []
    for node in nodes:
        if not node_state(node).app_running:
            node.start_app()
            done.append(f"started the app of {node.name}")
    return done


def _join(nodes: list[LocalNode]) -> list[str]:
    first, others = nodes[0], nodes[1:]
    state = node_state(first)
    if not state.app_running:  # never reset a node on the word of a node that cannot answer
        raise ClusterError(f"{first.name} does not answer cluster_status; see {first.log_dir}")
    done = []
    for node in others:
        if node.name in state.members:
            continue
        node.stop_app()
        node.ctl("reset")
        node.ctl("join_cluster", first.name)
        node.start_app()
        done.append(f"joined {node.name} to {first.name}")
    return done


def _ensure_admin(node: LocalNode, user: str, password: str) -> list[str]:
    """The provisioning login: an administrator with every right on `/`. `guest` exists on a
    fresh cluster (it may log in from localhost only); any other login is created, or its
    password reset to the one in the settings. (The password is on rabbitmqctl's command line
    for a moment: fine for a local development cluster.)"""
    if (user, password) == ("guest", "guest"):
        return []
    users = {line.split("\t")[0] for line in node.ctl("list_users", "--silent").splitlines()}
    if user not in users:
        node.ctl("add_user", user, password)
        done = [f"created the admin login {user}"]
    elif not _authenticates(node, user, password):
        node.ctl("change_password", user, password)
        done = [f"reset the password of {user}"]
    else:
        done = []
    node.ctl("set_user_tags", user, "administrator")
    node.ctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
    return done


def _authenticates(node: LocalNode, user: str, password: str) -> bool:
    try:
        node.ctl("authenticate_user", user, password)
    except NodeError:
        return False
    return True


def _stop(node: LocalNode, timeout: float = 60) -> None:
    try:
        node.ctl("stop", str(node.pid_file), timeout=timeout)
    except NodeError:  # hung, or its pid file is gone: stop it the hard way
        if node.vm_pid() is not None:
            node.kill9()
    deadline = time.monotonic() + timeout
    while node.processes():
        if time.monotonic() > deadline:
            raise ClusterError(f"{node.name} still has processes {node.processes()} after stop")
        time.sleep(0.1)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
