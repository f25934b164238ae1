"""The shared worker package's pure parts: backoff arithmetic."""

from __future__ import annotations

from services.common.worker.ingress import HANDOFF_BACKOFF_MAX, handoff_backoff
from services.common.worker.settings import WorkerSettings
from services.common.worker.tasks import backoff_seconds


def test_task_retry_backoff_is_equal_jitter_under_a_doubling_capped_ceiling() -> None:
    settings = WorkerSettings(
        broker_password="x", retry_backoff_seconds=1.0, retry_backoff_max_seconds=10.0
    )
    for retries, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (4, 10.0), (20, 10.0)]:
        delays = [backoff_seconds(retries, settings) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_ingress_handoff_backoff_doubles_up_to_its_cap() -> None:
    delays = [handoff_backoff(n) for n in range(1, 12)]
    assert delays == sorted(delays)
    assert delays[0] < delays[1] < delays[2]
    assert delays[-1] == HANDOFF_BACKOFF_MAX
