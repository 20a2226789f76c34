"""A technician's slots: which orders count against their cap, and when a slot the orders
disagree with may be corrected.

Each slot names its order: taking one adds the order to the technician's ``holding`` (and
moves the counters in the same write), giving it back removes that order, so a step
retried, or a slot given back twice, moves nothing twice. Taking a slot and writing the
order are still two writes, so a process that dies between them (or between an order's
release and its slot's) leaves one slot wrong for good. The orders a technician holds are
the truth; but a slot looks wrong for a moment while a worker is between its two writes.
So a slot is corrected only when that same slot was seen wrong on two passes a whole
interval apart: a worker still between its writes after an interval is a worker that
died. The other slots may move all the while: a busy technician's slots converge too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.common.clock import as_utc


@dataclass(frozen=True)
class SlotCheck:
    """What a reconciliation pass saw of one technician."""

    holding: frozenset[str]  # the orders their slots name
    held: frozenset[str]  # the orders that hold them (offered to, or taken by, them)

    @property
    def stale(self) -> frozenset[str]:
        """Slots of orders that no longer hold the technician."""
        return self.holding - self.held

    @property
    def missing(self) -> frozenset[str]:
        """Orders holding the technician without a slot of theirs."""
        return self.held - self.holding


@dataclass(frozen=True)
class Verdict:
    give_back: frozenset[str] = frozenset()  # stale on the previous pass too: freed now
    add: frozenset[str] = frozenset()  # missing on the previous pass too: taken now
    note: dict | None = None  # what to look at again on the next pass

    @property
    def corrects(self) -> bool:
        return bool(self.give_back or self.add)


def judge(seen: SlotCheck, noted: dict | None, now: datetime,
          interval: timedelta) -> Verdict:
    """``noted`` is an earlier pass's note on the technician ({"at", "stale",
    "missing"}), if any; a slot is corrected when this pass and that one, at least an
    interval earlier, both found it wrong. A younger note (a pass that overran its
    interval, overlapping the next) is kept as it is, to be compared with later."""
    noted = noted or {}
    at = noted.get("at")
    if at is not None and now - as_utc(at) < interval:
        return Verdict(note=noted)
    give_back = seen.stale & frozenset(noted.get("stale", ()))
    add = seen.missing & frozenset(noted.get("missing", ()))
    stale, missing = seen.stale - give_back, seen.missing - add
    if not (stale or missing):
        return Verdict(give_back, add)
    return Verdict(give_back, add, {"at": now, "stale": sorted(stale),
                                    "missing": sorted(missing)})


def still_wrong(verdict: Verdict, held: frozenset[str]) -> Verdict:
    """The corrections that the orders, read again just before writing, still call for."""
    return replace(verdict, give_back=verdict.give_back - held, add=verdict.add & held)
