"""Which mails an event produces, and rendering them from the template files.

Each mail kind is three files in `templates/`: `<name>.subject.j2`, `<name>.txt.j2` (the plain
text part) and `<name>.html.j2` (the HTML part, autoescaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

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
        self._compiled: dict[str, tuple[Template, Template, Template]] = {}

    def render(self, template: str, envelope: Envelope[Any]) -> RenderedMail:
        data = envelope.data
        # Every order event names the customer; that is who gets the mail. (A getattr, where
        # isinstance of a runtime-checkable Protocol cost 7 us a mail.)
        recipient = getattr(data, "customer_email", None)
        if not isinstance(recipient, str):
            raise TypeError(f"{envelope.type} names no customer_email to send {template} to")
        context = {"order": data, "event": envelope}
        subject, text, html = self._templates(template)
        return RenderedMail(
            template=template,
            recipient=recipient,
            # one line, whatever the template's whitespace
            subject=" ".join(subject.render(context).split()),
            text=text.render(context),
            html=html.render(context),
        )

    def _templates(self, template: str) -> tuple[Template, Template, Template]:
        """The three compiled templates of a mail kind, looked up once."""
        found = self._compiled.get(template)
        if found is None:
            subject, text, html = (
                self._env.get_template(f"{template}.{part}.j2")
                for part in ("subject", "txt", "html")
            )
            found = self._compiled[template] = (subject, text, html)
        return found
