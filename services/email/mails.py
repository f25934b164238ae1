"""Which mails an event produces, and rendering them from the template files.

Each mail kind is one file in `templates/`, `<name>.j2`, with three blocks: `subject`, `text` (the
plain-text part; both turn autoescaping off for themselves) and `html` (the HTML part,
autoescaped). One file per kind: a new mail is one template and one line in MAILS_BY_EVENT.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from services.common.events import Envelope
from services.common.topology import (
    ORDER_CONFIRMED,
    ORDER_PLACED,
    ORDER_REJECTED,
    SHIPMENT_DISPATCHED,
)

TEMPLATE_DIR = Path(__file__).with_name("templates")

ORDER_RECEIVED = "order_received"
ORDER_CONFIRMED_MAIL = "order_confirmed"
ORDER_REJECTED_MAIL = "order_rejected"
ORDER_SHIPPED_MAIL = "order_shipped"

# Event type -> the mails it causes. The email queue's bindings (services/common/topology.py)
# must be exactly these event types; a unit test checks it.
MAILS_BY_EVENT: dict[str, tuple[str, ...]] = {
    ORDER_PLACED: (ORDER_RECEIVED,),
    ORDER_CONFIRMED: (ORDER_CONFIRMED_MAIL,),
    ORDER_REJECTED: (ORDER_REJECTED_MAIL,),
    SHIPMENT_DISPATCHED: (ORDER_SHIPPED_MAIL,),
}


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
    """Renders a mail kind's one template file, `templates/<kind>.j2`, block by block: `subject`,
    `text` (the plain-text part) and `html` (the HTML part, autoescaped inside the file)."""

    PARTS = ("subject", "text", "html")

    def __init__(self, template_dir: Path = TEMPLATE_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(template_dir),
            autoescape=True,  # the subject and text blocks turn it off for themselves
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["money"] = format_money
        self._compiled: dict[str, Template] = {}

    def render(self, template: str, envelope: Envelope[Any]) -> RenderedMail:
        data = envelope.data
        # Every order event names the customer; that is who gets the mail. (A getattr, where
        # isinstance of a runtime-checkable Protocol cost 7 us a mail.)
        recipient = getattr(data, "customer_email", None)
        if not isinstance(recipient, str):
            raise TypeError(f"{envelope.type} names no customer_email to send {template} to")
        compiled = self._template(template)
        context = compiled.new_context({"order": data, "event": envelope})
        subject, text, html = ("".join(compiled.blocks[part](context)) for part in self.PARTS)
        return RenderedMail(
            template=template,
            recipient=recipient,
            subject=" ".join(subject.split()),  # one line, whatever the template's whitespace
            text=text,
            html=html,
        )

    def _template(self, template: str) -> Template:
        """A mail kind's compiled template, looked up once; it must have the three blocks."""
        found = self._compiled.get(template)
        if found is None:
            found = self._env.get_template(f"{template}.j2")
            missing = [part for part in self.PARTS if part not in found.blocks]
            if missing:
                raise LookupError(f"templates/{template}.j2 has no block {', '.join(missing)}")
            self._compiled[template] = found
        return found
