"""Stage 8: how many orders per second one machine settles, and what each one costs.

Every Procfile process runs (the API, every relay and worker, beat, the SMTP sink) with the
defaults `make up` uses. Paced clients (bench/loadgen.py's fixed-rate mode: `CONNECTIONS`
keep-alive connections, each request scheduled at the step's rate and counted from its
scheduled start, so a server that falls behind cannot hide it) place orders for `STEP_SECONDS`
at a rate that rises by `STEP_FACTOR` per step. After each step the bench waits until every
order it placed has *settled*: its final status (CONFIRMED; the stock is plentiful), and every
mail its customer gets for it (one per mail of each event a confirmed order causes, read from the
topology: bench/order_flow.py) marked sent.
An order's settle time is the latest of those moments minus the POST's answer. A step fails
when its settle p99 passes `P99_LIMIT_MS` or it had an error (a non-2xx answer, a connection
error, an order that did not settle within `settlement.SETTLE_TIMEOUT`); a failed step is run
once more, and the ramp stops when it fails again (unless it has sustained nothing yet:
`ramp()`). The capacity is the settled rate of the last step sustained.

CPU per settled order: user + system CPU time of every process of the system (from `/proc`,
children included), from the step's start until its last order settled, divided by its orders.
RabbitMQ's own CPU is not in it: the node is shared with whatever else runs on the machine, so
its CPU cannot be told apart. Other meters (the PostgreSQL backends serving the services'
databases: `pg_databases.py`) are counted over the same window, apart from the processes.

The stage runs on whatever databases the system was given (SQLite files, or PostgreSQL: the
suite runs it on both). The first ramp starts at `first` (`FIRST_RATE` unless the caller knows
better: the PostgreSQL run starts near the SQLite run's capacity); the later runs start
`STEP_FACTOR**3` below the first run's capacity, which saves the steps every run passes anyway.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.fanout import Meters
from bench.http_api import load
from bench.procs import cpu_seconds, start
from bench.settlement import Settlement
from bench.stats import Spread, percentile
from tests.support.system import DEFAULT_PROCESSES, System

FIRST_RATE = 16.0
STEP_FACTOR = 1.25
STEP_SECONDS = 5.0
CONNECTIONS = 32
P99_LIMIT_MS = 250.0
WARMUP_SECONDS = 2.0
MAX_RATE = 2_000.0


@dataclass(frozen=True)
class Step:
    rate: float  # offered, orders/s
    placed: int  # answered 202
    errors: int  # non-2xx answers, connection errors, orders that never settled
    seconds: float  # the step's sending window
    settle_ms: list[float]  # per order: POST answered -> status and every mail
    confirmed_ms: list[float]  # per order: POST answered -> CONFIRMED
    cpu_ms: dict[str, float]  # per process: CPU ms per settled order
    other_cpu_ms: dict[str, float] = field(default_factory=dict)  # per meter: the same

    @property
    def settled_rate(self) -> float:
        return len(self.settle_ms) / self.seconds

    @property
    def p99_ms(self) -> float:
        return percentile(self.settle_ms, 99)

    @property
    def sustained(self) -> bool:
        return self.errors == 0 and bool(self.settle_ms) and self.p99_ms <= P99_LIMIT_MS

    @property
    def cpu_total_ms(self) -> float:
        return sum(self.cpu_ms.values())


@dataclass
class CapacityResult:
    ramps: list[list[Step]] = field(default_factory=list)
    label: str = "capacity"  # in the notes: "capacity run 1: ..."

    def best(self) -> list[Step]:
        """Each run's last sustained step (the runs that sustained any)."""
        out = []
        for ramp in self.ramps:
            ok = [s for s in ramp if s.sustained]
            if ok:
                out.append(ok[-1])
        return out

    def spread(self, figure: str) -> Spread:
        steps = self.best()
        values = {
            "rate": [s.settled_rate for s in steps],
            "cpu_ms": [s.cpu_total_ms for s in steps],
            "cpu_ms_and_other": [s.cpu_total_ms + sum(s.other_cpu_ms.values()) for s in steps],
            "settle_p50": [percentile(s.settle_ms, 50) for s in steps],
            "settle_p99": [s.p99_ms for s in steps],
            "confirmed_p50": [percentile(s.confirmed_ms, 50) for s in steps],
            "confirmed_p99": [percentile(s.confirmed_ms, 99) for s in steps],
        }
        if figure.startswith("cpu:"):
            return Spread.of([s.cpu_ms.get(figure[4:], math.nan) for s in steps])
        if figure.startswith("other:"):
            return Spread.of([s.other_cpu_ms.get(figure[6:], math.nan) for s in steps])
        return Spread.of(values[figure])

    def later_start(self) -> float:
        """Where a later ramp starts: `STEP_FACTOR**3` below the first run's capacity (its last
        sustained offered rate), or `FIRST_RATE` if that run sustained nothing."""
        ok = [s.rate for s in self.ramps[0] if s.sustained] if self.ramps else []
        return max(FIRST_RATE, ok[-1] / STEP_FACTOR**3) if ok else FIRST_RATE

    def processes(self) -> list[str]:
        """The processes by their CPU per order at capacity, the largest first."""
        steps = self.best()
        names = {name for s in steps for name in s.cpu_ms}
        return sorted(names, key=lambda n: -self.spread(f"cpu:{n}").median)

    def ladders(self) -> list[str]:
        """One line per run: each step's offered rate and settle p99, for the report's notes."""
        return [
            f"{self.label} run {i + 1}: "
            + ", ".join(
                f"{s.rate:.0f}/s p99 {s.p99_ms:.0f} ms"
                + (f" ({s.errors} errors)" if s.errors else "")
                for s in ramp
            )
            for i, ramp in enumerate(self.ramps)
        ]


