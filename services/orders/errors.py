"""Domain errors of the orders service. The API turns them into 4xx JSON bodies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str
    location: str = "body"  # body | query | path | header | method | request | dependency


class OrdersError(Exception):
    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems


class InvalidOrder(OrdersError):
    """Well-formed, but not something we can sell (unknown SKU, wrong currency, ...)."""


class IdempotencyKeyReused(OrdersError):
    """The Idempotency-Key was already used for a different request."""


class OrderNotFound(OrdersError):
    pass
