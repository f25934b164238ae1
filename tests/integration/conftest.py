"""Fixtures shared by the integration tests. `rabbit_cluster` starts a private three-node
RabbitMQ cluster, once per module that asks for it (tests/support/cluster.py)."""

from __future__ import annotations

from tests.support.cluster import rabbit_cluster

__all__ = ["rabbit_cluster"]
