"""The vocabulary of a plan: a `Change`, and the broker as the planners read it.

Every planner compares one kind of object in the definition with the broker and returns the
changes that would make them equal; nothing is changed while planning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.management import ManagementClient


@dataclass
class Change:
    what: str  # e.g. "create queue inventory.orders"
    detail: str
    action: Callable[[], None] | None  # None: cannot be fixed automatically
    # True: `apply` must change nothing at all while this difference exists (a queue of the
    # wrong type would take the other type's policies and lose its dead-lettering).
    blocking: bool = False

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}" if self.detail else self.what


@dataclass(frozen=True)
class Broker:
    """The management API, seen from one vhost. Before the vhost exists nothing can be read from
    it, so every kind of object in it counts as absent. `version` is RabbitMQ's (major, minor):
    a few policy values are spelled differently on 3.x and 4.x."""

    api: ManagementClient
    vhost: str
    vhost_exists: bool
    version: tuple[int, int]

    def path(self, *parts: str) -> str:
        return self.api.path(*parts)

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Every object of `kind` ("queues", "exchanges"...) in the vhost."""
        if not self.vhost_exists:
            return []
        result: list[dict[str, Any]] = self.api.get(self.path(kind, self.vhost)) or []
        return result
