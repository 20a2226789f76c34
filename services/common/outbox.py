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
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from services.common import faults

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_event(event_type: str, source: str, branch: str, data: dict[str, Any],
              now: datetime, request_id: str | None = None) -> dict[str, Any]:
    """An event envelope; ``request_id`` names the request that caused it, if any."""
    event = {
        "event_id": uuid.uuid4().hex,
        "type": event_type,
        "source": source,
        "branch": branch,
        "occurred_at": now.isoformat(),
        "data": data,
    }
    if request_id:
        event["request_id"] = request_id
    return event


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


def oldest_unsent_age(collections: Iterable[Collection], now: datetime,
                      limit: int = 1000) -> float:
    """Seconds since the oldest outbox entry not yet sent occurred (0 when none waits).

    Only documents with a due mark hold unsent entries, and the ``outbox_due`` index finds
    just those; ``limit`` bounds the read when a broken broker lets a backlog grow
    (the age is then of the oldest among those read, still far past any alert threshold).
    """
    oldest: datetime | None = None
    for collection in collections:
        # a range, like the relay's own query, so the store walks the index, not the
        # collection
        pending = collection.find({"outbox_due": {"$gte": _EPOCH}},
                                  {"outbox.occurred_at": 1}, limit=limit)
        for doc in pending:
            for entry in doc.get("outbox") or []:
                at = datetime.fromisoformat(entry["occurred_at"])
                at = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
                oldest = at if oldest is None or at < oldest else oldest
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def sent_mark(doc_id: Any, sent_ids: list[str], lease_until: datetime) -> UpdateOne:
    """Pull the sent entries and clear the due mark, but only if the outbox holds exactly
    them under this lease. If anything else was queued meanwhile the write does nothing:
    the entries stay due and are re-sent when the lease ends (consumers drop the
    duplicate), so nothing is ever stranded without a due mark."""
    return UpdateOne(
        {"_id": doc_id, "outbox_due": lease_until, "outbox": {"$size": len(sent_ids)}},
        {"$pull": {"outbox": {"event_id": {"$in": sent_ids}}}, "$unset": {"outbox_due": ""}})


class SentMarks:
    """Sent marks gathered and written in one bulk command per collection: on a busy
    service this halves the writes the outbox costs. Marks lost in a crash only mean
    the events are re-sent after their lease."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[Collection, list[UpdateOne]]] = {}

    def add(self, collection: Collection, mark: UpdateOne) -> None:
        self._pending.setdefault(collection.full_name, (collection, []))[1].append(mark)

    def flush(self) -> int:
        pending, self._pending = self._pending, {}
        written = 0
        for collection, marks in pending.values():
            try:
                collection.bulk_write(marks, ordered=False)
                written += len(marks)
            except PyMongoError:
                log.warning("sent marks not written; the events will be re-sent",
                            exc_info=True)
        return written


class OutboxRelay:
    def __init__(self, collections: list[Collection], publish: Publish,
                 lease: timedelta, marks: SentMarks | None = None) -> None:
        self.collections = collections
        self.publish = publish
        self.lease = lease
        self.marks = marks

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
            if len(sent_ids) == len(entries):  # a partial send stays due as a whole
                faults.crash_after_publish()
                self._mark_sent(collection, doc_id, sent_ids, lease_until)
        return len(sent_ids)

    def _mark_sent(self, collection: Collection, doc_id: Any, sent_ids: list[str],
                   lease_until: datetime) -> None:
        mark = sent_mark(doc_id, sent_ids, lease_until)
        if self.marks is not None:
            self.marks.add(collection, mark)
        else:
            collection.bulk_write([mark])
