"""Structured JSON logs with personal data masked before anything is written."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from services.common.privacy import mask_personal, mask_text
from services.common.request_id import current as current_request_id

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        request_id = current_request_id()
        if request_id is not None:  # a line written while serving a request
            entry["request_id"] = request_id
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extra:
            # Text first, then mask: an object's str() may carry a phone number too.
            entry["ctx"] = mask_personal(json.loads(json.dumps(extra, default=str)))
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # werkzeug's access log prints raw query strings; keep it but at warning level.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
