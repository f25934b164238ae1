"""Fixtures shared by the integration tests. `rabbit_cluster` starts a private three-node
RabbitMQ cluster, once per module that asks for it (tests/support/cluster.py); `quorum_vhost`
provisions a throwaway vhost of quorum queues on the shared node (tests/support/quorum.py)."""

from __future__ import annotations

from tests.support.cluster import rabbit_cluster
from tests.support.quorum import quorum_vhost

__all__ = ["quorum_vhost", "rabbit_cluster"]
