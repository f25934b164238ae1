"""The management API URL Flower gets (`--broker_api`); Flower itself: tests/e2e/test_flower.py."""

from __future__ import annotations

import pytest

from broker.flower import management_api_url


@pytest.mark.parametrize(
    ("management_url", "expected"),
    [
        ("http://127.0.0.1:15672", "http://shop-monitor:p%40ss%2Fw%3A@127.0.0.1:15672/api/"),
        ("http://127.0.0.1:15672/", "http://shop-monitor:p%40ss%2Fw%3A@127.0.0.1:15672/api/"),
        (
            "https://old:creds@mq.example/rabbit",
            "https://shop-monitor:p%40ss%2Fw%3A@mq.example/rabbit/api/",
        ),
        ("http://[::1]:15672", "http://shop-monitor:p%40ss%2Fw%3A@[::1]:15672/api/"),
    ],
)
def test_the_monitor_login_goes_into_the_management_url(management_url: str, expected: str) -> None:
    assert management_api_url(management_url, "shop-monitor", "p@ss/w:") == expected
