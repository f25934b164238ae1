"""The vhost tool: makes a vhost match `services.common.topology` (`apply`), reports how it
differs (`check`) or prints the definition (`show`). Usage: `broker.provision.cli`.

One concept per module:
- `plan`: a `Change`, and the broker as the planners read it;
- `users`, `exchanges`, `queues`, `bindings`, `policies`: one planner per kind of object;
- `passwords`: comparing a password with RabbitMQ's stored hash;
- `planner`: the whole plan, in the order it must be applied;
- `migrate`: rebuilding the queues whose type differs from the setting, keeping their messages;
- `cli`: `run()` (shared by the CLI, the tests and the bench) and `main()`.
"""

from __future__ import annotations

from broker.provision.cli import main, run
from broker.provision.passwords import password_matches
from broker.provision.plan import Change
from broker.provision.planner import plan

__all__ = ["Change", "main", "password_matches", "plan", "run"]
