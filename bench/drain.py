"""Watching a backlog drain: sample a counter (and memory) until it reaches its target.

The rate is taken from the first sample that shows progress to the sample that shows the target,
so process start-up is not counted. The first and second half of the drain are also timed apart:
a flat rate means no cost grows with the backlog or the tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Drain:
    target: int
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, done)
    rss: list[float] = field(default_factory=list)  # MB, one per sample
    cpu: list[float] = field(default_factory=list)  # CPU seconds used so far, one per sample

    def _first_progress(self) -> tuple[float, int]:
        return next((t, c) for t, c in self.samples if c > 0)

    def _reached(self, count: int) -> tuple[float, int]:
        return next((t, c) for t, c in self.samples if c >= count)

    @property
    def rate(self) -> float:
        t0, c0 = self._first_progress()
        t1, c1 = self._reached(self.target)
        return (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")

    def half_rates(self) -> tuple[float, float]:
        t0, c0 = self._first_progress()
        if c0 >= self.target:  # drained between two samples: no halves to compare
            return float("nan"), float("nan")
        tm, cm = self._reached(max(c0 + 1, self.target // 2))
        t1, c1 = self._reached(self.target)
        first = (cm - c0) / (tm - t0) if tm > t0 else float("nan")
        second = (c1 - cm) / (t1 - tm) if t1 > tm else float("nan")
        return first, second

    @property
    def cpu_ms_per_item(self) -> float:
        """CPU time the process spent per item, from the first progress to the end."""
        if not self.cpu:
            return float("nan")
        start = next(i for i, (_, c) in enumerate(self.samples) if c > 0)
        done = self.samples[-1][1] - self.samples[start][1]
        return (self.cpu[-1] - self.cpu[start]) / done * 1000 if done else float("nan")

    @property
    def rss_growth(self) -> tuple[float, float]:
        """Memory at the first progress sample and at the end (MB)."""
        if not self.rss:
            return float("nan"), float("nan")
        start = next(i for i, (_, c) in enumerate(self.samples) if c > 0)
        return self.rss[start], self.rss[-1]


def watch(
    count: Callable[[], int],
    target: int,
    *,
    timeout: float,
    interval: float = 0.05,
    memory: Callable[[], float] | None = None,
    cpu: Callable[[], float] | None = None,
    alive: Sequence[Callable[[], bool]] = (),
) -> Drain:
    drain = Drain(target)
    deadline = time.monotonic() + timeout
    while True:
        done = count()
        drain.samples.append((time.monotonic(), done))
        if memory is not None:
            drain.rss.append(memory())
        if cpu is not None:
            drain.cpu.append(cpu())
        if done >= target:
            return drain
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done} of {target} done after {timeout}s")
        if not all(check() for check in alive):
            raise RuntimeError(f"a process died with {done} of {target} done")
        time.sleep(interval)
