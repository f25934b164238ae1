"""The fault harness on a three-node cluster: quorum queues, PostgreSQL for every service, two
processes of each worker and two relays per outbox, every client listing all three nodes.

One cluster per test module (`fault_cluster`), started once, with the session's test vhost
provisioned on it by the vhost tool. Its nodes are tuned for tests only:
`dead_letter_worker_publisher_confirm_timeout` is 5 s instead of 3 minutes. A message
dead-lettered into a DLQ that is still electing a leader is resent that much later
(docs/scaling.md), and a scenario's books must not wait minutes for it. Statistics are
emitted every half second (a quorum queue's on its tick, 1 s here instead of 5) and kept as 1 s
samples, so the books' "holds nothing" checks take 1 to 2 s a queue instead of 10
(tests/support/queue_stats.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broker.cluster.layout import Layout
from broker.local_node import LocalNode
from services.common import topology
from services.common.registry import PROCESSES, Kind, Service
from services.common.settings import BrokerSettings
from tests.reliability.harness import FaultRun, RunConfig
from tests.support.broker import TestBroker
from tests.support.cluster import ADMIN, TestCluster, private_layout, running_cluster
from tests.support.pgdb import throwaway_database
from tests.support.processes import provision_vhost
from tests.support.queue_stats import SAMPLES_EVERY_SECOND, STATISTICS_EVERY_HALF_SECOND

# the resend of a dead-lettered message, and a quorum queue's statistics tick (5 s by default)
_RABBIT = (
    "{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 5000}, {quorum_tick_interval, 1000}]}"
)
_ADVANCED_CONFIG = f"[{_RABBIT}, {SAMPLES_EVERY_SECOND}].\n"
_SETTINGS = (STATISTICS_EVERY_HALF_SECOND,)
# Two of each: a node's loss moves both instances' connections, and the relays' lease passes.
DOUBLED = tuple(p.name for p in PROCESSES if p.kind in (Kind.RELAY, Kind.WORKER))
SERVICES = tuple(service.value for service in Service)


@dataclass(frozen=True)
class ClusterTarget:
    """The cluster, as the system under test sees it."""

    cluster: TestCluster
    session: TestBroker  # the session's vhost: its name, logins and passwords

    @property
    def vhost(self) -> str:
        return self.session.vhost

    def broker_env(self) -> dict[str, str]:
        nodes = self.cluster.nodes
        return {
            "BROKER_NODES": ",".join(f"{n.host}:{n.ports.amqp}" for n in nodes),
            "BROKER_MANAGEMENT_URL": nodes[0].management_url,
            "BROKER_QUEUE_TYPE": topology.QueueType.QUORUM.value,
            "BROKER_VHOST": self.vhost,
        }

    def broker(self, via: LocalNode) -> TestBroker:
        """The test's own view of the vhost (purge, queue counts), through node `via`."""
        settings = BrokerSettings(
            host=via.host,
            port=via.ports.amqp,
            management_url=via.management_url,
            vhost=self.vhost,
            queue_type=topology.QueueType.QUORUM,
        )
        return TestBroker(
            settings=settings,
            topology=topology.build(self.vhost, topology.QueueType.QUORUM),
            passwords=self.session.passwords,
            admin_user=ADMIN[0],
            admin_password=ADMIN[1],
        )


def fault_layout(state_dir: Path, settings: tuple[str, ...] = ()) -> Layout:
    """The test-tuned layout of a fault cluster, with `settings` (rabbitmq.conf lines) added."""
    return private_layout(state_dir, (*_SETTINGS, *settings), _ADVANCED_CONFIG)


@pytest.fixture(scope="module")
def fault_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    with running_cluster(fault_layout(tmp_path_factory.mktemp("fault-cluster"))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster_target(fault_cluster: TestCluster, test_broker: TestBroker) -> ClusterTarget:
    target = ClusterTarget(fault_cluster, test_broker)
    env = {
        **target.broker_env(),
        "BROKER_ADMIN_USER": ADMIN[0],  # every node is on loopback, where guest may log in
        "BROKER_ADMIN_PASSWORD": ADMIN[1],
    }
    provision_vhost(target.vhost, env)
    return target


@pytest.fixture
def cluster_run(
    request: pytest.FixtureRequest, cluster_target: ClusterTarget, tmp_path: Path
) -> Iterator[Callable[..., FaultRun]]:
    """`cluster_run(scenario, fault, observer=node, **FaultRun fields)`: a FaultRun on the
    cluster, with fresh PostgreSQL databases. The test itself looks at the queues through
    `observer` (node 1 by default): give it a node that is up when the run starts and when it
    finishes."""
    config = RunConfig.from_options(request.config)
    with ExitStack() as databases:

        def make(
            scenario: str, fault: str, observer: LocalNode | None = None, **kw: Any
        ) -> FaultRun:
            urls = {
                f"{service.upper()}_DATABASE_URL": databases.enter_context(
                    throwaway_database(f"reliability_{service}")
                )
                for service in SERVICES
            }
            via = observer or cluster_target.cluster.nodes[0]
            return FaultRun(
                scenario,
                fault,
                cluster_target,
                cluster_target.broker(via),
                tmp_path,
                config,
                extra_env={**urls, **kw.pop("extra_env", {})},
                doubled=DOUBLED,
                **kw,
            )

        yield make
