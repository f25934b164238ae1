"""Which mails an event produces, and rendering them from the template files.

Each mail kind is three files in `templates/`: `<name>.subject.j2`, `<name>.txt.j2` (the plain
text part) and `<name>.html.j2` (the HTML part, autoescaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.common.events import Envelope
from services.common.topology import ORDER_CONFIRMED, ORDER_PLACED, ORDER_REJECTED

TEMPLATE_DIR = Path(__file__).with_name("templates")

ORDER_RECEIVED = "order_received"
ORDER_CONFIRMED_MAIL = "order_confirmed"
ORDER_REJECTED_MAIL = "order_rejected"

# Event type -> the mails it causes. The email queue's bindings (services/common/topology.py)
# must be exactly these event types; a unit test checks it.
MAILS_BY_EVENT: dict[str, tuple[str, ...]] = {
    ORDER_PLACED: (ORDER_RECEIVED,),
    ORDER_CONFIRMED: (ORDER_CONFIRMED_MAIL,),
    ORDER_REJECTED: (ORDER_REJECTED_MAIL,),
}


@runtime_checkable
class ToCustomer(Protocol):
    """Every order event names the customer; that is who gets the mail."""

    @property
    def customer_email(self) -> str: ...


@dataclass(frozen=True)
class RenderedMail:
    template: str
    recipient: str
    subject: str
    text: str
    html: str


def format_money(amount: Decimal, currency: str) -> str:
    """`Decimal("1234.5"), "EUR"` -> `1,234.50 EUR`; never through float."""
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{cents:,.2f} {currency}"


class MailRenderer:
    def __init__(self, template_dir: Path = TEMPLATE_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(template_dir),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["money"] = format_money

    def render(self, template: str, envelope: Envelope[Any]) -> RenderedMail:
        data = envelope.data
        if not isinstance(data, ToCustomer):
            raise TypeError(f"{envelope.type} names no customer_email to send {template} to")
        context = {"order": data, "event": envelope}
        subject = self._env.get_template(f"{template}.subject.j2").render(context)
        return RenderedMail(
            template=template,
            recipient=data.customer_email,
            subject=" ".join(subject.split()),  # one line, whatever the template's whitespace
            text=self._env.get_template(f"{template}.txt.j2").render(context),
            html=self._env.get_template(f"{template}.html.j2").render(context),
        )
