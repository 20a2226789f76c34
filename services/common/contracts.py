"""Loading commands and dumping resources with the shared schemas, at service edges."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from schemas.orders import OrderOut
from services.common.errors import InvalidInput

_ORDER_OUT = OrderOut()


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object", {"_schema": ["Expected an object."]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", exc.messages) from exc


def dump_order(doc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    resource = {key: value for key, value in doc.items() if not key.startswith("outbox")}
    resource["order_id"] = doc["_id"]
    resource.update(extra)
    return _ORDER_OUT.dump(resource)
