"""An AMQP channel in the vhost as the admin login of the vhost tool (BROKER_ADMIN_USER), for the
tools people run by hand (the dead-letter CLI, the scenario). When the broker cannot be reached
they say so in one line, with what to do, instead of pika's traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import (
    AMQPConnectionError,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
)

from broker.settings import ProvisionSettings
from services.common.outbox.pika_publisher import connection_parameters

START_RABBITMQ = "start it with `bash broker/ensure-rabbitmq.sh` (`make up` does that too)"


class BrokerUnavailable(RuntimeError):
    """The broker does not answer, or refuses the admin login: the message says which."""


@contextmanager
def admin_channel(settings: ProvisionSettings) -> Iterator[BlockingChannel]:
    """A channel as the admin login, on the first node that answers (BROKER_NODES)."""
    urls = settings.broker.amqp_urls(settings.admin_user, settings.admin_password)
    try:
        conn = pika.BlockingConnection(connection_parameters(urls))
    except AMQPConnectionError as exc:
        raise BrokerUnavailable(unavailable(settings, exc)) from exc
    try:
        yield conn.channel()
    finally:
        if conn.is_open:
            conn.close()


def unavailable(settings: ProvisionSettings, exc: AMQPConnectionError) -> str:
    """One line: what is wrong with the broker, and what to do about it."""
    broker = settings.broker
    where = f"RabbitMQ at {broker.host}:{broker.port}"
    if isinstance(exc, ProbableAccessDeniedError):
        return (
            f"{where} has no vhost {broker.vhost!r} for {settings.admin_user}: "
            "create it with `make provision`"
        )
    if isinstance(exc, ProbableAuthenticationError):
        return (
            f"{where} refused the login {settings.admin_user!r}: "
            "check BROKER_ADMIN_USER / BROKER_ADMIN_PASSWORD in .env"
        )
    return f"{where} does not answer: {START_RABBITMQ}"
