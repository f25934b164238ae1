"""The UDP wake-up: a datagram from the API wakes the listening relay; nobody listening is fine."""

from __future__ import annotations

import socket

from services.common.outbox import UdpWakeupListener, UdpWakeupSender
from tests.support.ports import free_port


def test_a_notification_wakes_the_listener_and_several_are_drained_at_once() -> None:
    port = free_port(socket.SOCK_DGRAM)
    listener = UdpWakeupListener("127.0.0.1", port)
    sender = UdpWakeupSender("127.0.0.1", port)
    listener.open()
    try:
        assert listener.listening
        for _ in range(3):
            sender.notify()
        assert listener.wait(timeout=30) is True
        assert listener.wait(timeout=0) is False  # all three were consumed by one wake-up
    finally:
        listener.close()
        sender.close()


def test_notifying_with_nobody_listening_does_not_fail() -> None:
    sender = UdpWakeupSender("127.0.0.1", free_port(socket.SOCK_DGRAM))
    sender.notify()
    sender.notify()
    sender.close()


def test_a_second_listener_on_the_same_port_falls_back_to_polling() -> None:
    port = free_port(socket.SOCK_DGRAM)
    first, second = UdpWakeupListener("127.0.0.1", port), UdpWakeupListener("127.0.0.1", port)
    first.open()
    second.open()
    try:
        assert first.listening
        assert not second.listening
        assert second.wait(timeout=0) is False
    finally:
        first.close()
        second.close()


def test_port_zero_disables_wake_ups() -> None:
    listener = UdpWakeupListener("127.0.0.1", 0)
    listener.open()
    assert not listener.listening
    UdpWakeupSender("127.0.0.1", 0).notify()
