"""Seeding demo stock and the stock CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.catalogue import DEMO_CATALOGUE
from services.common.db import Database
from services.inventory import cli, manage
from services.inventory.reserve import reserve_stock
from services.inventory.stock import seed_stock, stock_levels
from tests.support.factories import order_placed_event


def test_seeding_covers_the_catalogue_and_never_undoes_reservations(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/inv.db")
    manage.create_schema(db)
    assert seed_stock(db) == len(DEMO_CATALOGUE)
    levels = {lvl.sku: lvl for lvl in stock_levels(db)}
    assert {sku: lvl.on_hand for sku, lvl in levels.items()} == {
        item.sku: item.initial_stock for item in DEMO_CATALOGUE
    }

    reserve_stock(order_placed_event(lines=[("MUG-BLUE", 2, "8.50")]), db)
    assert seed_stock(db) == 0
    mug = next(lvl for lvl in stock_levels(db) if lvl.sku == "MUG-BLUE")
    assert (mug.reserved, mug.available) == (2, mug.on_hand - 2)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/inv.db"
    monkeypatch.setenv("INVENTORY_DATABASE_URL", url)
    assert manage.main(["init"]) == 0
    return url


def test_cli_shows_stock_levels_as_json_and_as_a_table(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["stock", "--json"]) == 0
    levels = json.loads(capsys.readouterr().out)
    assert {"sku": "POSTER-A2", "on_hand": 0, "reserved": 0, "available": 0} in levels
    assert cli.main(["stock"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["SKU", "ON", "HAND", "RESERVED", "AVAILABLE"]
    assert len(table) == 1 + len(DEMO_CATALOGUE)


def test_cli_shows_the_outcome_of_an_order(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    event = order_placed_event(lines=[("POSTER-A2", 1, "12.00")])
    reserve_stock(event, Database(db_url))
    capsys.readouterr()
    assert cli.main(["order", event.data.order_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "REJECTED"
    assert shown["shortages"] == [{"sku": "POSTER-A2", "requested": 1, "available": 0}]
    assert cli.main(["order", "no-such-order"]) == 1


def test_init_is_idempotent_and_the_cli_shows_the_stock(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert manage.main(["init"]) == 0  # a second init adds nothing
    assert "0 SKUs added" in capsys.readouterr().out
    assert cli.main(["stock", "--json"]) == 0
    levels = json.loads(capsys.readouterr().out)
    assert {lvl["sku"] for lvl in levels} == {item.sku for item in DEMO_CATALOGUE}
    assert any(0 < lvl["available"] <= 5 for lvl in levels), "a SKU an order can exceed"