def capacity(
    sys_: System,
    runs: int,
    step_seconds: float = STEP_SECONDS,
    progress: Callable[[str], None] = print,
    first: float = FIRST_RATE,
    meters: Meters | None = None,
    label: str = "capacity",
) -> CapacityResult:
    start(sys_, *DEFAULT_PROCESSES)
    result = CapacityResult(label=label)
    meters = meters or {}
    with Settlement.of(sys_) as settlement:
        settlement.quiesce()
        # Warm-up, not counted: each process builds its container on its first event, Jinja
        # compiles the templates, the databases open their files and connections.
        run_step(sys_, settlement, meters, FIRST_RATE, WARMUP_SECONDS, "warmup")
        for run in range(runs):
            settlement.quiesce()
            start_at = first if run == 0 else result.later_start()
            ramp = _ramp(sys_, settlement, meters, start_at, step_seconds, run)
            result.ramps.append(ramp)
            progress(result.ladders()[-1])
    return result


def _ramp(
    sys_: System, settlement: Settlement, meters: Meters, first: float, seconds: float, run: int
) -> list[Step]:
    tags = itertools.count()

    def attempt(rate: float, after_failure: bool) -> Step:
        if after_failure:
            settlement.quiesce()
        return run_step(sys_, settlement, meters, rate, seconds, f"{run}-{next(tags)}")

    return ramp(first, attempt)


def ramp(first: float, attempt: Callable[[float, bool], Step]) -> list[Step]:
    """Steps of rising rate from `first` until one fails twice in a row. `attempt(rate,
    after_failure)` runs a step; `after_failure`: a step failed just before, wait until its orders
    settled.

    A failed step is tried once more: on a shared machine one burst of someone else's work can
    fail a step the system sustains. A ramp that started above `FIRST_RATE` and fails before it
    sustained any step starts again `STEP_FACTOR**3` lower (a start taken from another run, the
    other database's, can be above this system's capacity)."""
    steps: list[Step] = []
    rate, after_failure = first, False
    while rate <= MAX_RATE:
        step = attempt(rate, after_failure)
        steps.append(step)
        if not step.sustained:
            step = attempt(rate, True)
            steps.append(step)
            if not step.sustained:
                if rate <= FIRST_RATE or any(s.sustained for s in steps):
                    break
                rate, after_failure = max(FIRST_RATE, rate / STEP_FACTOR**3), True
                continue
        rate, after_failure = rate * STEP_FACTOR, False
    return steps


def run_step(
    sys_: System, settlement: Settlement, meters: Meters, rate: float, seconds: float, tag: str
) -> Step:
    procs = dict(sys_.procs)
    before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    before_other = {name: meter() for name, meter in meters.items()}
    record = sys_.tmp / f"capacity-{tag}.json"
    out = load(
        f"{sys_.api_url}/orders",
        rate=rate,
        duration=seconds,
        connections=CONNECTIONS,
        record=str(record),
        warmup=0.0,
    )
    answered = {oid: t for t, status, oid in json.loads(record.read_text()) if status == 202}
    settled = settlement.wait(len(answered))
    used = {name: cpu_seconds(p.pid) - before[name] for name, p in procs.items()}
    other = {name: meter() - before_other[name] for name, meter in meters.items()}
    times = settlement.times(answered) if settled else {}
    count = len(times) or 1
    return Step(
        rate=rate,
        placed=len(answered),
        errors=int(out["errors"]) + (len(answered) - len(times)),
        seconds=float(out["seconds"]),
        settle_ms=[(max(t) - answered[oid]) * 1000 for oid, t in times.items()],
        confirmed_ms=[(t[0] - answered[oid]) * 1000 for oid, t in times.items()],
        cpu_ms={name: s * 1000 / count for name, s in used.items()},
        other_cpu_ms={name: s * 1000 / count for name, s in other.items()},
    )
