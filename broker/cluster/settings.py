"""Settings of the local cluster tool: where its nodes listen and where their files live.

Node `i` (1, 2, 3) uses each base port + i - 1. The defaults sit next to the shared node's ports
(5672, 15672, 15692, 25672) without touching them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import ENV_FILE


class ClusterSettings(BaseSettings):
    """Env: BROKER_CLUSTER_NAME, BROKER_CLUSTER_STATE_DIR, BROKER_CLUSTER_AMQP_PORT,
    BROKER_CLUSTER_MANAGEMENT_PORT, BROKER_CLUSTER_PROMETHEUS_PORT, BROKER_CLUSTER_DIST_PORT."""

    model_config = SettingsConfigDict(
        env_prefix="BROKER_CLUSTER_", env_file=ENV_FILE, extra="ignore"
    )

    name: str = Field(
        default="shopflow",
        pattern=r"^[a-z][a-z0-9-]*$",
        description="the nodes are <name>-1@localhost .. <name>-3@localhost",
    )
    state_dir: Path = Field(
        default=Path("var/cluster"), description="the nodes' data, logs, config and cookie"
    )
    # up to 65533: node i uses each port + i - 1
    amqp_port: int = Field(default=5681, ge=1024, le=65533, description="node 1's AMQP port")
    management_port: int = Field(
        default=15681, ge=1024, le=65533, description="node 1's management UI/API port"
    )
    prometheus_port: int = Field(
        default=15701, ge=1024, le=65533, description="node 1's Prometheus metrics port"
    )
    dist_port: int = Field(
        default=25681, ge=1024, le=65533, description="node 1's Erlang distribution port"
    )
