"""Field types shared by every contract."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, validate

DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

PHONE = validate.Regexp(r"^(\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$",
                        error="Not a valid mainland phone number.")
REGION_CODE = validate.Regexp(r"^\d{6}$", error="Region codes are 6 digits.")
SAFE_ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                          error="Use 1-64 letters, digits, '_', '.', ':' or '-'.")
ORDER_ID = validate.Regexp(r"^[A-Z]{2,8}-\d{8}-\d{6}$", error="Not a valid order number.")


class LocalDateTime(fields.AwareDateTime):
    """Aware datetimes in; out as ISO 8601 with the branch's offset (+08:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(DISPLAY_TZ).isoformat()


class Text(fields.String):
    """A string that refuses control characters and is trimmed."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
            raise ValidationError("Control characters are not allowed.")
        return text
