"""The docs' commands that cannot run inside the suite as written, checked another way.

A foreground `make up ONLY=...` is parsed by the runner's own parser; Docker Compose commands
must name files, profiles and services that exist; `make lock` must have written what
constraints.txt holds; the pytest commands must select tests; a worker's `celery` command line
must be the one the worker runs. Each test declares the commands it covers
(`@pytest.mark.documents`), and the blocks that hold them name it (docs/writing-docs.md).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from honcho.environ import parse_procfile

from bench.__main__ import parse as parse_bench
from broker.cluster.__main__ import _connection_help
from broker.cluster.layout import Layout
from broker.cluster.settings import ClusterSettings
from runner.__main__ import _parser as runner_parser
from services.common.topology import Service
from services.common.worker.app import worker_argv
from services.email.sink.config import SinkSettings
from tests.support.compose import load_compose, merge_compose
from tests.support.doc_blocks import CHECKED_BY, Command, all_blocks
from tests.support.makefile import targets
from tests.support.processes import PYTHON, REPO_ROOT

PROCFILE = dict(parse_procfile((REPO_ROOT / "Procfile").read_text()).processes)


def commands_of(test: str) -> list[Command]:
    """The commands of every checked-by block that names `test` (a function of this module)."""
    ref = f"tests/docs/{Path(__file__).name}::{test}"
    found = [
        c for b in all_blocks() if b.marker == CHECKED_BY and ref in b.tests for c in b.commands
    ]
    assert found, f"no block names {ref}"
    return found


def make_dry_run(command: str) -> list[str]:
    """What `make ...` would run, without running it (`make -n`)."""
    argv = shlex.split(command)
    assert argv[0] == "make", command
    done = subprocess.run(
        ["make", "-n", *argv[1:]], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


@pytest.mark.documents("make test")
def test_make_test_is_what_ci_runs() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == "make test"
    recipe = targets()["test"].recipe
    for step in (".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"):
        assert step in recipe
    # the whole suite, this test among it, a test file per pytest process at a time, while the
    # RabbitMQ 4 runs go on beside it
    assert (
        ".venv/bin/pytest --numprocesses $(TEST_PROCESSES) --dist loadfile; three=$$?; \\" in recipe
    )
    assert recipe[-4].startswith("make --no-print-directory test-rabbitmq4 ")
    assert "rabbitmq4" in targets()["test"].prerequisites
    four = targets()["test-rabbitmq4"].recipe
    assert [line.split()[:2] for line in four[:2]] == [  # both run, whatever the first gives
        ["$(ON_RABBITMQ4)", "BROKER_QUEUE_TYPE=classic"],
        ["$(ON_RABBITMQ4)", "BROKER_QUEUE_TYPE=quorum"],
    ]


@pytest.mark.documents("make lock")
def test_make_lock_writes_what_constraints_txt_holds() -> None:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    header = [line for line in targets()["lock"].recipe if "echo" in line]
    said = [re.sub(r'.*echo "(.*)";.*', r"\1", line).replace("\\`", "`") for line in header]
    first, version, rest = said[0].partition("$$($(PYTHON) --version)")
    assert version, said[0]
    assert re.fullmatch(re.escape(first) + r"Python [\d.]+" + re.escape(rest), lines[0])
    assert lines[1] == said[1]
    pins = dict(line.split("==") for line in lines[2:])
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    names = {re.split(r"[\[<>=]", dep)[0].lower().replace("_", "-") for dep in wanted}
    assert names <= {name.lower().replace("_", "-") for name in pins}, names - set(pins)


def compose_files(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(-f files, --profile names, the rest) of a `docker compose` command line."""
    files, profiles, rest = [], [], []
    args = iter(argv[2:])
    for arg in args:
        if arg == "-f":
            files.append(next(args))
        elif arg == "--profile":
            profiles.append(next(args))
        else:
            rest.append(arg)
    return files or ["docker-compose.yml"], profiles, rest


