"""`python -m runner` (what `make up` runs) as a person uses it: real supervisord, real processes,
real pipes and signals.

A small Procfile stands in for the system so that each test starts in seconds: an HTTP server,
the real SMTP sink (the Procfile's own command, with a readiness probe, so the panel is printed),
a process that ignores SIGTERM and has a child (only SIGKILL to its process group after the grace
stops it) and, where asked, one that crashes.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from runner.config import read_procfile
from runner.output import Follow
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import PYTHON, REPO_ROOT

GRACE = 2
STUBBORN = """
import signal, socket, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child: only SIGKILL stops them
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print(f"child pid {child.pid}", flush=True)
time.sleep(600)
"""
CRASHER = "import time; time.sleep(2); raise SystemExit(3)"
STATUS_LINE = re.compile(r"^(\S+)\s+([A-Z]+)\s+(?:pid (\d+),)?", re.M)


@dataclass
class Run:
    tmp: Path
    ports: dict[str, int]
    env: dict[str, str]
    runner: subprocess.Popen[bytes] | None = None
    pids: set[int] = field(default_factory=set)

    @property
    def run_dir(self) -> Path:
        return self.tmp / "run"

    def start(
        self, stdout: int | IO[Any], stderr: int | IO[Any], only: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        """`python -m runner up` in a process group of its own, as a terminal's job would be."""
        argv = [PYTHON, "-m", "runner", "up", "--procfile", str(self.tmp / "Procfile")]
        argv += ["--run-dir", str(self.run_dir), "--stop-grace", str(GRACE)]
        argv += ["--only", *only] if only else []
        self.runner = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=self.env, stdout=stdout, stderr=stderr, process_group=0
        )
        self.pids.add(self.runner.pid)
        return self.runner

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [PYTHON, "-m", "runner", *args, "--run-dir", str(self.run_dir)]
        return subprocess.run(
            argv, cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )

    def status(self) -> dict[str, tuple[str, int | None]]:
        out = self.ctl("status").stdout
        return {m[1]: (m[2], int(m[3]) if m[3] else None) for m in STATUS_LINE.finditer(out)}

    def wait_running(self, *names: str) -> dict[str, int]:
        """Wait until `names` run and serve; remember every pid (supervisord's and a child's)."""

        def probe() -> dict[str, int] | None:
            status = self.status()
            running = {n: pid for n, (state, pid) in status.items() if state == "RUNNING" and pid}
            if set(names) - set(running) or not all(map(_listening, self.ports.values())):
                return None
            return running

        running = wait_until(probe, timeout=60, interval=0.2, message=lambda: str(self.status()))
        self.pids |= set(running.values())
        self.pids.add(int((self.run_dir / "supervisord.pid").read_text()))
        log = self.run_dir / "logs" / "stubborn.log"
        child = wait_until(lambda: re.search(r"child pid (\d+)", log.read_text()), timeout=10)
        self.pids.add(int(child[1]))
        return running

    def wait_all_gone(self) -> None:
        """Every process of the run has exited and every port it held is free again."""
        wait_until(
            lambda: all(map(_gone, self.pids)) and not any(map(_listening, self.ports.values())),
            timeout=GRACE + 30,
            interval=0.2,
            message=lambda: f"alive: {[p for p in self.pids if not _gone(p)]}",
        )


def _read_until(stream: IO[bytes], patterns: list[str], timeout: float = 60) -> None:
    """Read a pipe until every pattern has shown up in it."""
    seen = b""

    def probe() -> bool:
        nonlocal seen
        while select.select([stream], [], [], 0)[0]:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"stdout closed early:\n{seen.decode()}"
            seen += chunk
        return all(re.search(p, seen.decode(errors="replace")) for p in patterns)

    wait_until(probe, timeout=timeout, interval=0.1, message=lambda: seen.decode()[-3000:])


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped by its parent


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    ports = {"web": free_port(), "stubborn": free_port(), "smtp-sink": free_port()}
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    procfile = {
        "web": f"python -m http.server --bind 127.0.0.1 {ports['web']} -d {tmp_path}",
        "stubborn": f"python {tmp_path / 'stubborn.py'} {ports['stubborn']}",
        "smtp-sink": read_procfile(REPO_ROOT / "Procfile")["smtp-sink"],
        "crasher": f"python -c '{CRASHER}'",
    }
    (tmp_path / "Procfile").write_text("".join(f"{n}: {c}\n" for n, c in procfile.items()))
    env = {
        **os.environ,
        "EMAIL_SINK_PORT": str(ports["smtp-sink"]),
        "EMAIL_SINK_DIR": str(tmp_path / "mail"),
    }
    started = Run(tmp_path, ports, env)
    try:
        yield started
    finally:  # only after a failure is anything left: kill what this test started
        for pid in started.pids:
            with suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(PYTHON.encode()):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.documents("make up | tee up.log")
