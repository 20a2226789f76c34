"""Complaints service. For now it records the complaints intake hands over, once each, so
none is lost before the investigation workflow exists."""

from __future__ import annotations

from contextlib import suppress

from nameko.rpc import rpc
from pymongo.errors import DuplicateKeyError

from schemas.events import EventEnvelope
from services.common.base import ServiceBase
from services.common.errors import AppError, NotFound
from services.common.messaging import reliable_handler

_ENVELOPE = EventEnvelope()
RECEIVED = "received"


class ComplaintsService(ServiceBase):
    name = "complaints"

    @reliable_handler("intake", "complaint_received")
    def on_complaint_received(self, envelope: dict) -> None:
        event = _ENVELOPE.load(envelope)
        data = event["data"]
        with suppress(DuplicateKeyError):  # keyed by the order number: redelivery is a no-op
            self.db[RECEIVED].insert_one({
                "_id": data["order_id"], "branch": event["branch"], "event_id":
                event["event_id"], "received_at": event["occurred_at"], "request": data,
                "status": "received"})

    @rpc(expected_exceptions=AppError)
    def get_received(self, order_id: str, branch: str) -> dict:
        doc = self.db[RECEIVED].find_one({"_id": order_id, "branch": branch},
                                         {"request": 0})
        if doc is None:
            raise NotFound(f"complaint {order_id} not found")
        return {"order_id": doc["_id"], "branch": doc["branch"], "status": doc["status"],
                "received_at": doc["received_at"].isoformat()}
