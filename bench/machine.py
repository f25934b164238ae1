"""What the figures were measured on: the machine, its load, and the versions that matter."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

import celery
import fastapi
import httpx
import uvicorn

from bench.vhost import BenchVhost


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def rabbitmq_version(vh: BenchVhost) -> str:
    try:
        r = httpx.get(
            f"{vh.management_url}/api/overview", auth=(vh.admin_user, vh.admin_password), timeout=5
        )
        data = r.json()
        return f"{data.get('rabbitmq_version', '?')} (Erlang {data.get('erlang_version', '?')})"
    except (httpx.HTTPError, ValueError):
        return "?"


def describe(vh: BenchVhost) -> list[str]:
    return [
        f"{os.cpu_count()} CPUs ({cpu_model()}), {memory_gb():.1f} GB RAM, "
        f"{platform.system()} {platform.release()}",
        f"RabbitMQ {rabbitmq_version(vh)} at {vh.host}:{vh.port}, vhost `{vh.name}` (throwaway)",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, Celery "
        f"{celery.__version__}, FastAPI {fastapi.__version__}, uvicorn {uvicorn.__version__}",
    ]