def test_ctrl_c_with_stdout_piped_into_tee_stops_everything(run: Run) -> None:
    # `make up | tee up.log`, then Ctrl-C: the terminal sends SIGINT to the whole job, tee
    # included, and tee dies of it at once; the runner's next line goes into a dead pipe.
    runner = run.start(stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert runner.stdout is not None
    tee_log = run.tmp / "up.log"
    tee = subprocess.Popen(
        ["tee", str(tee_log)],
        stdin=runner.stdout,
        stdout=subprocess.DEVNULL,
        process_group=runner.pid,
        # as from an interactive shell: a test runner's worker may ignore SIGINT, and an ignored
        # signal stays ignored across exec
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    runner.stdout.close()  # tee holds the only read end now, as in a shell pipeline
    assert os.getpgid(tee.pid) == runner.pid  # in the job that Ctrl-C signals
    run.wait_running("web", "stubborn", "smtp-sink")
    wait_until(lambda: "shopflow is up" in tee_log.read_text(), timeout=60)

    os.killpg(runner.pid, signal.SIGINT)

    assert tee.wait(timeout=10) == -signal.SIGINT
    run.wait_all_gone()
    assert runner.wait(timeout=10) == 0


@pytest.mark.documents("make up | head")
def test_stdout_closed_while_running_stops_everything(run: Run) -> None:
    # `make up | head`, or a terminal that went away, while no process prints anything: the
    # runner must notice that the reader is gone without a failed write.
    quiet = ("web", "stubborn", "smtp-sink")  # no crasher: its exit would be printed
    with (run.tmp / "stderr").open("wb") as errors:
        runner = run.start(stdout=subprocess.PIPE, stderr=errors, only=quiet)
    assert runner.stdout is not None
    run.wait_running(*quiet)
    running = [rf"success: {name} entered RUNNING" for name in quiet]
    _read_until(runner.stdout, ["shopflow is up", *running])
    assert run.status()["crasher"][0] == "STOPPED"  # known to the run, left out by --only

    runner.stdout.close()

    run.wait_all_gone()
    assert runner.wait(timeout=10) == 0
    assert "nobody reads stdout any more" in (run.tmp / "stderr").read_text()


def test_one_process_stops_starts_restarts_and_crashes_while_the_others_run(run: Run) -> None:
    with (run.tmp / "up.log").open("wb") as out:
        runner = run.start(stdout=out, stderr=subprocess.STDOUT)
    before = run.wait_running("web", "stubborn", "smtp-sink")
    others = {n: before[n] for n in ("stubborn", "smtp-sink")}

    def assert_others_untouched() -> None:
        status = run.status()
        assert {n: status[n] for n in others} == {n: ("RUNNING", p) for n, p in others.items()}

    stopped = run.ctl("stop", "web")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "web: stopped")
    assert run.status()["web"][0] == "STOPPED"
    assert _gone(before["web"])
    assert not _listening(run.ports["web"])
    assert_others_untouched()

    started = run.ctl("start", "web")
    assert (started.returncode, started.stdout.strip()) == (0, "web: started")
    state, web = run.status()["web"]
    assert state == "RUNNING"
    assert web not in (None, before["web"])
    assert web is not None
    wait_until(lambda: _listening(run.ports["web"]), timeout=10)
    run.pids.add(web)
    assert_others_untouched()

    # restart waits for the readiness probe (the sink's port answers) before it returns
    restarted = run.ctl("restart", "smtp-sink")
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.splitlines() == [
        "smtp-sink: stopped",
        "smtp-sink: started",
        "ready: smtp-sink",
    ]
    state, sink = run.status()["smtp-sink"]
    assert state == "RUNNING"
    assert sink not in (None, before["smtp-sink"])
    assert sink is not None
    run.pids.add(sink)
    others = {"stubborn": before["stubborn"], "web": web}
    assert_others_untouched()

    # The crasher exits with status 3 on its own: it stays down, and nothing else goes with it.
    wait_until(lambda: run.status()["crasher"][0] == "EXITED", timeout=30)
    assert_others_untouched()
    assert run.ctl("status").returncode != 0  # not everything runs

    # The foreground terminal: every process's lines behind its name, supervisor's on its own.
    log = (run.tmp / "up.log").read_text()
    assert re.search(r"^\d\d:\d\d:\d\d web +\| Serving HTTP on 127\.0\.0\.1", log, re.M)
    assert re.search(
        r"^\d\d:\d\d:\d\d supervisor +\| WARN exited: crasher \(exit status 3", log, re.M
    )
    assert re.search(r"^\d\d:\d\d:\d\d supervisor +\| WARN stopped: web", log, re.M)

    again = run.start(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, refused = again.communicate(timeout=30)
    assert again.returncode == 1  # a second `make up` on the same run directory is refused
    assert b"already running" in refused
    runner.send_signal(signal.SIGINT)
    run.wait_all_gone()
    assert runner.wait(timeout=10) == 0


def test_log_lines_follow_partial_writes_rotation_and_truncation(tmp_path: Path) -> None:
    # What supervisor does to a process's log file: appends in any chunks, renames it to .1 and
    # starts a new one at 20 MB, truncates it on `supervisorctl clear`.
    log = tmp_path / "web.log"
    log.write_bytes(b"from an earlier run\n")
    follow = Follow(log, "web")
    with log.open("ab") as fh:
        fh.write(b"one\ntw")
    assert follow.read_lines() == ["one"]
    with log.open("ab") as fh:
        fh.write(b"o\nlast before rotation\n")
    log.rename(tmp_path / "web.log.1")
    log.write_bytes(b"first after rotation\n")
    assert follow.read_lines() == ["two", "last before rotation"]
    assert follow.read_lines() == ["first after rotation"]
    log.write_bytes(b"")
    assert follow.read_lines() == []
    log.write_bytes(b"after clear\n")
    assert follow.read_lines() == ["after clear"]
