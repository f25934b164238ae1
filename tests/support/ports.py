"""Ports for the servers and nodes the tests start, safe from each other and from the kernel.

A port the kernel hands out for `bind(("", 0))` lies in its ephemeral range
(`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 on Debian), the same pool every outgoing
connection takes its local port from. A server that binds such a port some seconds later can find
it taken: a RabbitMQ node boots for 10-30 s, and the second pytest process asks the kernel for
ports from the same pool. A node that cannot listen dies at boot, and a poll of "its" AMQP port
then reaches the other process instead.

So the tests' ports come from below that range, where the kernel never hands out a port by itself,
and each one is claimed with a file naming the claiming process: two pytest processes never get the
same port, and a claim whose process has exited is free again.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

CLAIMS = Path(tempfile.gettempdir()) / f"shopflow-test-ports-{os.getuid()}"
FLOOR = 26000  # above RabbitMQ's defaults (25672 and the local cluster's 25681-25683)
TRIES = 200
EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on, claimed for this process (TCP or UDP)."""
    CLAIMS.mkdir(exist_ok=True)
    candidates = _candidates()
    with open(CLAIMS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the check and the claim are one step for every process
        for port in random.sample(candidates, min(TRIES, len(candidates))):
            claim = CLAIMS / str(port)
            if _claimed(claim) or not _bindable(port, kind):
                continue
            claim.write_text(str(os.getpid()))
            return port
    raise RuntimeError(
        f"no free port among {TRIES} tries in {candidates} (outside the kernel's ephemeral range, "
        f"{EPHEMERAL}); see the claims in {CLAIMS}"
    )


def _candidates() -> range:
    """Below the ephemeral range (from FLOOR) or above it, whichever is larger."""
    low, high = (int(p) for p in EPHEMERAL.read_text().split())
    return max(range(FLOOR, low), range(high + 1, 65536), key=len)


def _claimed(claim: Path) -> bool:
    """Claimed by a process that still runs (this one included)."""
    try:
        pid = int(claim.read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return True


def _bindable(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT does not count
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
