"""The end-to-end scenario script against the whole system started from the Procfile."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.broker import TestBroker
from tests.support.processes import PYTHON, ServiceProcess
from tests.support.system import running_system


def test_the_scenario_passes_against_the_running_system(broker: TestBroker, tmp_path: Path) -> None:
    with running_system(tmp_path) as system:
        scenario = ServiceProcess(
            "scenario",
            [PYTHON, "-m", "scenario", "--json", "--orders", "4", "--timeout", "120"],
            tmp_path / "logs",
            env=system.env,
        )
        scenario.start()
        assert scenario.proc is not None
        code = scenario.proc.wait(timeout=300)
        output = scenario.log()
    start = output.index("{")
    result = json.loads(output[start:])
    failed = [c for c in result["checks"] if not c["ok"]]
    assert code == 0, f"scenario failed: {failed}\n{output[-3000:]}"
    assert result["ok"] is True
    statuses = sorted(o["status"] for o in result["orders"])
    assert statuses == ["CONFIRMED"] * 5 + ["REJECTED"]
    names = {c["name"] for c in result["checks"]}
    assert "poison event in inventory.orders.dlq" in names
    assert "working queues drained" in names
