"""`make env`: .env is made once from .env.example; a later run adds only what .env lacks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_env(folder: Path) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "env"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_env_is_made_once_and_later_only_completed(tmp_path: Path) -> None:
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    assert "created .env" in make_env(tmp_path)
    assert (tmp_path / ".env").read_text() == (REPO / ".env.example").read_text()

    older = "ORDERS_BROKER_PASSWORD=my-own-secret\nLOG_LEVEL=DEBUG\n"
    (tmp_path / ".env").write_text(older)
    out = make_env(tmp_path)

    text = (tmp_path / ".env").read_text()
    assert text.startswith(older)  # what was there is untouched
    assert "added ORDERS_OPERATOR_TOKEN to .env" in out
    assert "ORDERS_BROKER_PASSWORD=orders-dev-password" not in text
    assert text.count("LOG_LEVEL=") == 1
    assert make_env(tmp_path) == ""  # complete now: nothing more to add
