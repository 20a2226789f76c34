"""The chaos checker fed made-up histories: each bad one must fail it, and the matching
good one must pass."""

from chaos.checks import (
    Reading,
    acknowledged_problems,
    dispatch_problems,
    in_flight,
    intake_duplicates,
    may_go_uncounted,
    outcome_problems,
    settled,
    slot_problems,
    window_problems,
)
from chaos.lifecycle import Journey
from chaos.load import Attempt, Ledger, Try
from chaos.windows import PROCESS, STORE, FaultLog, Window

A, B = "http://a/metrics", "http://b/metrics"


def readings(*counts: dict[str, float], pids: dict[str, int] | None = None) -> list[dict]:
    """Counter readings in time order; every replica keeps its process unless ``pids``
    (per reading index, then per url) says otherwise."""
    return [{url: Reading(count, (pids or {}).get(f"{index}{url}", 1))
             for url, count in reading.items()} for index, reading in enumerate(counts)]


# -- milestone counts -------------------------------------------------------------------
def test_outcomes_counted_exactly_once_pass():
    assert outcome_problems(readings({A: 10, B: 4}, {A: 16, B: 7}), reached=9) == []


def test_an_outcome_counted_twice_is_a_problem():
    problems = outcome_problems(readings({A: 10, B: 4}, {A: 17, B: 7}), reached=9)
    assert problems == ["commitment outcomes counted 10 times for 9 milestones reached "
                        "(expected 9)"]


def test_an_outcome_never_counted_is_a_problem_when_no_fault_may_lose_one():
    assert outcome_problems(readings({A: 0}, {A: 8}), reached=9)


def test_what_a_killed_replica_counted_before_its_kill_still_counts():
    # B counted 3 (4 -> 7) before it was killed, then 2 from zero in its new process.
    history = readings({A: 10, B: 4}, {A: 12, B: 7}, {A: 14, B: 2}, pids={"2" + B: 2})
    assert outcome_problems(history, reached=9) == []


def test_a_restart_that_counted_nothing_afterwards_is_a_problem():
    # Bad: 9 milestones reached, only 2 could have gone uncounted near the kill, but after
    # the restart B shows nothing and A never rose: any undercount used to pass.
    history = readings({A: 10, B: 4}, {A: 10, B: 4}, {A: 10, B: 0}, pids={"2" + B: 2})
    assert outcome_problems(history, reached=9, may_miss=2) == [
        "commitment outcomes counted 0 times for 9 milestones reached (expected 7 to 9); "
        f"restarted: {B}"]


def test_a_restart_undercount_within_what_the_fault_could_lose_passes():
    # B counted 3 before the kill (seen); one more in the instant before it died is gone.
    history = readings({A: 10, B: 4}, {A: 12, B: 7}, {A: 14, B: 1}, pids={"2" + B: 2})
    assert outcome_problems(history, reached=9, may_miss=2) == []
    # Never more than were reached, restart or not.
    assert outcome_problems(readings({A: 10, B: 4}, {A: 16, B: 9}, pids={"1" + B: 2}),
                            reached=9, may_miss=2)


def test_a_restarted_replica_that_counted_past_its_old_value_is_still_seen_as_restarted():
    # B's new process has already counted 5, more than the 4 its old one had: a rise
    # from 4 to 5 would hide 4 counts.
    assert outcome_problems(readings({A: 0, B: 4}, {A: 4, B: 5}, pids={"1" + B: 2}),
                            reached=9) == []


def test_a_replica_read_only_once_is_left_out():
    # B did not answer the first reading: its lifetime count is not a rise.
    assert outcome_problems(readings({A: 10}, {A: 16, B: 40}), reached=6) == []


def test_only_milestones_reached_near_a_window_that_may_lose_counts_may_go_uncounted():
    journeys = [Journey("SH-1", "satisfied", reached_at=[5.0, 20.0, 100.0]),
                Journey("SH-2", "satisfied", reached_at=[31.0])]
    windows = [Window("kill -9 dispatch#0", 18.0, 21.0, loses_counts=PROCESS),
               Window("kill -9 intake#0", 90.0, 110.0)]  # loses no count
    # 20.0 falls in the kill's window, 31.0 within its slack (15 s) after; 5.0 before it.
    assert may_go_uncounted(journeys, windows, dispatch_restarted=True, slack=15) == 2


def test_a_killed_replica_loses_no_count_after_its_kill_however_long_its_restart():
    journeys = [Journey("SH-1", "satisfied", reached_at=[19.0, 30.0, 40.0])]
    # Killed at 18.5; its replacement served at 60. Only 19.0 and 30.0 (within 15 s of
    # the kill) may have been counted by the dead process.
    kill = Window("kill -9 dispatch#0", 18.0, 60.0, loses_counts=PROCESS, lost_by=18.5)
    assert may_go_uncounted(journeys, [kill], dispatch_restarted=True, slack=15) == 2


