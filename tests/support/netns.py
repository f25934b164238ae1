"""A private network for a test cluster whose nodes can be cut off from each other.

Each node gets a network namespace of its own (its own loopback, so its own epmd too) with one
end of a veth pair; the other ends hang on a bridge in the host namespace, which has the
subnet's first address so the test and the system's processes (in the host namespace) reach
every node. Cutting a node takes its bridge-side end down: the node still runs, and sees its
own address, but no packet goes to or from anyone else, like a pulled cable. Healing takes it
up again.

Everything is named with a tag unique to the test session, on a 10.213.x.0/24 subnet no other
interface of the machine has, and removed on the way out, also after a failure. The only host
change is the bridge and its address (a route to the subnet comes with it); no firewall rule,
no forwarding, no real interface is touched.
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass

PREFIX = "10.213"
FIRST_NODE = 11  # node i (0-based) is PREFIX.x.(11 + i)


class NetnsError(RuntimeError):
    """The machine refused a network namespace step; the message names the command."""


def ip(*args: str, netns: str | None = None) -> str:
    cmd = ["ip", "netns", "exec", netns, "ip", *args] if netns else ["ip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise NetnsError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


@dataclass(frozen=True)
class Net:
    tag: str  # short: Linux interface names have at most 15 characters
    subnet: int  # the x of 10.213.x.0/24

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    @property
    def gateway(self) -> str:
        """The host namespace's address on the bridge."""
        return f"{PREFIX}.{self.subnet}.1"

    def address(self, index: int) -> str:
        return f"{PREFIX}.{self.subnet}.{FIRST_NODE + index}"

    def namespace(self, index: int) -> str:
        return f"{self.tag}-n{index + 1}"

    def host_end(self, index: int) -> str:
        """The bridge-side end of node `index`'s veth pair: the one a cut takes down."""
        return f"{self.tag}h{index + 1}"

    def _node_end(self, index: int) -> str:
        return f"{self.tag}n{index + 1}"

    # -- faults -----------------------------------------------------------------------------

    def cut(self, index: int) -> None:
        ip("link", "set", self.host_end(index), "down")

    def heal(self, index: int) -> None:
        ip("link", "set", self.host_end(index), "up")

    def is_cut(self, index: int) -> bool:
        return "state DOWN" in ip("link", "show", self.host_end(index))

    # -- setup ------------------------------------------------------------------------------

    def _add_bridge(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def _add_node(self, index: int) -> None:
        ns, host_end, node_end = self.namespace(index), self.host_end(index), self._node_end(index)
        ip("netns", "add", ns)
        ip("link", "set", "lo", "up", netns=ns)
        ip("link", "add", host_end, "type", "veth", "peer", "name", node_end)
        ip("link", "set", node_end, "netns", ns)
        ip("addr", "add", f"{self.address(index)}/24", "dev", node_end, netns=ns)
        ip("link", "set", node_end, "up", netns=ns)
        ip("link", "set", host_end, "master", self.bridge)
        ip("link", "set", host_end, "up")
        _start_epmd(ns)

    def _remove_node(self, index: int) -> None:
        """Whatever is left in the namespace (its epmd) is ours: end it by pid, then delete the
        namespace (its end of the veth pair goes with it)."""
        ns = self.namespace(index)
        if ns in ip("netns", "list").split():
            for pid in ip("netns", "pids", ns).split():
                _kill(int(pid))
            ip("netns", "del", ns)
        if self.host_end(index) in _links():
            try:
                ip("link", "del", self.host_end(index))
            except NetnsError:  # went with the namespace meanwhile
                if self.host_end(index) in _links():
                    raise

    def _remove_bridge(self) -> None:
        if self.bridge in _links():
            ip("link", "del", self.bridge)


def _start_epmd(ns: str) -> None:
    """The namespace's own epmd (Erlang's name registry, port 4369), started here rather than by
    the node: one the node starts inherits its environment and would count as one of its
    processes (`LocalNode.processes`) after the node stopped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
    cmd = ["ip", "netns", "exec", ns, "epmd", "-daemon"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise NetnsError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.returncode}")


def _links() -> set[str]:
    return {line.split("@")[0].split()[0] for line in ip("-br", "link").splitlines() if line}


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _free_subnet() -> int:
    """A 10.213.x.0/24 that no interface of the host has an address in."""
    taken = set()
    for line in ip("-o", "-4", "addr").splitlines():
        address = ipaddress.ip_interface(line.split()[3])
        if str(address.ip).startswith(f"{PREFIX}."):
            taken.add(int(str(address.ip).split(".")[2]))
    free = [x for x in range(1, 255) if x not in taken]
    if not free:
        raise NetnsError(f"every {PREFIX}.x.0/24 subnet is in use on this machine")
    return random.choice(free)


@contextmanager
def private_network(nodes: int) -> Iterator[Net]:
    """A bridge and `nodes` namespaces wired to it, removed at the end (after a failure too)."""
    net = Net(tag=f"sp{secrets.token_hex(3)}", subnet=_free_subnet())
    with ExitStack() as undo:
        undo.callback(net._remove_bridge)
        net._add_bridge()
        for index in range(nodes):
            undo.callback(net._remove_node, index)
            net._add_node(index)
        yield net
