"""Users and what they may do: tags, password, vhost permissions and topic permissions."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from broker.provision.passwords import password_matches
from broker.provision.plan import Broker, Change
from broker.settings import ProvisionSettings
from services.common.topology import UserSpec


def plan_users(
    broker: Broker, users: tuple[UserSpec, ...], settings: ProvisionSettings
) -> list[Change]:
    changes: list[Change] = []
    for user in users:
        password = settings.password_of(user).get_secret_value()
        current = broker.api.get(broker.path("users", user.name))
        why = _user_differs(user, current, password)
        if why:
            body = {"password": password, "tags": ",".join(sorted(user.tags))}
            changes.append(
                Change(
                    f"put user {user.name}",
                    why,
                    partial(broker.api.put, broker.path("users", user.name), body),
                )
            )
        can_read = broker.vhost_exists and current is not None
        changes += _permissions(broker, user, can_read) + _topic_permissions(broker, user, can_read)
    return changes


def _user_differs(user: UserSpec, current: dict[str, Any] | None, password: str) -> str:
    """Why the user must be (re)written, or "" when it is as defined."""
    if current is None:
        return "missing"
    wanted_tags = sorted(user.tags)
    tags = current.get("tags") or []
    tags = sorted(tags.split(",") if isinstance(tags, str) else tags)
    tags = [t for t in tags if t]
    if tags != wanted_tags:
        return f"tags {tags} != {wanted_tags}"
    if not password_matches(
        current.get("password_hash", ""), password, current.get("hashing_algorithm", "")
    ):
        return "password differs from the environment"
    return ""


def _permissions(broker: Broker, user: UserSpec, can_read: bool) -> list[Change]:
    wanted = asdict(user.permissions)
    path = broker.path("permissions", broker.vhost, user.name)
    current = broker.api.get(path) if can_read else None
    have = {k: current.get(k) for k in wanted} if current else None
    if have == wanted:
        return []
    return [
        Change(
            f"set permissions of {user.name}",
            f"{have} -> {wanted}",
            partial(broker.api.put, path, wanted),
        )
    ]


def _topic_permissions(broker: Broker, user: UserSpec, can_read: bool) -> list[Change]:
    path = broker.path("topic-permissions", broker.vhost, user.name)
    current = (broker.api.get(path) or []) if can_read else []
    have = {t["exchange"]: {"write": t["write"], "read": t["read"]} for t in current}
    wanted = {t.exchange: {"write": t.write, "read": t.read} for t in user.topic_permissions}
    changes = [
        Change(
            f"set topic permissions of {user.name} on {exchange}",
            str(perm),
            partial(broker.api.put, path, {"exchange": exchange, **perm}),
        )
        for exchange, perm in wanted.items()
        if have.get(exchange) != perm
    ]
    for exchange in have.keys() - wanted.keys():
        changes.append(
            Change(
                f"remove topic permissions of {user.name} on {exchange}",
                "not in the definition",
                partial(
                    broker.api.delete,
                    broker.path("topic-permissions", broker.vhost, user.name, exchange),
                ),
            )
        )
    return changes
