"""Scenario 8: the SMTP server is down for a while."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.harness import FaultRun

pytestmark = pytest.mark.reliability


def test_smtp_down_for_a_while(fault_run: Callable[..., FaultRun]) -> None:
    with fault_run("8. SMTP sink down", fault="sink stopped for 40% of the stream") as run:
        run.start_traffic()
        run.at(0.2)
        run.system.procs["smtp-sink"].stop()
        run.at(0.6)
        run.system.restart("smtp-sink")
        run.cleared()
        run.finish()
