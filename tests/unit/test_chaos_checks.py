"""The chaos checker's counting of commitment outcomes from the replicas' counters."""

from chaos.checks import outcome_problems

A, B = "http://a/metrics", "http://b/metrics"


def test_outcomes_counted_exactly_once_pass():
    assert outcome_problems({A: 10, B: 4}, {A: 16, B: 7}, reached=9, may_miss=False) == []


def test_an_outcome_counted_twice_is_a_problem():
    problems = outcome_problems({A: 10, B: 4}, {A: 17, B: 7}, reached=9, may_miss=False)
    assert problems == ["commitment outcomes counted 10 times for 9 milestones reached"]


def test_an_outcome_never_counted_is_a_problem_when_no_replica_restarted():
    assert outcome_problems({A: 0}, {A: 8}, reached=9, may_miss=False)


def test_a_restarted_replica_counts_from_zero_and_may_have_lost_some():
    # B died: its counter restarted at 0 and rose to 2; what it counted before is gone.
    assert outcome_problems({A: 10, B: 4}, {A: 16, B: 2}, reached=9, may_miss=True) == []
    # Never more than were reached, restart or not.
    assert outcome_problems({A: 10, B: 4}, {A: 16, B: 9}, reached=9, may_miss=True)


def test_a_replica_read_only_once_is_left_out():
    # B did not answer the first reading: its lifetime count is not a rise.
    assert outcome_problems({A: 10}, {A: 16, B: 40}, reached=6, may_miss=False) == []
