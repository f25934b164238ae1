"""The vhost tool: makes the broker match `services.common.topology`. Run it, don't import it
from services. `python -m broker.provision apply|check`."""