def test_no_count_dies_with_a_process_when_no_dispatch_replica_restarted():
    # Bad: a broker outage that could have taken a dispatch replica with it, but none
    # restarted; an undercount then is a count lost for no reason, not an allowance.
    journeys = [Journey("SH-1", "satisfied", reached_at=[19.0, 30.0, 40.0])]
    outage = Window("broker restart", 18.0, 30.0, loses_counts=PROCESS)
    assert may_go_uncounted(journeys, [outage], dispatch_restarted=False) == 0
    assert outcome_problems(readings({A: 10}, {A: 12}), reached=3, may_miss=0)
    # A store fault loses counts without any restart.
    store = Window("store fails writes", 18.0, 22.0, loses_counts=STORE)
    assert may_go_uncounted(journeys, [store], dispatch_restarted=False, slack=15) == 2


# -- acknowledged requests --------------------------------------------------------------
def ledger_of(acked: int, failed: int) -> Ledger:
    return Ledger([Attempt(f"c-{i}", {}, acked=i < acked, first_ok=i < acked)
                   for i in range(acked + failed)])


def test_a_run_in_which_every_request_failed_fails():
    assert acknowledged_problems(ledger_of(0, 200)) == [
        "only 0 of 200 requests acknowledged (at least 100%)"]


def test_a_run_with_requests_never_acknowledged_fails_unless_tolerated():
    assert acknowledged_problems(ledger_of(190, 10))
    assert acknowledged_problems(ledger_of(190, 10), min_share=0.95) == []
    assert acknowledged_problems(ledger_of(180, 20), min_share=0.95)


def test_a_run_with_every_request_acknowledged_passes():
    assert acknowledged_problems(ledger_of(200, 0)) == []


def test_a_run_that_sent_nothing_fails():
    assert acknowledged_problems(Ledger()) == ["no request was sent"]


# -- duplicated orders ------------------------------------------------------------------
def order(order_id: str, serial: str, phone: str = "13900000001", **more) -> dict:
    return {"_id": order_id, "customer": {"phone": phone},
            "product": {"category": "gas_water_heater", "serial_number": serial},
            "request_type": "repair", "description": "不工作 not working", **more}


def test_a_second_order_for_one_request_without_a_call_id_is_caught():
    # Bad: the call's order, and a copy of it made without its call id.
    orders = [order("SH-1", "T-00001", call_ids=["T-call-00001"]),
              order("SH-2", "T-00001")]
    assert intake_duplicates(orders) == ["order SH-2 repeats order SH-1",
                                         "order SH-2 has no call id"]


def test_a_second_order_for_one_request_under_another_call_id_is_caught():
    # Bad: unique ids and unique call ids, yet one request (same phone, unit, wording).
    orders = [order("SH-1", "T-00001", phone="+86 139-0000-0001", call_ids=["a"]),
              order("SH-2", "T-00001", phone="13900000001", call_ids=["b"])]
    assert intake_duplicates(orders) == ["order SH-2 repeats order SH-1"]


def test_an_order_without_a_call_id_is_caught_even_alone():
    assert intake_duplicates([order("SH-1", "T-00001")]) == ["order SH-1 has no call id"]


def test_distinct_requests_and_a_follow_up_are_not_duplicates():
    orders = [order("SH-1", "T-00001", call_ids=["T-call-00001"]),
              order("SH-2", "T-00002", phone="13900000002", call_ids=["T-call-00002"]),
              order("SH-3", "T-00001", call_ids=["repeat_repair:CB-SH-1"],
                    description="返修: 不工作 not working", follow_up_of="SH-1",
                    follow_up_kind="repeat_repair")]
    assert intake_duplicates(orders) == []


def test_a_follow_up_made_twice_is_caught():
    follow_up = {"description": "返修: 不工作 not working", "follow_up_of": "SH-1",
                 "follow_up_kind": "repeat_repair"}
    orders = [order("SH-3", "T-00001", call_ids=["repeat_repair:CB-SH-1"], **follow_up),
              order("SH-4", "T-00001", call_ids=["repeat_repair:CB-SH-1x"], **follow_up)]
    assert intake_duplicates(orders) == ["order SH-4 repeats order SH-3"]


def test_dispatch_holding_an_order_intake_never_made_is_caught():
    # Bad: dispatch ids are unique, so "one order twice" shows as a copy under a new id.
    held = [order("SH-1", "T-00001"), order("SH-9", "T-00001")]
    assert dispatch_problems({"SH-1"}, held) == [
        "1 order(s) in dispatch that intake never made: SH-9"]


def test_dispatch_missing_an_order_is_caught_and_a_full_dispatch_passes():
    assert dispatch_problems({"SH-1", "SH-2"}, [order("SH-1", "T-00001")]) == [
        "1 order(s) never reached dispatch: SH-2"]
    assert dispatch_problems({"SH-1"}, [order("SH-1", "T-00001")]) == []


