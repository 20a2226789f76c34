"""The second line of branch isolation on RPC: ids of another branch in any argument are
refused with a 404 before the method runs; the method's own signature still rules."""

import inspect

import pytest

from services.common.branch_guard import branch_guarded
from services.common.errors import NotFound

CALLS: list[tuple] = []


class Desk:
    @branch_guarded
    def step(self, order_id: str, action: str, payload: dict, actor: dict) -> str:
        CALLS.append((order_id, action))
        return "done"

    @branch_guarded
    def open(self, payload: dict, branch: str) -> str:
        CALLS.append(("open", payload))
        return "opened"

    @branch_guarded
    def fee_schedule(self) -> str:
        return "schedule"


SH = {"role": "complaints", "branch": "SH"}


def test_own_branch_ids_pass():
    CALLS.clear()
    assert Desk().step("SH-20261202-000001", "accept", {}, SH) == "done"
    assert Desk().open({"order_ids": ["SH-20261202-000001"]}, branch="SH") == "opened"
    assert Desk().fee_schedule() == "schedule"
    assert len(CALLS) == 2


@pytest.mark.parametrize(("call", "named"), [
    (lambda d: d.step("SZ-20261202-000001", "accept", {}, SH), "order_id=SZ-20261202-000001"),
    (lambda d: d.step("SH-20261202-000001", "resolve", {"kind": "refund",
                      "order_id": "SZ-20261202-000002"}, SH), "order_id=SZ-20261202-000002"),
    (lambda d: d.open({"order_ids": ["SH-20261202-000001", "SZ-20261202-000003"]}, "SH"),
     "order_ids=SZ-20261202-000003"),
    (lambda d: d.open({"details": {"task_id": "CB-SZ-20261202-000004"}}, branch="SH"),
     "task_id=CB-SZ-20261202-000004"),
])
def test_another_branchs_ids_are_refused_before_the_method_runs(call, named):
    CALLS.clear()
    with pytest.raises(NotFound) as refused:
        call(Desk())
    assert named in refused.value.message
    assert CALLS == []


def test_nameko_still_checks_the_methods_own_signature():
    with pytest.raises(TypeError, match="actor"):
        inspect.getcallargs(Desk.step, None, "SH-20261202-000001", "accept", {})
