"""The tests' port picker: never a port another live process claimed, never the kernel's own."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support import ports


@pytest.fixture
def claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(ports, "CLAIMS", tmp_path)
    return tmp_path


def _only(monkeypatch: pytest.MonkeyPatch, candidates: range) -> None:
    monkeypatch.setattr(ports, "_candidates", lambda: candidates)


def _only_unclaimed(claims: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> int:
    """`count` ports from a free, unclaimed one on are the only candidates; returns the first."""
    base = ports.free_port()
    (claims / str(base)).unlink()
    _only(monkeypatch, range(base, base + count))
    return base


def test_ports_come_from_outside_the_ephemeral_range(claims: Path) -> None:
    low, high = (int(p) for p in ports.EPHEMERAL.read_text().split())
    picked = {ports.free_port() for _ in range(20)} | {ports.free_port(socket.SOCK_DGRAM)}
    assert len(picked) == 21  # no port twice, even to the same process
    assert not any(low <= port <= high for port in picked)
    assert {int(p.name) for p in claims.iterdir() if p.name.isdigit()} == picked


def test_a_port_claimed_by_a_live_process_is_skipped(
    claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _only_unclaimed(claims, monkeypatch, 2)
    with subprocess.Popen(["sleep", "60"]) as other:
        try:
            (claims / str(base)).write_text(str(other.pid))
            assert ports.free_port() == base + 1
        finally:
            other.kill()


def test_a_claim_whose_process_exited_is_free_again(
    claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _only_unclaimed(claims, monkeypatch, 1)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (claims / str(base)).write_text(str(gone.pid))
    assert ports.free_port() == base
    assert (claims / str(base)).read_text() == str(os.getpid())


def test_a_port_something_listens_on_is_skipped(
    claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _only_unclaimed(claims, monkeypatch, 2)
    with socket.socket() as server:
        server.bind(("127.0.0.1", base))
        server.listen()
        assert ports.free_port() == base + 1


def test_no_free_port_is_a_clear_error(claims: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ports.free_port()
    _only(monkeypatch, range(base, base + 1))  # claimed just above, by this process
    with pytest.raises(RuntimeError, match="no free port"):
        ports.free_port()


@pytest.mark.parametrize(
    ("ephemeral", "expected"),
    [("32768\t60999\n", range(26000, 32768)), ("10000 60999", range(61000, 65536))],
)
def test_the_larger_side_of_the_ephemeral_range_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ephemeral: str, expected: range
) -> None:
    (tmp_path / "range").write_text(ephemeral)
    monkeypatch.setattr(ports, "EPHEMERAL", tmp_path / "range")
    assert ports._candidates() == expected
