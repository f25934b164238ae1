"""The operator token check and the per-client order limit (api/access.py)."""

from __future__ import annotations

import hmac

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import SecretStr

from services.orders.api.access import (
    NO_CREDENTIALS,
    WRONG_CREDENTIALS,
    NotAnOperator,
    PlaceOrderLimit,
    TooManyRequests,
    is_operator,
    require_operator,
)
from services.orders.settings import MissingSetting, Settings

TOKEN = SecretStr("s3cret-operator-token")


def bearer(value: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=value)


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        (None, NO_CREDENTIALS),
        (bearer("s3cret-operator-toke"), WRONG_CREDENTIALS),
        (bearer("s3cret-operator-token "), WRONG_CREDENTIALS),
        (bearer("s3cret-opérator-token"), WRONG_CREDENTIALS),  # not ASCII: no TypeError
        (bearer(""), WRONG_CREDENTIALS),
    ],
)
def test_anything_but_the_token_is_refused(
    credentials: HTTPAuthorizationCredentials | None, problem: str
) -> None:
    with pytest.raises(NotAnOperator) as refused:
        require_operator(credentials, TOKEN)
    assert refused.value.problem == problem


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)  # what access.py calls
    require_operator(bearer(TOKEN.get_secret_value()), TOKEN)
    assert compared == [(b"s3cret-operator-token", b"s3cret-operator-token")]


def test_is_operator_is_true_for_the_token_only() -> None:
    assert is_operator(bearer(TOKEN.get_secret_value()), TOKEN)
    for credentials in (None, bearer("s3cret-operator-toke"), bearer("s3cret-opérator-token")):
        assert not is_operator(credentials, TOKEN)


def test_each_client_gets_its_own_allowance() -> None:
    limit = PlaceOrderLimit("2/minute")
    limit.hit("10.0.0.1")
    limit.hit("10.0.0.1")
    with pytest.raises(TooManyRequests) as over:
        limit.hit("10.0.0.1")
    assert over.value.limit == "2 per minute"
    assert 1 <= over.value.retry_after <= 60
    limit.hit("10.0.0.2")  # another address is not held back


def test_every_limit_of_a_rule_applies() -> None:
    limit = PlaceOrderLimit("5/minute;1/2 seconds")
    limit.hit("c")
    with pytest.raises(TooManyRequests) as over:
        limit.hit("c")
    assert over.value.limit == "1 per 2 seconds"
    assert 1 <= over.value.retry_after <= 2


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_moves_with_the_oldest_request() -> None:
    clock = Clock()
    limit = PlaceOrderLimit("2/minute", clock)
    limit.hit("c")
    clock.now += 40
    limit.hit("c")
    clock.now += 10
    with pytest.raises(TooManyRequests) as over:
        limit.hit("c")
    assert over.value.retry_after == 10  # the first request leaves the window 60 s after it
    clock.now += 10
    limit.hit("c")  # it has left: one place is free again
    with pytest.raises(TooManyRequests) as over:
        limit.hit("c")
    assert over.value.retry_after == 40  # the second, placed at +40 s


def test_a_refused_request_is_counted_in_no_window() -> None:
    clock = Clock()
    limit = PlaceOrderLimit("3/minute;1/2 seconds", clock)
    limit.hit("c")
    for _ in range(5):  # each refused by "1 per 2 seconds"
        with pytest.raises(TooManyRequests):
            limit.hit("c")
    clock.now += 2
    limit.hit("c")
    clock.now += 2
    limit.hit("c")  # the third of the minute: the refused ones took no place


def test_clients_gone_quiet_are_forgotten() -> None:
    clock = Clock()
    limit = PlaceOrderLimit("2/minute;1/second", clock)
    limit.hit("gone")
    clock.now += 30
    limit.hit("active")
    clock.now += 31  # past the longest window since the last sweep: the next hit sweeps
    limit.hit("active")
    assert limit.clients == {"active"}


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("ORDERS_OPERATOR_TOKEN", "ORDERS_OPERATOR_TOKEN"),
        ("ORDERS_STOREFRONT_BROKER_PASSWORD", "ORDERS_STOREFRONT_BROKER_PASSWORD"),
    ],
)
def test_only_the_api_needs_its_secrets_and_it_names_the_missing_one(
    monkeypatch: pytest.MonkeyPatch, unset: str, named: str
) -> None:
    monkeypatch.delenv(unset, raising=False)
    settings = Settings()  # what the worker, beat and relay build: fine without
    with pytest.raises(MissingSetting, match=named):
        settings.api_secrets()
