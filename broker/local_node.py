"""A RabbitMQ node of the local installation, run as a process tree of its own.

The machine's shared node (`rabbit@localhost`, 5672) belongs to every developer and every test
session on it. A node we start for ourselves (the fault suite's private node, the three nodes of
the local cluster) must never be mistaken for it, so everything that identifies a node is its own:
its name, its ports (AMQP, management, Prometheus, Erlang distribution), its data and log
directories, its config files and its Erlang cookie (the cookie is read from `$HOME`, so the node's
directory is its `HOME`). Every `rabbitmqctl` call names the node explicitly.

A node may run another RabbitMQ release than the installed one: `RABBITMQ_RELEASE_ROOT` names a
root directory holding one (`broker/ensure-rabbitmq4.sh` makes a RabbitMQ 4 root), and the node's
scripts are then run from it under `chroot`. The environment passes through `chroot`, so the
node's HOME and files must be at paths that exist inside the root too (the root mounts /tmp).

A node may run in a network namespace of its own (`netns`, made beforehand; the partition tests
cut one off that way): every command of the node then runs under `ip netns exec NS`, it listens
on `host` (its address there) instead of 127.0.0.1, and a name whose host part is an address
(`t1@10.213.0.11`) makes it and its CLI use Erlang long names.

The node's processes (the Erlang VM and its helpers) are found through the environment they
inherit (`RABBITMQ_PID_FILE` is unique per node), not through the pid file alone: a second
`rabbitmq-server` started by mistake for a running node fails and deletes the pid file.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Debian installs the real scripts here; /usr/sbin/rabbitmq-* are wrappers that `su rabbitmq`
# and would drop our HOME (and so our cookie).
DEBIAN_BIN = Path("/usr/lib/rabbitmq/bin")
INSTALL_HINT = "RabbitMQ is not installed: run `sudo apt-get install rabbitmq-server`"
# Instead of the machine's /etc/rabbitmq/rabbitmq-env.conf, which may bind epmd and Erlang
# distribution to 127.0.0.1: in its own namespace a node must be reachable on its address.
_NETNS_ENV = "# the node runs in a network namespace of its own: listen on every address there\n"
VM_GONE_GRACE = 2.0  # seconds without a process of the node before it counts as dead
DEATH_GRACE = 30.0  # a VM whose boot failed writes its crash dump, then exits
RELEASE_ROOT_ENV = "RABBITMQ_RELEASE_ROOT"  # unset or empty: the installed RabbitMQ


class NodeError(RuntimeError):
    """A node could not be started, stopped or asked something; the message is one line."""


def script(name: str) -> str:
    """The path of a RabbitMQ script (`rabbitmq-server`, `rabbitmqctl`)."""
    debian = DEBIAN_BIN / name
    if debian.exists():
        return str(debian)
    found = shutil.which(name)
    if found is None:
        raise NodeError(f"{INSTALL_HINT} ({name} not found)")
    return found


def release_root() -> Path | None:
    """The root of the RabbitMQ release new nodes run from (None: the installed one)."""
    value = os.environ.get(RELEASE_ROOT_ENV, "")
    return Path(value) if value else None


@dataclass(frozen=True)
class NodePorts:
    amqp: int
    management: int
    dist: int
    prometheus: int | None = None  # None: no Prometheus plugin

    def named(self) -> dict[str, int]:
        """Each port with what it is for, for messages ("AMQP 5681")."""
        ports = {"AMQP": self.amqp, "management": self.management, "distribution": self.dist}
        if self.prometheus is not None:
            ports["Prometheus"] = self.prometheus
        return ports


@dataclass
class LocalNode:
    name: str  # e.g. shopflow-1@localhost
    home: Path  # the node's own directory: HOME (cookie), config, data, logs, pid file
    ports: NodePorts
    cookie: str | None = None  # None: Erlang makes one at first start (fine for a lone node)
    settings: list[str] = field(default_factory=list)  # extra rabbitmq.conf lines
    advanced_config: str | None = None  # an Erlang-term advanced.config, for what .conf lacks
    root: Path | None = field(default_factory=release_root)  # run from this release, chrooted
    netns: str | None = None  # a network namespace every command of the node runs in
    host: str = "127.0.0.1"  # the address it listens on (AMQP, management, Prometheus)

    def command(self, name: str) -> list[str]:
        """How to run the RabbitMQ script `name` for this node: from its release root, inside its
        network namespace, if it has them."""
        if self.root is None:
            argv = [script(name)]
        elif not (self.root / DEBIAN_BIN.relative_to("/") / name).exists():
            raise NodeError(f"no RabbitMQ in {self.root}: run `bash broker/ensure-rabbitmq4.sh`")
        else:
            argv = ["chroot", str(self.root), str(DEBIAN_BIN / name)]
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def crash_dump(self) -> Path:
        return self.log_dir / "erl_crash.dump"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.ports.management}"

    @property
    def plugins(self) -> list[str]:
        extra = ["rabbitmq_prometheus"] if self.ports.prometheus is not None else []
        return ["rabbitmq_management", *extra]

    def _config(self) -> str:
        lines = [
            f"listeners.tcp.default = {self.host}:{self.ports.amqp}",
            f"management.tcp.ip = {self.host}",
            f"management.tcp.port = {self.ports.management}",
            "loopback_users.guest = true",
        ]
        if self.ports.prometheus is not None:
            lines += [
                f"prometheus.tcp.ip = {self.host}",
                f"prometheus.tcp.port = {self.ports.prometheus}",
            ]
        return "\n".join([*lines, *self.settings]) + "\n"

    def write_files(self) -> None:
        """The config, plugins and cookie files the node and its CLI read (idempotent)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)  # for a crash dump from the first second
        (self.home / "rabbitmq.conf").write_text(self._config())
        (self.home / "enabled_plugins").write_text(f"[{','.join(self.plugins)}].\n")
        if self.advanced_config is not None:
            (self.home / "advanced.config").write_text(self.advanced_config)
        if self.cookie is not None:
            write_cookie(self.home / ".erlang.cookie", self.cookie)
        if self.netns is not None:
            (self.home / "rabbitmq-env.conf").write_text(_NETNS_ENV)

    def server_env(self) -> dict[str, str]:
        env = {
            **self.cli_env(),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(self.ports.dist),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.log_dir),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "ERL_CRASH_DUMP": str(self.crash_dump),  # else a crash before logging lands in cwd
        }
        if self.advanced_config is not None:
            env["RABBITMQ_ADVANCED_CONFIG_FILE"] = str(self.home / "advanced.config")
        return env

    def cli_env(self) -> dict[str, str]:
        """The CLI needs only the cookie (HOME). Inherited RABBITMQ_* variables are dropped so
        that nothing but this object defines the node, and so that a CLI process never carries
        the node's RABBITMQ_PID_FILE (which is how `processes` recognises the node's own)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        if "." in self.name.partition("@")[2]:  # a long name (an address): CLI and node agree
            env["RABBITMQ_USE_LONGNAME"] = "true"
        if self.netns is not None:
            env["RABBITMQ_CONF_ENV_FILE"] = str(self.home / "rabbitmq-env.conf")
        return {**env, "HOME": str(self.home)}

    # -- commands ---------------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 120, tool: str = "rabbitmqctl") -> str:
        """`rabbitmqctl -n <node> ARGS`; raises NodeError with its first line of complaint."""
        try:
            proc = subprocess.run(
                [*self.command(tool), "-n", self.name, *args],
                env=self.cli_env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise NodeError(
                f"{tool} {args[0]} on {self.name}: no answer in {timeout:.0f}s"
            ) from exc
        if proc.returncode != 0:
            raise NodeError(f"{tool} {' '.join(args)} on {self.name}: {_complaint(proc)}")
        return proc.stdout

    def start(self) -> None:
        """Launch the node in the background; `wait_started` waits for it."""
        self.write_files()
        if self.root is not None and not _inside(self.root, self.home).is_dir():
            raise NodeError(f"{self.home} is not at the same path in {self.root}: use /tmp")
        proc = subprocess.run(
            [*self.command("rabbitmq-server"), "-detached"],
            env=self.server_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise NodeError(f"rabbitmq-server -detached for {self.name}: {_complaint(proc)}")

    def wait_started(self, timeout: float = 120) -> None:
        """Until RabbitMQ and its plugins run. Fails as soon as the VM dies while booting (a port
        taken, a bad config): `rabbitmqctl wait` alone keeps waiting, to its timeout, on the pid
        file the dead VM left behind."""
        cmd = [*self.command("rabbitmqctl"), "-n", self.name, "wait", str(self.pid_file)]
        cmd += ["--timeout", str(int(timeout))]
        deadline = time.monotonic() + timeout + 30
        with subprocess.Popen(
            cmd, env=self.cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            gone_since: float | None = None
            while True:
                try:
                    out, err = proc.communicate(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if self.processes():
                    gone_since = None
                elif gone_since is None:
                    gone_since = now
                elif now - gone_since > VM_GONE_GRACE:
                    proc.kill()
                    raise NodeError(
                        f"{self.name} died while booting ({self.crash_reason()}); "
                        f"see {self.log_dir}"
                    )
                if now > deadline:
                    proc.kill()
                    raise NodeError(
                        f"{self.name} did not start in {timeout:.0f}s; see {self.log_dir}"
                    )
        if proc.returncode == 0:
            return
        if self._exits_within(DEATH_GRACE):  # the CLI saw the boot fail; the VM is on its way out
            raise NodeError(
                f"{self.name} died while booting ({self.crash_reason()}); see {self.log_dir}"
            )
        complaint = _complaint(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
        raise NodeError(f"{self.name} did not start ({complaint}); see {self.log_dir}")

    def _exits_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.processes():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.25)
        return True

    def crash_reason(self) -> str:
        """The first line of the crash dump the VM wrote since its last start, if any."""
        dump = self.crash_dump
        try:
            # `start` writes rabbitmq.conf each time: an older dump is an earlier crash's
            if dump.stat().st_mtime >= (self.home / "rabbitmq.conf").stat().st_mtime:
                with dump.open(errors="replace") as lines:
                    for line in itertools.islice(lines, 20):
                        if line.startswith("Slogan: "):
                            return line.removeprefix("Slogan: ").strip()[:300]
        except OSError:
            pass
        return "no crash dump since its start"

    def stop(self) -> None:
        """Stop the whole node (the Erlang VM too), like a machine shutdown."""
        self.ctl("stop", str(self.pid_file))

    def stop_app(self) -> None:
        """Stop RabbitMQ inside a running VM: every connection drops, AMQP refuses new ones."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")

    # -- processes --------------------------------------------------------------------------

    def processes(self) -> list[int]:
        """Every live process of this node: the VM and the helpers it spawned."""
        return _processes_with_env("RABBITMQ_PID_FILE", str(self.pid_file))

    def vm_pid(self) -> int | None:
        """The Erlang VM's pid, None when the node is not running."""
        for pid in self.processes():
            if _comm(pid) == "beam.smp":
                return pid
        return None

    def kill9(self) -> int:
        """SIGKILL the Erlang VM (a crash: nothing is flushed). Returns the pid it killed."""
        pid = self.vm_pid()
        if pid is None:
            raise NodeError(f"{self.name} is not running")
        os.kill(pid, signal.SIGKILL)
        return pid


def write_cookie(path: Path, cookie: str) -> None:
    """Erlang refuses a cookie file that others can read: create it 0400."""
    if path.exists():
        if path.read_text() == cookie:
            return
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w") as f:
        f.write(cookie)


def _inside(root: Path, path: Path) -> Path:
    """Where `path` is seen from outside when a process chrooted to `root` opens it."""
    return root / path.absolute().relative_to("/")


def _complaint(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI's first meaningful line (it prints pages of diagnostics after it)."""
    for line in (proc.stderr + proc.stdout).splitlines():
        text = line.strip().removeprefix("Error:").strip()
        if text and not text[0].isdigit():  # skip timestamped log lines the CLI echoes
            return text
    return f"exit code {proc.returncode}"


def _processes_with_env(key: str, value: str) -> list[int]:
    wanted = f"{key}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's process
            continue
        if wanted in environ.split(b"\0") and _state(int(entry.name)) != "Z":
            found.append(int(entry.name))
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _state(pid: int) -> str:
    """The process state letter from /proc/<pid>/stat ("Z" for a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0]
