"""How long to wait before trying again: one rule for every retry in the system (the relay's
passes, the ingress's hand-offs, the tasks' retries)."""

from __future__ import annotations

import random
from collections.abc import Callable

_MAX_DOUBLINGS = 64  # past this the ceiling is the cap anyway; avoids float overflow


def equal_jitter(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `attempt` failures so far (0 for the first wait).

    Half of `c = min(cap, base * 2**attempt)`, plus up to that half again at random. Equal rather
    than full jitter: the wait never drops below c/2, so a run of retries lasts a known minimum
    (with the task defaults at least 31 s before a dead letter, so a short outage never
    dead-letters work), while the random half still spreads out clients that failed together.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 0), _MAX_DOUBLINGS))
    return float(ceiling / 2 + ceiling / 2 * rand())
