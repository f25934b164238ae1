"""Stage 11, history: the CPU per settled order on an empty database against one holding N orders
of history (a million in the run docs/benchmarks.md reports), same run, same load.

Per database (PostgreSQL, a throwaway database per service; SQLite, a file per service) two
whole systems run side by side, each in its own throwaway vhost: one on empty databases, one on
databases given N orders of history (`history_build.py`: every row N settled orders leave, all
inside the retention window). Both get a warm-up step, then the same steps of paced orders at one
fixed rate (the capacity stage's step: `capacity.run_step`), alternating between the two, the
side that goes first swapped every run, so that the load other work puts on the machine falls on
both alike. Each step's CPU per settled order is that of every process of the system, and on
PostgreSQL that of the backends serving its databases, as in the capacity stage. A step with an
error (an order that did not settle) is left out of the figures and named in the notes. On
PostgreSQL the notes also give the rows that sequential scans read during the steps
(`pg_scans.py`), on each side: a statement that reads the history shows there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs
from bench.capacity import FIRST_RATE, WARMUP_SECONDS, Step, run_step
from bench.fanout import Meters
from bench.history_build import Built, build
from bench.pg_databases import METER, service_databases
from bench.pg_scans import read_since, seq_reads
from bench.settlement import Settlement
from bench.stats import Spread, percentile
from bench.vhost import sibling_vhost
from services.common.topology import QueueType
from tests.support.system import DEFAULT_PROCESSES, System

DATABASES = ("postgresql", "sqlite")
EMPTY, HISTORY = "empty", "history"


@dataclass(frozen=True)
class HistorySizes:
    orders: int = 1_000_000  # of history
    rate: float = 10.0  # orders/s, every step
    seconds: float = 10.0  # per step
    runs: int = 5  # steps per side
    databases: tuple[str, ...] = DATABASES


@dataclass
class HistoryResult:
    sizes: HistorySizes
    steps: dict[str, dict[str, list[Step]]] = field(default_factory=dict)  # db -> side -> steps
    built: dict[str, Built] = field(default_factory=dict)  # db -> its history
    # db -> side -> "service.table" -> rows its sequential scans read during the steps
    scans: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def counted(self, database: str, side: str) -> list[Step]:
        """The steps whose every order settled."""
        return [s for s in self.steps.get(database, {}).get(side, []) if not s.errors]

    def spread(self, database: str, side: str, figure: str) -> Spread:
        """ "cpu" (every process), "backends" (PostgreSQL's), "all" (both), "cpu:<process>",
        "settle_p50", "settle_p99" over the counted steps."""
        steps = self.counted(database, side)
        if figure.startswith("cpu:"):
            return Spread.of([s.cpu_ms.get(figure[4:], 0.0) for s in steps])
        values = {
            "cpu": [s.cpu_total_ms for s in steps],
            "backends": [s.other_cpu_ms[METER] for s in steps if METER in s.other_cpu_ms],
            "all": [s.cpu_total_ms + sum(s.other_cpu_ms.values()) for s in steps],
            "settle_p50": [percentile(s.settle_ms, 50) for s in steps],
            "settle_p99": [s.p99_ms for s in steps],
        }
        return Spread.of(values[figure])


def history_stage(
    tmp: Path, queue_type: QueueType, sizes: HistorySizes, progress: Callable[[str], None]
) -> HistoryResult:
    result = HistoryResult(sizes)
    for database in sizes.databases:
        _one_database(database, tmp / f"history-{database}", queue_type, sizes, result, progress)
    return result


@dataclass
class _Side:
    name: str
    sys_: System
    meters: Meters


def _one_database(
    database: str,
    tmp: Path,
    queue_type: QueueType,
    sizes: HistorySizes,
    result: HistoryResult,
    progress: Callable[[str], None],
) -> None:
    with ExitStack() as stack:
        sides = [
            stack.enter_context(_side(name, database, tmp, queue_type)) for name in (EMPTY, HISTORY)
        ]
        progress(f"stage 11: {sizes.orders:,} orders of history on {database}")
        result.built[database] = build(sides[1].sys_, sizes.orders, progress)
        settlements = {side.name: stack.enter_context(Settlement.of(side.sys_)) for side in sides}
        for side in sides:
            settled = settlements[side.name]
            procs.start(side.sys_, *DEFAULT_PROCESSES)
            settled.quiesce()
            run_step(side.sys_, settled, side.meters, FIRST_RATE, WARMUP_SECONDS, "warmup")
        steps: dict[str, list[Step]] = result.steps.setdefault(database, {EMPTY: [], HISTORY: []})
        scans_before = {side.name: seq_reads(side.sys_) for side in sides}
        for run in range(sizes.runs):
            for side in sides if run % 2 == 0 else sides[::-1]:
                progress(f"stage 11: {database}, {side.name}, step {run + 1} of {sizes.runs}")
                settled = settlements[side.name]
                settled.quiesce()
                tag = f"{side.name}-{run}"
                step = run_step(side.sys_, settled, side.meters, sizes.rate, sizes.seconds, tag)
                steps[side.name].append(step)
        if database == "postgresql":
            result.scans[database] = {
                side.name: read_since(scans_before[side.name], seq_reads(side.sys_))
                for side in sides
            }


@contextmanager
def _side(name: str, database: str, tmp: Path, queue_type: QueueType) -> Iterator[_Side]:
    """A system of its own (vhost, databases), no process started; its meters running."""
    with ExitStack() as stack:
        vh = stack.enter_context(sibling_vhost(queue_type))
        env = dict(vh.env)
        meters: Meters = {}
        if database == "postgresql":
            dbs = stack.enter_context(service_databases(f"bench_{name}"))
            env.update(dbs.env)
            meters[METER] = stack.enter_context(dbs.backends_cpu())
        yield _Side(name, stack.enter_context(procs.system(tmp / name, env)), meters)
