from __future__ import annotations

from pathlib import Path

import pytest

from services.email.sink import __main__ as sink
from services.email.sink.mailbox import Mailbox

RAW = (
    b"From: shop@example.com\r\nTo: ada@example.com\r\nSubject: hi\r\n"
    b"Message-ID: <m1@shopflow>\r\n\r\nhello\r\n"
)


def test_stored_mails_are_listed_in_order_and_found(tmp_path: Path) -> None:
    box = Mailbox(tmp_path / "mail")
    assert box.paths() == []
    first = box.store(RAW, mail_from="shop@example.com", rcpt_tos=["ada@example.com"])
    second = box.store(RAW.replace(b"m1", b"m2"), mail_from="s@x", rcpt_tos=["b@x", "c@x"])

    assert box.paths() == [first, second]
    assert [p.name for p in (tmp_path / "mail").iterdir() if p.name.startswith(".")] == []
    assert box.find("1").header("Message-ID") == "<m1@shopflow>"
    assert box.find("-1").header("Message-ID") == "<m2@shopflow>"
    assert box.find(second.name).path == second
    assert box.find(second.stem).header("X-Sink-Envelope-To") == "<b@x>, <c@x>"
    mail = box.find("1")
    assert mail.header("X-Sink-Envelope-From") == "<shop@example.com>"
    assert mail.part("plain").strip() == "hello"
    assert mail.part("html") == ""


def test_half_written_files_are_not_listed(tmp_path: Path) -> None:
    box = Mailbox(tmp_path)
    (tmp_path / ".123-abc.eml.tmp").write_bytes(RAW[:10])
    assert box.paths() == []


@pytest.mark.parametrize("ref", ["0", "3", "-3", "nope"])
def test_unknown_mail_is_a_lookup_error(tmp_path: Path, ref: str) -> None:
    box = Mailbox(tmp_path)
    box.store(RAW, mail_from="a@x", rcpt_tos=["b@x"])
    box.store(RAW, mail_from="a@x", rcpt_tos=["b@x"])
    with pytest.raises(LookupError):
        box.find(ref)


def test_show_accepts_the_file_it_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` prints `File: var/mail/<name>.eml`; that path, pasted back, shows the same mail."""
    monkeypatch.chdir(tmp_path)
    box = Mailbox(Path("var/mail"))
    box.store(RAW, mail_from="a@x", rcpt_tos=["b@x"])
    box.store(RAW.replace(b"m1", b"m2"), mail_from="a@x", rcpt_tos=["b@x"])

    assert sink.main(["--dir", "var/mail", "show", "1"]) == 0
    first = capsys.readouterr().out
    [printed] = [line.split(": ", 1)[1] for line in first.splitlines() if line.startswith("File:")]
    assert printed.startswith("var/mail/")
    for ref in (printed, str(tmp_path / printed), f"./{printed}"):
        assert sink.main(["--dir", "var/mail", "show", ref]) == 0
        assert capsys.readouterr().out == first

    # a file of that name in another folder is not a mail of this mailbox
    assert sink.main(["--dir", "var/mail", "show", f"elsewhere/{Path(printed).name}"]) == 1
    assert "no mail named" in capsys.readouterr().err
