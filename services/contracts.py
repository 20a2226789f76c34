"""Loading commands and dumping resources with the shared schemas, at the services' edges
(entrypoints). Outside the chassis (services/common), which knows no contract: this is
where the two meet."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from marshmallow import Schema, ValidationError, fields

from schemas.events import EVENT_DATA, EventEnvelope
from schemas.fields import DISPLAY_TZ
from schemas.orders import OrderOut
from services.common.errors import InvalidInput

_ORDER_OUT = OrderOut()
_ENVELOPE = EventEnvelope()


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object", {"_schema": ["Expected an object."]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", exc.messages) from exc


def read_event(envelope: Any, needs: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An event as its consumer reads it: the envelope, and the data loaded with the
    producer's contract (schemas/events.py), tolerantly: unknown fields kept, and of the
    fields the contract requires only those in ``needs`` required (all by default); a
    nested part the consumer does not need is kept as it came, not judged. A message
    that breaks either raises ``ValidationError``: dead-lettered with the reason."""
    event = _ENVELOPE.load(envelope)
    kind = (event["source"], event["type"])
    if kind not in EVENT_DATA:
        raise ValidationError(f"no contract for {event['source']}.{event['type']}", "type")
    schema = _consumer_view(kind, needs)
    optional = () if needs is None else tuple(
        name for name, field in schema.fields.items() if field.required and name not in needs)
    event["data"] = schema.load(event["data"], partial=optional)
    return event


@cache
def _consumer_view(kind: tuple[str, str], needs: tuple[str, ...] | None) -> Schema:
    contract = EVENT_DATA[kind]
    if needs is None:
        return contract()
    return contract(exclude=tuple(name for name, field in contract().fields.items()
                                  if isinstance(field, fields.Nested) and name not in needs))


def plain(value: Any) -> Any:
    """JSON-ready copy: datetimes as ISO 8601 in the display zone, dates as ISO dates."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(DISPLAY_TZ).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def dump_order(doc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    resource = {key: plain(value) for key, value in doc.items()
                if not key.startswith("outbox")}
    resource["order_id"] = doc["_id"]
    resource.update(extra)
    return _ORDER_OUT.dump(resource)
