"""A fresh clone of this checkout, run the way a reader runs it: `make up` in its own folder.

The clone holds what `git clone` would give (the tracked files, and the new ones not yet
committed, as they are on disk) plus this checkout's `.venv`, linked: nothing is installed
again, and the clone's own code is what runs (`python -m` imports from the folder it runs in).
Its `.env` is `.env.example` with only what must differ on a machine that may run its own
`make up` and other test sessions at the same time: a vhost of its own, which `make up`
provisions with the development passwords, and ports of its own: one for every port setting the
clone's own registry names (tests/support/port_settings.py), so a service added to the clone
gets its ports too (`Clone.give_ports`). Its files (databases, mails, the runner's logs and
socket) are in its own `var/`, as in any clone.

Commands run in bash from the clone's root with a reader's environment: PATH, HOME and the
locale, and nothing of the test session's settings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from broker.management import ManagementClient
from services.common import topology as t
from tests.support.polling import wait_until
from tests.support.port_settings import PortSettings
from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT

READER_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR")
# The machine's broker, when it is not the default one (the same for a reader and for CI).
MACHINE_SETTINGS = (
    "BROKER_HOST",
    "BROKER_PORT",
    "BROKER_MANAGEMENT_URL",
    "BROKER_ADMIN_USER",
    "BROKER_ADMIN_PASSWORD",
)
PANEL = "shopflow is up"
UP_SECONDS = 240  # the first `make up` provisions the vhost and makes every database


@dataclass
class Clone:
    root: Path
    vhost: str
    settings: dict[str, str]  # what its .env says differently from .env.example
    up: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {name: os.environ[name] for name in READER_VARIABLES if name in os.environ}

    @property
    def api_port(self) -> int:
        return int(self.settings["ORDERS_HTTP_PORT"])

    def dotenv(self) -> dict[str, str]:
        lines = (self.root / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))

    def ports_taken(self) -> list[str]:
        """The clone's TCP ports that something still listens on."""
        tcp = port_settings_of(self.root)["tcp"]
        return [name for name in tcp if _listening(int(self.settings[name]))]

    def give_ports(self) -> None:
        """A port of its own for each port setting that the clone's registry names and its .env
        does not set yet (a service added to the clone), appended to its .env."""
        wanted = port_settings_of(self.root)
        new = free_ports(
            {
                "tcp": [n for n in wanted["tcp"] if n not in self.settings],
                "udp": [n for n in wanted["udp"] if n not in self.settings],
            }
        )
        with (self.root / ".env").open("a") as env:
            env.writelines(f"{name}={value}\n" for name, value in new.items())
        self.settings |= new

    def bash(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, command: str, output: Path) -> None:
        """Run `command` (a `make up`) in a process group of its own, as a terminal's job is,
        and wait for the panel it prints once every process is ready."""
        with output.open("wb") as out:
            self.up = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )

        def panel() -> bool:
            assert self.up is not None
            text = output.read_text(errors="replace")
            if self.up.poll() is not None or "NOT READY" in text:
                raise AssertionError(f"`{command}` did not come up:\n{text[-5000:]}")
            return PANEL in text

        wait_until(panel, timeout=UP_SECONDS, interval=0.5, message=f"`{command}`'s panel")

    def ctrl_c(self) -> int:
        """What Ctrl-C in its terminal does: SIGINT to the whole job. Returns its exit status
        once every process of the run has stopped."""
        assert self.up is not None
        os.killpg(self.up.pid, signal.SIGINT)
        code = self.up.wait(timeout=90)
        wait_until(lambda: not self.supervisord_pid(), timeout=60, message="supervisord to exit")
        self.up = None
        return code

    def supervisord_pid(self) -> int | None:
        pidfile = self.root / "var" / "runner" / "supervisord.pid"
        try:
            pid = int(pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def kill_leftovers(self) -> None:
        """After a failure: whatever of this clone's run is still there, and only that."""
        if self.up is not None and self.up.poll() is None:
            os.killpg(self.up.pid, signal.SIGKILL)
        pid = self.supervisord_pid()
        if pid is not None:  # SIGTERM: supervisord stops its processes, then itself
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while self.supervisord_pid() and time.monotonic() < deadline:
                time.sleep(0.5)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def port_settings_of(root: Path) -> PortSettings:
    """The port settings of the checkout at `root`, read from its own registry."""
    done = subprocess.run(
        [str(root / ".venv" / "bin" / "python"), "-m", "tests.support.port_settings"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    found: PortSettings = json.loads(done.stdout)
    return found


def free_ports(names: PortSettings) -> dict[str, str]:
    """A free port for each setting, TCP or UDP as it is listed."""
    tcp = {name: str(free_port()) for name in names["tcp"]}
    return tcp | {name: str(free_port(socket.SOCK_DGRAM)) for name in names["udp"]}


def copy_checkout(dest: Path) -> None:
    """The files a clone of this checkout would have, as they are on disk, mtimes kept (so that
    make finds the linked .venv installed from these very pyproject.toml and constraints.txt)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(REPO_ROOT / ".venv")


def env_file(example: str, settings: dict[str, str]) -> str:
    """`.env.example` with `settings` in place of its values, and the rest appended."""
    lines = example.splitlines()
    for name, value in settings.items():
        at = [i for i, line in enumerate(lines) if line.startswith(f"{name}=")]
        for i in at:
            lines[i] = f"{name}={value}"
        if not at:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def make_clone(dest: Path, vhost: str) -> Clone:
    copy_checkout(dest)
    installed = subprocess.run(["make", "-q", "install"], cwd=dest, check=False)
    assert installed.returncode == 0, (
        f"{REPO_ROOT / '.venv'} is not installed from this pyproject.toml and constraints.txt: "
        "run `make install` (`make test` does)"
    )
    settings = {"BROKER_VHOST": vhost}
    settings |= {name: os.environ[name] for name in MACHINE_SETTINGS if name in os.environ}
    settings |= free_ports(port_settings_of(dest))
    settings["EMAIL_SMTP_URL"] = f"smtp://127.0.0.1:{settings['EMAIL_SINK_PORT']}"
    (dest / ".env").write_text(env_file((dest / ".env.example").read_text(), settings))
    return Clone(dest, vhost, settings)


def delete_vhost(clone: Clone, *added: str) -> None:
    """The vhost `make up` made for the clone, and its logins: the topology's, and those of the
    services `added` to the clone."""
    url = clone.settings.get("BROKER_MANAGEMENT_URL", "http://127.0.0.1:15672")
    user = clone.settings.get("BROKER_ADMIN_USER", "guest")
    password = clone.settings.get("BROKER_ADMIN_PASSWORD", "guest")
    logins = [u.name for u in t.build(clone.vhost).users]
    logins += [t.user_name(clone.vhost, service) for service in added]
    with ManagementClient(url, user, password) as api:
        api.delete_vhost(clone.vhost)
        for login in logins:
            api.delete_user(login)
