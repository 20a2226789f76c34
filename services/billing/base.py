"""What every part of the biller shares: the store, the fee schedule and the call's unit
of work."""

from __future__ import annotations

from services.billing.domain.schedule import FeeSchedule
from services.billing.store import BillingStore
from services.common.unit_of_work import UnitOfWork


class NotYetBilled(Exception):
    """An event about an order whose bill is not made yet: retried (events from different
    services may arrive in any order)."""


class BillerBase:
    def __init__(self, store: BillingStore, schedule: FeeSchedule, uow: UnitOfWork) -> None:
        self.store = store
        self.schedule = schedule
        self.uow = uow
        self.now = uow.now


def actor_label(actor: dict) -> str:
    return actor.get("technician_id") or f"{actor.get('role')}@{actor.get('branch', '')}"
