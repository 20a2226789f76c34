"""What every part of the callback desk shares: the settings (``Policy``), the store, the
reference data and the call's unit of work; the task's contact and counting labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.callbacks.store import CallbackStore
from services.common.domain.commitments import parse_duration
from services.common.reference import Reference
from services.common.unit_of_work import UnitOfWork

MILESTONE = "callback"
ORDER_KINDS = ("first", "second")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RACE_RETRIES = 5
CONTEXT = ("branch", "order_id", "customer", "product", "technician_id", "zone",
           "request_type", "priority", "completed_at")


@dataclass(frozen=True)
class Policy:
    """The callbacks block of the settings."""

    offsets: tuple[timedelta, ...]  # planned calls after completion (demo 4 h, 1 d, 2 d)
    claim: timedelta  # how long a staff claim holds a task
    audit_share: float  # share of completed callbacks HQ re-calls
    second_after: timedelta  # second follow-up after the first callback
    audit_salt: str = ""

    @classmethod
    def from_settings(cls, settings: dict, calendar) -> Policy:
        spec = settings.get("callbacks") or {}
        offsets = tuple(parse_duration(text.strip(), calendar) for text in
                        str(spec.get("attempt_offsets", "4h,1d,2d")).split(","))
        share = float(spec.get("audit_share", 0.1))
        if not 0 <= share <= 1 or not offsets:
            raise ValueError("callbacks: audit_share is a share (0-1); give attempt_offsets")
        return cls(offsets, timedelta(minutes=float(spec.get("claim_minutes", 30))), share,
                   timedelta(days=float(spec.get("second_follow_up_days", 7))),
                   str(spec.get("audit_salt", "")))


class DeskBase:
    def __init__(self, store: CallbackStore, reference: Reference, policy: Policy,
                 uow: UnitOfWork) -> None:
        self.store = store
        self.reference = reference
        self.policy = policy
        self.uow = uow
        self.now = uow.now


def contact(customer: dict) -> dict:
    return {key: customer.get(key) for key in ("name", "phone", "address", "region_code")}


def milestone_labels(task: dict) -> tuple[str, str, str, str, str]:
    return (task["branch"], task["zone"], MILESTONE, task["request_type"], task["priority"])
