"""The event envelope: CloudEvents 1.0 attribute names plus `correlationid` and `schemaversion`.

Every event on the wire is one JSON object of this shape. The envelope `id` is also the AMQP
`message_id`, and `type` is also the routing key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """Base of every payload. Subclasses set `event_type` and `schema_version`."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    source: ClassVar[str]  # CloudEvents `source`: the producing service, e.g. "/shopflow/orders"

    def timeline_note(self) -> str | None:
        """What the event means for its order, as one line of the order's timeline, for an event
        orders records as it is (docs/orders.md); None for the others."""
        return None


DataT = TypeVar("DataT", bound=EventData)


class Envelope(BaseModel, Generic[DataT]):
    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=128, description="Unique per event; AMQP message_id")
    type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="Also the routing key")
    source: str = Field(min_length=1, max_length=256)
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str = Field(min_length=1, max_length=128)
    schemaversion: int = Field(ge=1)
    data: DataT

    @classmethod
    def wrap(
        cls,
        data: DataT,
        *,
        correlation_id: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope[DataT]:
        """A new envelope around `data`, with a fresh id unless one is given."""
        event_id = event_id or str(uuid.uuid4())
        model: type[Envelope[DataT]] = Envelope[type(data)]  # type: ignore[misc,assignment]
        return model(
            id=event_id,
            type=data.event_type,
            source=data.source,
            time=time or datetime.now(UTC),
            correlationid=correlation_id or event_id,
            schemaversion=data.schema_version,
            data=data,
        )

    def describe(self) -> str:
        """How log lines name an event: type, id and correlation id."""
        return f"{self.type} {self.id} correlation={self.correlationid}"

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
