"""Transactional outbox kept inside each aggregate document.

A state change and the events it causes are one single-document write: the events are
pushed onto the document's ``outbox`` array and ``outbox_due`` is set. The relay claims a
due document by moving ``outbox_due`` forward (a lease, so replicas never publish the same
entries at once), publishes each entry with publisher confirms, then pulls exactly the
entries it sent. A crash anywhere before the pull leaves the entries due again once the
lease expires, so they are re-sent; consumers drop the duplicate by event id.

The writer itself usually publishes at once: it writes the events already leased to
itself (``outbox_due`` = end of its lease), publishes the events it holds, and pulls them
(``relay_claimed``): one extra write instead of a claim, a read and a write.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]


def new_event(event_type: str, source: str, branch: str, data: dict[str, Any],
              now: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": event_type,
        "source": source,
        "branch": branch,
        "occurred_at": now.isoformat(),
        "data": data,
    }


def with_events(update: dict[str, Any], events: Iterable[dict[str, Any]],
                due: datetime) -> dict[str, Any]:
    """Extend a Mongo update document so it also queues ``events`` in the outbox, due at
    ``due`` (now, or the end of the writer's own lease when it relays them itself)."""
    events = list(events)
    if not events:
        return update
    merged = {key: dict(value) for key, value in update.items()}
    merged.setdefault("$push", {})["outbox"] = {"$each": events}
    merged.setdefault("$set", {})["outbox_due"] = due
    return merged


def new_document_outbox(events: list[dict[str, Any]], due: datetime) -> dict[str, Any]:
    """Outbox fields for a document inserted together with its first events."""
    return {"outbox": events, "outbox_due": due} if events else {"outbox": []}


def ensure_outbox_index(collection: Collection) -> None:
    collection.create_index("outbox_due", sparse=True)


class OutboxRelay:
    def __init__(self, collections: list[Collection], publish: Publish,
                 lease: timedelta) -> None:
        self.collections = collections
        self.publish = publish
        self.lease = lease

    def relay_due(self, now: datetime, limit: int = 200) -> int:
        """Publish every due entry of every collection; returns how many were sent."""
        sent = 0
        for collection in self.collections:
            due = collection.find({"outbox_due": {"$lte": now}}, {"_id": 1, "outbox_due": 1},
                                  limit=limit)
            for doc in list(due):
                sent += self.relay_document(collection, doc["_id"], doc["outbox_due"], now)
        return sent

    def relay_document(self, collection: Collection, doc_id: Any, due: datetime,
                       now: datetime) -> int:
        lease_until = now + self.lease
        claimed = collection.update_one({"_id": doc_id, "outbox_due": due},
                                        {"$set": {"outbox_due": lease_until}})
        if claimed.modified_count != 1:
            return 0  # another replica holds it, or it was already sent
        doc = collection.find_one({"_id": doc_id}, {"outbox": 1})
        return self.relay_claimed(collection, doc_id, (doc or {}).get("outbox") or [],
                                  lease_until)

    def relay_claimed(self, collection: Collection, doc_id: Any, entries: list[dict],
                      lease_until: datetime) -> int:
        """Publish entries whose document this caller holds the lease of, then pull them."""
        sent_ids = []
        try:
            for entry in entries:
                self.publish(entry["type"], entry)
                sent_ids.append(entry["event_id"])
        finally:
            self._mark_sent(collection, doc_id, sent_ids, lease_until)
        return len(sent_ids)

    @staticmethod
    def _mark_sent(collection: Collection, doc_id: Any, sent_ids: list[str],
                   lease_until: datetime) -> None:
        pull = {"$pull": {"outbox": {"event_id": {"$in": sent_ids}}}}
        # Clear the due mark only if nothing new was queued since the claim.
        done = collection.update_one(
            {"_id": doc_id, "outbox_due": lease_until, "outbox": {"$size": len(sent_ids)}},
            {**pull, "$unset": {"outbox_due": ""}},
        )
        if done.modified_count == 0 and sent_ids:
            collection.update_one({"_id": doc_id}, pull)
