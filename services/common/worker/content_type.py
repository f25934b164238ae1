"""Which AMQP content types the ingress reads as a JSON event.

The content type is a media type with parameters, compared the way HTTP and MIME define it
(RFC 9110, section 8.3.1): the type case-insensitively, parameters after `;`, values possibly
quoted. Clients in many languages send `application/json; charset=utf-8`, and that is the same
JSON event as a bare `application/json`.

- `application/json`, whatever its case and parameters: accepted, if its charset allows;
- `charset`: JSON exchanged between systems is UTF-8 (RFC 8259, section 8.1), and the body is
  decoded as UTF-8. `utf-8` (any spelling Python knows: `UTF8`, `"utf-8"`) is accepted, and so
  is `us-ascii`, a subset of it. Any other charset is refused with a reason that names it: a
  producer that declares `iso-8859-1` most likely sends those bytes, and reading them as UTF-8
  either fails anyway or, worse, turns text into other text (`Ã©` for `é`) without a word;
- anything else (no content type, `text/plain`, pickle, `application/cloudevents+json`, whose
  body is not our envelope): refused.
"""

from __future__ import annotations

import codecs
from email.message import Message
from email.utils import collapse_rfc2231_value

JSON = "application/json"
READABLE_CHARSETS = frozenset({"utf-8", "ascii"})  # codecs' names, after alias lookup


def json_content_type_problem(content_type: str | None) -> str | None:
    """None when `content_type` announces a JSON event the ingress can read; else the reason."""
    header = Message()
    header["Content-Type"] = content_type or ""
    # get_content_type() lower-cases the media type, and says text/plain for a malformed one
    if header.get_content_type() != JSON:
        return f"content type {content_type!r} is not {JSON}"
    charset = header.get_param("charset")
    if charset is None:
        return None
    name = collapse_rfc2231_value(charset)  # a plain string unless RFC 2231-encoded
    try:
        readable = codecs.lookup(name).name in READABLE_CHARSETS
    except LookupError:
        readable = False
    if not readable:
        return f"content type {content_type!r}: charset {name!r} is not utf-8 (JSON is UTF-8)"
    return None
