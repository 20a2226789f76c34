"""Read-only figures from dispatch's orders for the wallboard and the operator report:
counts by status through the (branch, status) index, and compliance from the milestones
of orders received in a bounded, indexed range."""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.database import Database

from schemas.fields import DISPLAY_TZ
from services.dispatch.domain import figures
from services.dispatch.domain.lifecycle import OPEN_STATES
from services.dispatch.store import ORDERS

_PROJECTION = {"branch": 1, "zone": 1, "milestones": 1, "deadlines": 1}
# The board polls every few seconds: it reads a week of orders (an outcome counted today
# belongs, but for long approved delays, to an order received within the last days); the
# report, run now and then, reads figures.LOOKBACK before its period.
BOARD_LOOKBACK = timedelta(days=7)


def open_by_status(db: Database, branch: str) -> dict[str, int]:
    """One indexed count per open state (no scan of closed history)."""
    return {state: db[ORDERS].count_documents({"branch": branch, "status": state})
            for state in OPEN_STATES}


def _orders_for_period(db: Database, branches: list[str], since: datetime, until: datetime,
                       lookback: timedelta = figures.LOOKBACK):
    return db[ORDERS].find({"branch": {"$in": branches},
                            "received_at": {"$gte": since - lookback, "$lt": until}},
                           _PROJECTION)


def compliance(db: Database, branches: list[str], since: datetime, until: datetime) -> dict:
    orders = list(_orders_for_period(db, branches, since, until))
    rows = figures.compliance(orders, since, until)
    return {"since": since.isoformat(), "until": until.isoformat(), "rows": rows,
            "total": figures.totals(rows), "delays": figures.delays(orders, since, until)}


def local_day_start(now: datetime) -> datetime:
    local = now.astimezone(DISPLAY_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def board(db: Database, branch: str, now: datetime,
          status: dict[tuple[str, ...], tuple[int, int]]) -> dict:
    """The wallboard's dispatch figures for one branch."""
    by_status = open_by_status(db, branch)
    today, until = local_day_start(now), now + timedelta(seconds=1)
    rows = figures.compliance(_orders_for_period(db, [branch], today, until, BOARD_LOOKBACK),
                              today, until)
    return {"branch": branch, "as_of": now.isoformat(), "open_by_status": by_status,
            "open_total": sum(by_status.values()),
            "overdue_by_milestone": figures.overdue_by_milestone(status, branch),
            "today": figures.totals(rows)}
