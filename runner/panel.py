"""The panel `make up` prints once every process is ready."""

from __future__ import annotations

from runner.endpoints import Endpoints
from services.common.observability.tracing import requested_exporters


def _traces() -> str:
    exporters = requested_exporters()
    if exporters:
        return f"on: {', '.join(exporters)} (the OTEL_* variables; docs/observability.md)"
    return "off; `OTEL_TRACES_EXPORTER=console make up` puts them in the logs"


def render_panel(ep: Endpoints | None = None) -> str:
    ep = ep or Endpoints.from_settings()
    login = f"{ep.monitor_user} / {ep.monitor_password}"
    ports = [f"{name} :{port}" for name, port in ep.metrics_ports.items()]
    rows = [", ".join(ports[i : i + 3]) for i in range(0, len(ports), 3)]
    metrics = "\n                     ".join(rows)
    return f"""
==================================================================================
 shopflow is up                                               (Ctrl-C stops it all)

   Storefront        {ep.api_url}/          place an order, watch it live
   Orders API docs   {ep.api_url}/docs
   Management UI     {ep.management_url}    login {login}
   Flower            {ep.flower_url}     login {login}
   Mails             SMTP sink on {ep.smtp_host}:{ep.smtp_port}, stored in {ep.mail_dir}/
                     .venv/bin/python -m services.email.sink list
   Scenario          make scenario    (in another terminal)
   Stock             .venv/bin/python -m services.inventory.cli stock
   Dead letters      .venv/bin/python -m broker.dead_letters list
   Metrics           http://{ep.metrics_host}:PORT/metrics (docs/observability.md)
                     {metrics}
                     RabbitMQ {ep.rabbitmq_metrics_url}
   Traces            {_traces()}
   Processes         .venv/bin/python -m runner status
                     .venv/bin/python -m runner stop|start|restart NAME
==================================================================================
"""
