"""Run service processes (workers, relays, the API, the SMTP sink) as real subprocesses.

Each process writes its output to a log file under the test's tmp dir; `wait_for_log` polls it.
Processes are started in their own process group so that `kill9()` really kills a Celery worker
together with its pool children.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support.polling import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


class ServiceProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self, since_start: bool = True) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as fh:
            if since_start:
                fh.seek(self._offset)
            return fh.read().decode(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        regex = re.compile(pattern)

        def probe() -> re.Match[str] | None:
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited ({self.proc and self.proc.returncode}) while waiting for "
                    f"{pattern!r}; log:\n{self.log()[-4000:]}"
                )
            return regex.search(self.log())

        return wait_until(
            probe,
            timeout=timeout,
            interval=0.1,
            message=lambda: f"{self.name} log to match {pattern!r}; tail:\n{self.log()[-3000:]}",
        )

    def signal_group(self, sig: signal.Signals) -> None:
        if self.alive():
            os.killpg(self.pid, sig)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (a warm shutdown for Celery) and wait for the exit code."""
        assert self.proc is not None
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s") from None

    def kill9(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acks, like a power cut."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            with suppress(AssertionError):
                self.terminate(timeout=20)
        if self.alive():
            self.kill9()


@contextmanager
def running(*procs: ServiceProcess) -> Iterator[tuple[ServiceProcess, ...]]:
    """Start the processes, and always stop them (also when the test fails)."""
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in reversed(procs):
            p.stop()


def run_into_closed_pipe(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[bytes]:
    """Run `argv` with a stdout whose reader has already gone (`| head` after its last line),
    so its first write (or its final flush) meets a broken pipe; stderr is captured."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    finally:
        os.close(write_end)


def run_provision(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m broker.provision <args>` with `env` (the target broker's settings) over this
    process's environment, as a reader runs it."""
    return subprocess.run(
        [PYTHON, "-m", "broker.provision", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def provision_vhost(vhost: str, env: Mapping[str, str]) -> None:
    """`provision apply --vhost <vhost>` (run_provision); fails the test with its output."""
    proc = run_provision("apply", "--vhost", vhost, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