@pytest.mark.documents(
    "make env && docker compose up --build",
    "make env && docker compose -f docker-compose.yml -f docker-compose.cluster.yml --profile "
    "cluster up --build",
    "docker compose up --scale inventory-worker=3",
    "docker compose -f docker-compose.yml -f docker-compose.cluster.yml --profile cluster up "
    "--build",
    "docker compose stop rabbitmq-1",
    "docker compose start rabbitmq-1",
)
def test_the_compose_commands_name_what_the_files_define() -> None:
    for command in commands_of("test_the_compose_commands_name_what_the_files_define"):
        parts = command.command.split(" && ")
        assert parts[:-1] in ([], ["make env"]), command  # make env: tests/unit/test_make_env.py
        files, profiles, rest = compose_files(shlex.split(parts[-1]))
        merged: dict[str, Any] = {}
        for name in files:
            merged = merge_compose(merged, load_compose(name))
        services: dict[str, Any] = merged["services"]
        for profile in profiles:
            assert any(profile in s.get("profiles", []) for s in services.values()), command
        verb, *args = rest
        assert verb in {"up", "stop", "start"}, command
        named = [a.split("=")[0] for a in args if not a.startswith("--")]
        assert set(named) <= set(services), f"{command}: {set(named) - set(services)}"
        assert "--build" not in args or any("build" in s for s in services.values())


@pytest.mark.documents(
    ".venv/bin/pytest tests/browser",
    ".venv/bin/pytest tests/docs",
    ".venv/bin/pytest tests/docs/test_doc_markers.py tests/docs/test_checked_commands.py",
    "make reliability ORDERS=2000",
    "bash tests/support/ensure-chromium.sh",
)
def test_the_pytest_commands_select_tests() -> None:
    for command in commands_of("test_the_pytest_commands_select_tests"):
        text = command.command
        if text.startswith("bash "):  # installs Chromium when it is missing: run it as written
            assert subprocess.run(["bash", "-c", text], cwd=REPO_ROOT).returncode == 0, text
            continue
        if text.startswith("make "):
            [text] = [line for line in make_dry_run(text) if line.startswith(".venv/bin/pytest")]
        argv = [PYTHON, "-m", "pytest", *shlex.split(text)[1:], "--collect-only", "-q"]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        collected = r"^[1-9]\d*(/\d+)? tests? collected"
        assert re.search(collected, done.stdout, re.M), done.stdout[-2000:]


@pytest.mark.documents(
    'make up ONLY="orders-api orders-relay smtp-sink"',
    ".venv/bin/python -m runner up --only orders-api orders-relay smtp-sink",
    'make up ONLY="orders-api orders-relay"',
    'make up ONLY="orders-worker orders-beat"',
)
def test_the_foreground_runs_start_what_they_name() -> None:
    """`python -m runner up --only` itself runs in tests/e2e/test_runner.py; here: each
    documented form reaches it with the names it shows, and each name is a Procfile entry."""
    for command in commands_of("test_the_foreground_runs_start_what_they_name"):
        text = command.command
        if text.startswith("make "):
            [text] = [line for line in make_dry_run(text) if " -m runner up" in line]
        argv = shlex.split(text)
        assert argv[:3] == [".venv/bin/python", "-m", "runner"], command
        args = runner_parser().parse_args(argv[3:])
        names = re.findall(r"[a-z]+-[a-z]+", command.command.split("ONLY=")[-1])
        assert (args.command, args.only) == ("up", names), command
        assert set(names) <= set(PROCFILE), command


