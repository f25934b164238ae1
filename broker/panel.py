"""What `make up` prints at the end: where to look and how to log in."""

from __future__ import annotations

from broker.settings import ProvisionSettings
from services.common.topology import MONITOR, user_name


def main() -> None:
    settings = ProvisionSettings()
    broker = settings.broker
    monitor = user_name(broker.vhost, MONITOR)
    print(
        f"""
shopflow is provisioned.
  Management UI   {broker.management_url}   login {monitor} / (BROKER_MONITOR_PASSWORD in .env)
  vhost           {broker.vhost}
  AMQP            amqp://{broker.host}:{broker.port}/{broker.vhost}
  Topology        docs/topology.md   (drift check: make check-topology)
"""
    )


if __name__ == "__main__":
    main()
