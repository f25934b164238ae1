"""Stage 4: POST /orders on our API against a bare FastAPI endpoint, side by side.

Both are served by uvicorn with the same settings (bench/bare_api.py) and loaded by
bench/loadgen.py in a process of its own: closed loop (saturation) and open loop at a fixed
moderate rate. Runs alternate between the two servers so that background load hits both alike.
Only the API runs (no relay, no workers): this is the cost of taking an order.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

import httpx

from bench.procs import cpu_seconds, free_port, module_process, start, stop
from bench.stats import Spread
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, REPO_ROOT
from tests.support.system import System

ORDER_BODY = json.dumps(
    {
        "customer_email": "bench@example.com",
        "lines": [{"sku": "MUG-BLUE", "quantity": 1}, {"sku": "STICKERS", "quantity": 2}],
    }
)


def load(
    url: str,
    *,
    rate: float = 0.0,
    duration: float = 5.0,
    connections: int = 16,
    record: str = "",
    warmup: float = 1.0,
) -> dict[str, float]:
    argv = [PYTHON, "-m", "bench.loadgen", "--url", url, "--body", ORDER_BODY]
    argv += ["--rate", str(rate), "--duration", str(duration), "--warmup", str(warmup)]
    argv += ["--connections", str(connections)]
    if record:
        argv += ["--record", record]
    out = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, check=True, timeout=duration + 120
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


@dataclass
class HttpResult:
    figures: dict[str, list[float]] = field(default_factory=dict)  # "<who>.<mode>.<metric>"

    def add(self, key: str, value: float) -> None:
        self.figures.setdefault(key, []).append(value)

    def spread(self, key: str) -> Spread:
        return Spread.of(self.figures.get(key, []))


def http_api(sys_: System, runs: int, rate: float, duration: float, connections: int) -> HttpResult:
    start(sys_, "orders-api")
    bare_port = free_port()
    bare = module_process(sys_, "bare-api", "bench.bare_api", ORDERS_HTTP_PORT=str(bare_port))
    bare_url = f"http://127.0.0.1:{bare_port}"

    def bare_up() -> bool:
        if not bare.alive():
            raise RuntimeError(f"bare API exited:\n{bare.log()[-2000:]}")
        try:
            return httpx.get(f"{bare_url}/docs", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(bare_up, timeout=60, message="bare API up")
    targets = {"ours": f"{sys_.api_url}/orders", "bare": f"{bare_url}/orders"}
    servers = {"ours": sys_.procs["orders-api"], "bare": bare}
    result = HttpResult()
    try:
        for _ in range(runs):
            for who, url in targets.items():
                before = cpu_seconds(servers[who].pid)
                sat = load(url, duration=duration, connections=connections)
                used = cpu_seconds(servers[who].pid) - before
                for metric in ("rps", "p50_ms", "p99_ms", "errors"):
                    result.add(f"{who}.sat.{metric}", sat[metric])
                # CPU per request, warm-up included in both the CPU and the count
                total = sat["requests"] * (1 + 1 / duration)
                result.add(f"{who}.sat.cpu_ms", used / total * 1000 if total else float("nan"))
            for who, url in targets.items():
                fixed = load(url, rate=rate, duration=duration, connections=connections)
                for metric in ("rps", "p50_ms", "p99_ms", "errors"):
                    result.add(f"{who}.rate.{metric}", fixed[metric])
    finally:
        stop(sys_, "orders-api", "bare-api")
    return result
