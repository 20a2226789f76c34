"""Callback rules (回访): outcomes, the attempt schedule, money, HQ audit sampling and
comparison, the month's rates. Pure functions: no nameko, pymongo or marshmallow."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

OUTCOMES = ("satisfied", "neutral", "dissatisfied", "not_fixed", "unreachable")
SATISFIED_FROM = 4  # satisfaction 4-5 of 5
DISSATISFIED_UP_TO = 2  # satisfaction 1-2 of 5
AUDIT_BLOCK = 100  # sampling is exact within each block of this many callbacks
SCORE_GAP = 2  # HQ and branch scores this far apart contradict each other


@dataclass(frozen=True)
class Answers:
    """What the customer said when reached."""

    fixed: bool
    on_time: bool
    attitude: int
    satisfaction: int
    paid_fen: int
    comment: str | None = None


def classify(answers: Answers | None) -> str:
    """One outcome per callback; not fixed outranks the score (the fault comes first)."""
    if answers is None:
        return "unreachable"
    if not answers.fixed:
        return "not_fixed"
    if answers.satisfaction >= SATISFIED_FROM:
        return "satisfied"
    if answers.satisfaction <= DISSATISFIED_UP_TO:
        return "dissatisfied"
    return "neutral"


def paid_differs(paid_fen: int, billed_fen: int | None) -> bool:
    """The customer paid other than the bill. Without a settled bill nothing is judged."""
    return billed_fen is not None and paid_fen != billed_fen


# -- the attempt schedule ------------------------------------------------------------
def first_due(completed_at: datetime, offsets: tuple[timedelta, ...],
              preferred_at: datetime | None) -> datetime:
    """The first call: the customer's preferred time if given, else the first offset after
    completion."""
    return preferred_at if preferred_at is not None else completed_at + offsets[0]


def next_attempt_due(first: datetime, offsets: tuple[timedelta, ...], attempts_made: int,
                     now: datetime) -> datetime | None:
    """When to call again after ``attempts_made`` unanswered calls; None when every
    attempt is used (the callback is then unreachable). The offsets are spaced from the
    first planned call (demo: +4 h after completion, next day, the day after)."""
    if attempts_made >= len(offsets):
        return None
    planned = first + (offsets[attempts_made] - offsets[0])
    return max(planned, now)


# -- HQ audit (总公司稽查) -------------------------------------------------------------
def audit_sampled(branch: str, seq: int, share: float, salt: str = "") -> bool:
    """Whether a branch's ``seq``-th completed callback goes to HQ for a re-call.

    Within every block of ``AUDIT_BLOCK`` callbacks exactly round(share × block) positions
    are drawn, from a generator seeded by branch and block: the rate holds exactly per
    block, every replica agrees, and staff cannot tell which calls will be checked."""
    if share <= 0:
        return False
    block, position = divmod(seq, AUDIT_BLOCK)
    picks = round(share * AUDIT_BLOCK)
    seed = hashlib.sha256(f"{salt}|{branch}|{block}".encode()).hexdigest()
    return position in random.Random(seed).sample(range(AUDIT_BLOCK), picks)


def discrepancies(branch_answers: dict, hq_answers: dict) -> list[str]:
    """The questions on which HQ's re-call contradicts the branch's record."""
    found = []
    if branch_answers.get("reached") != hq_answers.get("reached"):
        return ["reached"]  # the branch recorded a call the customer denies, or the reverse
    if not hq_answers.get("reached"):
        return found
    for flag in ("fixed", "on_time"):
        if branch_answers.get(flag) != hq_answers.get(flag):
            found.append(flag)
    for score in ("attitude", "satisfaction"):
        if abs(branch_answers.get(score, 0) - hq_answers.get(score, 0)) >= SCORE_GAP:
            found.append(score)
    if branch_answers.get("paid_fen") != hq_answers.get("paid_fen"):
        found.append("paid_fen")
    return found


# -- the month's rates -----------------------------------------------------------------
def month_of(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


@dataclass(frozen=True)
class MonthRates:
    done: int
    reached: int
    satisfaction: float | None  # satisfied ÷ reached (target ≥ 85 %)
    first_time_fix: float | None  # fixed ÷ reached, first visits only
    repeat_repair: float | None  # not fixed ÷ reached
    unreachable: float | None  # unreachable ÷ done
    audited: int
    audit_discrepancy: float | None  # discrepancies ÷ audited


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def month_rates(done: Iterable[dict], audited: Iterable[dict]) -> MonthRates:
    """``done``: finished order callbacks ({outcome, first_visit}); ``audited``: HQ
    re-calls ({discrepancies})."""
    rows = list(done)
    reached = [r for r in rows if r["outcome"] != "unreachable"]
    first = [r for r in reached if r.get("first_visit")]
    audits = list(audited)
    return MonthRates(
        done=len(rows), reached=len(reached),
        satisfaction=_ratio(sum(r["outcome"] == "satisfied" for r in reached), len(reached)),
        first_time_fix=_ratio(sum(r["outcome"] != "not_fixed" for r in first), len(first)),
        repeat_repair=_ratio(sum(r["outcome"] == "not_fixed" for r in reached), len(reached)),
        unreachable=_ratio(len(rows) - len(reached), len(rows)),
        audited=len(audits),
        audit_discrepancy=_ratio(sum(bool(a.get("discrepancies")) for a in audits),
                                 len(audits)))
