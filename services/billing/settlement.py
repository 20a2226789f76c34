"""Service-centre settlement: a statement per centre and month of the earnings
released before the month ends, made once however many runs race; paid once. An earning
held after a callback that did not verify the job waits for a reviewer's decision."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.billing.base import BillerBase, actor_label
from services.billing.domain.earnings import ReviewRefused, decide, same_decision
from services.billing.domain.schedule import LOCAL_TZ
from services.common.errors import Conflict, InvalidInput, NotFound


class Settlement(BillerBase):
    """The biller's monthly settlement with the service centres."""

    # -- service-centre settlement ---------------------------------------------------
    def run_settlement(self, branch: str, month: str, lease: timedelta) -> list[str]:
        """The month's statement per service centre: every earning released before the
        month ends and not yet in a statement. A second run, or one racing this, makes no
        second statement and moves no earning twice."""
        end = month_end(month)
        centres = self.store.centres_with_released(branch, end)
        centres |= self.store.drafting_centres(branch, month)
        for centre in sorted(centres):
            statement_id = f"ST-{branch}-{centre}-{month}"
            lease_until = _millis(self.now + lease)
            doc = {"_id": statement_id, "branch": branch, "service_centre_id": centre,
                   "month": month, "total_fen": 0, "orders": 0, "created_at": self.now}
            if not self.store.open_statement(doc, self.now, lease_until):
                continue  # another run holds it, or it is issued already
            self.store.claim_earnings(branch, centre, end, statement_id)
            total, count = self.store.statement_sum(statement_id)
            self.store.issue_statement(statement_id, lease_until, total, count, self.now)
        return self.store.statement_ids(branch, month)

    def pay_statement(self, statement_id: str, branch: str) -> dict:
        if self.store.pay_statement(statement_id, branch, self.now):
            statement = self.store.statement(statement_id, branch)
            self.uow.count("settlement", branch, "paid", amount=statement["total_fen"])
            return statement
        statement = self.store.statement(statement_id, branch)
        if statement is None:
            raise NotFound(f"statement {statement_id} not found")
        if statement["status"] == "paid":
            self.store.mark_earnings_paid(statement_id)  # finishes an interrupted payment
        raise Conflict(f"statement {statement_id} is {statement['status']}; only an issued "
                       "statement can be paid")


    # -- held earnings ---------------------------------------------------------------
    def review_earning(self, order_id: str, branch: str, review: dict, actor: dict) -> dict:
        """Release, reduce or withhold a held earning, with the reviewer's reason, who
        and when. The same decision asked again answers as the first did; another one
        is a conflict; a refused one changes nothing."""
        earning = self.store.earning(order_id, branch)
        if earning is None:
            raise NotFound(f"no earning for order {order_id}")
        action, amount = review["action"], review.get("amount_fen")
        if same_decision(earning, action, amount):
            return earning
        try:
            decision = decide(earning, action, review["reason"], amount)
        except ReviewRefused as exc:
            if exc.field:
                raise InvalidInput(str(exc), {exc.field: [str(exc)]}) from None
            raise Conflict(str(exc)) from None
        record = {"action": action, "reason": decision.reason, "held_fen": decision.held_fen,
                  "amount_fen": decision.amount_fen, "withheld_fen": decision.withheld_fen,
                  "by": actor_label(actor), "role": actor.get("role"), "at": self.now}
        if not self.store.decide_earning(order_id, branch, decision.state,
                                         decision.amount_fen, record, self.now):
            earning = self.store.earning(order_id, branch) or earning
            if same_decision(earning, action, amount):
                return earning      # a concurrent copy of this request got there first
            raise Conflict(f"earning {order_id} was decided meanwhile: "
                           f"{(earning.get('decision') or {}).get('action')}")
        if decision.amount_fen:
            self.uow.count("settlement", branch, "released", amount=decision.amount_fen)
        if decision.withheld_fen:
            self.uow.count("settlement", branch, "withheld", amount=decision.withheld_fen)
        return self.store.earning(order_id, branch) or earning


def month_end(month: str) -> datetime:
    """The first instant after ``month`` (YYYY-MM) in the branch's time zone."""
    year, number = (int(part) for part in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=LOCAL_TZ)


def _millis(at: datetime) -> datetime:
    """Mongo keeps milliseconds: a lease compared for equality must be stored exactly."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