@pytest.mark.documents(
    "make bench",
    ".venv/bin/python -m bench --quick",
    ".venv/bin/python -m bench --scale-max 100000",
    ".venv/bin/python -m bench --only saga --keep",
    ".venv/bin/python -m bench --only celery,http,capacity",
    ".venv/bin/python -m bench --only queues,workers",
    ".venv/bin/python -m bench --quick --only queues,workers",
    ".venv/bin/python -m bench --only history",
    ".venv/bin/python -m bench --quick --only history",
    ".venv/bin/python -m bench --only priority",
    ".venv/bin/python -m bench --quick --only priority",
)
def test_the_bench_commands_parse() -> None:
    for command in commands_of("test_the_bench_commands_parse"):
        if command.command == "make bench":
            assert targets()["bench"].recipe == (".venv/bin/python -m bench",)
            continue
        argv = shlex.split(command.command)
        assert argv[:3] == [".venv/bin/python", "-m", "bench"], command
        parse_bench(argv[3:])  # an unknown flag or a bad value exits with 2


CELERY_FLAGS = {"-A": "app", "-Q": "--queues", "-n": "--hostname"}


def celery_options(argv: list[str]) -> dict[str, str]:
    """{--option: value} of a `celery -A app worker ...` command line, short flags spelled out."""
    options: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in CELERY_FLAGS or arg in {"--pool", "--concurrency", "--loglevel"}:
            options[CELERY_FLAGS.get(arg, arg)] = next(args)
        else:
            options[arg] = ""
    return options


@pytest.mark.documents(
    ".venv/bin/python -m services.inventory.worker",
    ".venv/bin/celery -A services.inventory.worker worker -Q inventory.tasks -n "
    '"inventory@%h-$PID" --pool threads --concurrency 4 --loglevel INFO --task-events '
    "--without-gossip --without-mingle",
    ".venv/bin/python -m services.email.worker",
    '.venv/bin/celery -A services.email.worker worker -Q email.tasks -n "email@%h-$PID" --pool '
    "threads --concurrency 4 --loglevel INFO --task-events --without-gossip --without-mingle",
)
def test_the_worker_commands_are_what_the_workers_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m services.X.worker` is the Procfile's command (the docs test's `make up` runs
    it); the `celery` line the docs call the same is what that module runs, with the defaults
    of .env.example ($PID: the worker's own process id)."""
    for name in ("WORKER_CONCURRENCY", "WORKER_POOL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for command in commands_of("test_the_worker_commands_are_what_the_workers_run"):
        argv = shlex.split(command.command.replace("$PID", str(os.getpid())))
        if argv[0] == ".venv/bin/python":
            assert f"python {' '.join(argv[1:])}" in PROCFILE.values(), command
            continue
        options = celery_options(argv)
        service = Service(options.pop("app").split(".")[1])
        worker = __import__(f"services.{service.value}.worker", fromlist=["worker"]).worker
        expected = celery_options(["celery", *worker_argv(service, type(worker.settings)())])
        assert options == expected, command


@pytest.mark.documents(".venv/bin/python -m services.email.sink serve")
def test_the_sink_serves_as_the_procfile_runs_it() -> None:
    [command] = commands_of("test_the_sink_serves_as_the_procfile_runs_it")
    assert PROCFILE["smtp-sink"] == command.command.replace(".venv/bin/python", "python")
    defaults = {name: field.default for name, field in SinkSettings.model_fields.items()}
    said = f"{defaults['host']}:{defaults['port']}, mails in {defaults['dir']}/"
    assert command.comment == said


@pytest.mark.documents(
    "export BROKER_NODES=127.0.0.1:5681,127.0.0.1:5682,127.0.0.1:5683",
    "export BROKER_MANAGEMENT_URL=http://127.0.0.1:15681",
    "export BROKER_QUEUE_TYPE=quorum",
)
def test_the_cluster_settings_are_what_cluster_up_prints() -> None:
    printed = _connection_help(Layout.from_settings(ClusterSettings()), "guest")
    exports = [
        c.command for c in commands_of("test_the_cluster_settings_are_what_cluster_up_prints")
    ]
    exports = [e for e in exports if e.startswith("export ")]
    assert exports == [line.strip() for line in printed if line.startswith("  export ")]
