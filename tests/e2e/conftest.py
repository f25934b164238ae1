"""Fixtures for the end-to-end tests: a private three-node cluster (`rabbit_cluster`,
tests/support/cluster.py) and a throwaway vhost of quorum queues (`quorum_vhost`,
tests/support/quorum.py), each made once per module that asks for it."""

from __future__ import annotations

from tests.support.cluster import rabbit_cluster
from tests.support.quorum import quorum_vhost

__all__ = ["quorum_vhost", "rabbit_cluster"]
