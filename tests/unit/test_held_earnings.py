"""A held earning and the reviewer's decision (pure rules and the request's contract)."""

import pytest
from marshmallow import ValidationError

from schemas.billing import EarningReviewIn
from services.billing.domain.earnings import (
    ReviewRefused,
    decide,
    is_held,
    same_decision,
)

HELD = {"_id": "SH-20261202-000001", "state": "pending", "amount_fen": 7000,
        "review": "customer unreachable: for review"}


def test_only_an_earning_held_after_its_callback_is_reviewed():
    assert is_held(HELD)
    for earning in ({**HELD, "review": None}, {**HELD, "state": "released"},
                    {**HELD, "state": "withheld"}, {**HELD, "state": "paid"}):
        assert not is_held(earning)
        with pytest.raises(ReviewRefused) as refused:
            decide(earning, "release", "客户确认已修好")
        assert refused.value.field is None          # the state is the reason: a conflict
    with pytest.raises(ReviewRefused, match="awaiting its callback"):
        decide({**HELD, "review": None}, "withhold", "未核实")


def test_release_pays_all_withhold_nothing_reduce_the_amount_given():
    released = decide(HELD, "release", "稽查电话确认已修好")
    assert (released.state, released.amount_fen, released.withheld_fen) == ("released",
                                                                            7000, 0)
    withheld = decide(HELD, "withhold", "重复上门，未修好")
    assert (withheld.state, withheld.amount_fen, withheld.withheld_fen) == ("withheld",
                                                                           0, 7000)
    reduced = decide(HELD, "reduce", "只完成清洁", 3500)
    assert (reduced.state, reduced.amount_fen, reduced.withheld_fen) == ("released",
                                                                        3500, 3500)
    assert decide(HELD, "reduce", "全额", 7000).amount_fen == 7000


@pytest.mark.parametrize(("action", "reason", "amount", "field"), [
    ("reduce", "超出", 7001, "amount_fen"),        # more than is held
    ("reduce", "为零", 0, "amount_fen"),
    ("reduce", "没有金额", None, "amount_fen"),
    ("release", "多给金额", 100, "amount_fen"),
    ("release", "  ", None, "reason"),
    ("cancel", "不是动作", None, "action"),
])
def test_a_refused_decision_names_the_input_at_fault(action, reason, amount, field):
    with pytest.raises(ReviewRefused) as refused:
        decide(HELD, action, reason, amount)
    assert refused.value.field == field


def test_the_same_decision_again_is_recognised_and_another_is_not():
    decided = {**HELD, "state": "released", "decision": {"action": "reduce",
                                                          "amount_fen": 3500}}
    assert same_decision(decided, "reduce", 3500)
    assert not same_decision(decided, "reduce", 3000)
    assert not same_decision(decided, "release", None)
    assert not same_decision(HELD, "release", None)
    assert same_decision({**HELD, "state": "withheld", "decision": {"action": "withhold"}},
                         "withhold", None)


def test_the_request_needs_a_reason_and_an_amount_only_to_reduce():
    schema = EarningReviewIn()
    assert schema.load({"action": "reduce", "amount_fen": 3500, "reason": "只完成清洁"}) == {
        "action": "reduce", "amount_fen": 3500, "reason": "只完成清洁"}
    for body, field in (({"action": "release"}, "reason"),
                        ({"action": "reduce", "reason": "部分"}, "amount_fen"),
                        ({"action": "withhold", "reason": "未修好", "amount_fen": 1},
                         "amount_fen"),
                        ({"action": "reduce", "reason": "部分", "amount_fen": "35.00"},
                         "amount_fen"),
                        ({"action": "pay", "reason": "x1"}, "action"),
                        ({"action": "release", "reason": "ok", "by": "me"}, "by")):
        with pytest.raises(ValidationError) as refused:
            schema.load(body)
        assert field in refused.value.messages, body