def test_an_order_intake_wrote_after_the_last_wait_is_no_stranger_but_is_not_waited_for():
    held = [order("SH-1", "T-00001"), order("SH-2", "T-00001")]
    assert dispatch_problems({"SH-1"}, held, made={"SH-1", "SH-2"}) == []
    assert dispatch_problems({"SH-1"}, held, made={"SH-1"}) == [
        "1 order(s) in dispatch that intake never made: SH-2"]


def test_a_technician_whose_slots_disagree_with_the_orders_they_hold_is_caught():
    good = {"_id": "T1", "cap": 3, "active_jobs": 2, "free_slots": 1, "holding": ["A", "B"]}
    assert slot_problems(good, {"A", "B"}) == []
    assert slot_problems(good, {"A", "B", "C"})[0] == "technician T1 counts 2 jobs but holds 3"
    swapped = slot_problems(good, {"A", "C"})  # right count, wrong order
    assert swapped == ["technician T1 has slots for ['A', 'B'] but holds ['A', 'C']"]
    assert slot_problems({**good, "free_slots": 2}, {"A", "B"}) == [
        "technician T1 free slots disagree with its jobs"]


def looks(*answers: list[str]):
    """A check that answers each look in turn, then the last answer for good."""
    queue = list(answers)
    return lambda: queue.pop(0) if len(queue) > 1 else queue[0]


def test_a_problem_seen_on_the_last_two_looks_is_reported():
    assert settled(looks(["drift"], ["drift"]), seconds=0, pause=0) == ["drift"]


def test_a_moments_disagreement_is_not_and_settling_ends_the_wait():
    assert settled(looks(["a"], ["b"]), seconds=0, pause=0) == []  # different each look
    assert settled(looks(["a"], []), seconds=60, pause=0) == []  # settled: no wait


# -- faults in flight -------------------------------------------------------------------
def burst(count: int, rate: float, latency: float = 0.2) -> list[Attempt]:
    """Requests sent at ``rate`` from t=0, each answered ``latency`` later."""
    return [Attempt(f"c-{i}", {}, acked=True, first_ok=True,
                    tries=[Try(i / rate, i / rate + latency, ok=True)]) for i in range(count)]


def test_in_flight_counts_tries_overlapping_the_window():
    attempts = burst(100, rate=10)  # sent 0.0 .. 9.9 s, answered 0.2 later
    assert in_flight(attempts, 2.0, 3.0) == 13  # sent 1.8 (answered 2.0) to 3.0
    assert in_flight(attempts, 11.0, 12.0) == 0


def test_a_fault_after_the_load_had_stopped_fails():
    # Bad: the burst ran 0-10 s; the last kill came at 12 s, its replica back at 15 s.
    windows = [Window("kill -9 intake#0", 3.0, 6.0), Window("kill -9 gateway#0", 12.0, 15.0)]
    assert window_problems(windows, burst(100, rate=10), expect_fault=True) == [
        "fault kill -9 gateway#0 (12.0-15.0 s) met 0 request(s) in flight, fewer than 5"]


def test_a_fault_before_the_load_started_fails():
    attempts = [Attempt("c", {}, tries=[Try(20 + i / 10, 20.2 + i / 10, True)])
                for i in range(50)]
    assert window_problems([Window("store restart", 2.0, 8.0)], attempts, True)


def test_a_fault_that_met_only_its_last_replies_fails():
    # Bad: the window opens as the burst's last request is answered.
    assert window_problems([Window("broker restart", 10.0, 14.0)], burst(100, rate=10),
                           expect_fault=True)


def test_a_failed_try_inside_the_window_counts_as_in_flight():
    # The broker was down: every try in the window failed, and was retried later.
    attempts = [Attempt(f"c-{i}", {}, acked=True, tries=[Try(i, i + 0.1, ok=False),
                                                         Try(60 + i, 60.1 + i, ok=True)])
                for i in range(10)]
    assert window_problems([Window("broker restart", 2.0, 7.5)], attempts, True) == []


def test_faults_inside_the_load_pass():
    windows = [Window("kill -9 intake#0", 3.0, 6.0), Window("kill -9 gateway#0", 8.0, 9.5)]
    assert window_problems(windows, burst(100, rate=10), expect_fault=True) == []


def test_a_fault_that_recorded_no_window_or_never_ended_fails():
    attempts = burst(100, rate=10)
    assert window_problems([], attempts, expect_fault=True) == [
        "the fault recorded no window"]
    assert window_problems([], attempts, expect_fault=False) == []
    assert window_problems([Window("store restart", 3.0)], attempts, True) == [
        "fault store restart never ended"]


def test_dispatch_counters_are_read_as_a_window_that_may_lose_counts_opens():
    reads = []
    log = FaultLog(ends_at=0.0, reader=lambda: reads.append(1) or {A: Reading(3, 1)})
    with log.window("broker restart", PROCESS):
        pass
    with log.window("kill -9 intake#0"):
        pass
    assert log.readings == [{A: Reading(3, 1)}] and len(reads) == 1
    assert all(w.end is not None and w.end >= w.start for w in log.windows)
