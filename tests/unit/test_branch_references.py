"""Which branch an id names, and why an event is refused: the first check wherever an id
enters a service."""

from datetime import UTC, datetime

import pytest

from services.callbacks.domain.schedules import task_id
from services.common.domain.branches import belongs_to, branch_of, foreign_references, refusal
from services.dispatch.domain.staff import centre_is_branchs


@pytest.mark.parametrize(("object_id", "branch"), [
    ("SH-20261202-000001", "SH"),             # an order number
    ("SZ-20261202-123456", "SZ"),
    ("CP-SZ-20261202-0007", "SZ"),            # a complaint number
    ("CB-SZ-20261202-000001", "SZ"),          # a callback task, named by its order
    ("CB2-SH-20261202-000001", "SH"),
    ("B-SZ-20261202-000001", "SZ"),           # a bill
    ("SZ-20261202-000001:parts_billed_not_consumed", "SZ"),  # an anomaly
    ("HQ-20261202-000001", "HQ"),
    ("Q-0123456789ab", None),                 # quotes and technicians carry no branch
    ("SH-T01", None),
    ("SV-HVAC-20261202-123456", None),        # a scheduled visit: schedule, date, unit
    ("SH-2026120-000001", None),              # not a date: no branch read into it
    ("xSH-20261202-000001", None),            # lower case before: not a number's start
    (None, None),
    (12, None),
])
def test_branch_of_reads_the_number_inside_an_id(object_id, branch):
    assert branch_of(object_id) == branch


def test_an_id_without_a_branch_is_left_to_the_owning_store():
    assert belongs_to("Q-0123456789ab", "SH")
    assert belongs_to("SH-20261202-000001", "SH")
    assert not belongs_to("SZ-20261202-000001", "SH")


def test_foreign_references_are_found_nested_and_in_lists():
    data = {"complaint_id": "CP-SH-20261202-0001",
            "order_ids": ["SH-20261202-000001", "SZ-20261202-000002"],
            "details": {"intake_order_id": "SZ-20261202-000003"},
            "lines": [{"order_id": "SZ-20261202-000004"}],
            "call_id": "ZZ-20261202-000005"}  # from outside: not one of our references
    assert foreign_references(data, "SH") == [
        "order_ids=SZ-20261202-000002", "intake_order_id=SZ-20261202-000003",
        "order_id=SZ-20261202-000004"]


def test_an_order_created_for_another_branch_is_foreign():
    assert foreign_references({"order_id": "SH-20261202-000001", "branch": "SZ"}, "SH") == [
        "branch=SZ"]


def test_refusal_names_the_reason_and_lets_own_events_through():
    own = {"order_id": "SH-20261202-000001", "complaint_id": "CP-SH-20261202-0001"}
    assert refusal("SH", ["SH", "SZ"], own) is None
    assert refusal("SH", None, own) is None
    foreign = refusal("SH", ["SH", "SZ"], {"order_id": "SZ-20261202-000001"})
    assert foreign is not None and "order_id=SZ-20261202-000001" in foreign
    assert "跨分支" in foreign
    unserved = refusal("GZ", ["SH", "SZ"], {})
    assert unserved is not None and "GZ" in unserved
    assert refusal(None, ["SH"], {}) is not None


def test_a_scheduled_visit_is_never_read_as_an_order_number():
    visit = task_id("HVAC", datetime(2026, 12, 2, tzinfo=UTC), "123456")
    assert visit == "SV-HVAC-20261202-123456"
    assert foreign_references({"task_id": visit}, "SH") == []


@pytest.mark.parametrize(("staffed_by", "branch", "may_name"), [
    (set(), "SH", True),               # nobody staffs it yet: nobody's
    ({"SH"}, "SH", True),
    ({"SZ"}, "SH", False),             # another branch's technicians only
    ({"SH", "SZ"}, "SH", True),
])
def test_a_centre_is_the_branchs_unless_only_others_staff_it(staffed_by, branch, may_name):
    assert centre_is_branchs(staffed_by, branch) is may_name
