"""The arrival forecast from the technician's list (services/dispatch/domain/forecast.py)."""

from datetime import UTC, datetime, timedelta

from services.dispatch.domain.forecast import (
    Free,
    Job,
    Pace,
    forecast,
    is_job_ahead,
    job_of,
    queue_forecast,
)
from services.dispatch.domain.matching import Technician, parse_shift

NOW = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
PACE = Pace(30.0, 1.0, timedelta(minutes=10), {"repair": timedelta(hours=1),
                                                "installation": timedelta(hours=2)})
BASE = (31.20, 121.40)
DAY = parse_shift({"days": list(range(7)), "start": "08:00", "end": "20:00"})


def job(order_id: str, rank: int, due_in_hours: float, lat: float = 31.20,
        lon: float = 121.40, **more) -> Job:
    return Job(order_id, lat, lon, "repair", (1, NOW + timedelta(hours=rank), order_id),
               NOW + timedelta(hours=due_in_hours), **more)


def test_jobs_are_forecast_in_list_order_each_after_the_one_before():
    seen = forecast(BASE, [job("second", 2, 5), job("first", 1, 5)], NOW, PACE, DAY)
    assert seen["first"].arrival == NOW + timedelta(minutes=10)  # the shortest trip
    assert seen["second"].arrival == NOW + timedelta(minutes=80)  # + 1 h of work + trip
    assert (seen["first"].jobs_ahead, seen["second"].jobs_ahead) == (0, 1)
    assert not seen["second"].late


def test_the_job_on_site_ends_first_and_a_booked_slot_is_waited_for():
    on_site = job("here", 5, -1, on_site_since=NOW - timedelta(minutes=30))
    booked = job("booked", 3, 6, not_before=NOW + timedelta(hours=4))
    seen = forecast(BASE, [booked, on_site, job("next", 2, 0.5)], NOW, PACE, DAY)
    assert "here" not in seen
    assert seen["next"].arrival == NOW + timedelta(minutes=40)  # 30 min left + a trip
    assert seen["next"].late and seen["next"].reason()["jobs_ahead"] == 1
    assert seen["booked"].arrival == NOW + timedelta(hours=4)


def test_no_trip_starts_outside_the_shift():
    evening = NOW + timedelta(hours=9, minutes=55)  # 19:55 in Shanghai
    seen = forecast(BASE, [job("a", 1, 30), job("b", 2, 30)], evening, PACE, DAY)
    assert seen["a"].arrival == evening + timedelta(minutes=10)  # leaves before 20:00
    assert seen["b"].shift_wait > timedelta(hours=10)  # waits for 08:00 the next day
    assert seen["b"].arrival == datetime(2026, 7, 15, 0, 10, tzinfo=UTC)


def test_a_queued_order_goes_to_whoever_is_free_first_and_then_keeps_them_busy():
    def tech(tech_id: str, certificates: set[str]) -> Technician:
        return Technician(tech_id, frozenset(certificates), frozenset({"standard"}),
                          *BASE, "day", 4, 0)
    free = [Free(tech("busy", {"gas"}), NOW + timedelta(hours=3), *BASE),
            Free(tech("idle", {"gas"}), NOW, *BASE),
            Free(tech("other", {"electrical"}), NOW, *BASE)]
    queued = [(job("q1", 1, 1), frozenset({"gas"}), "standard"),
              (job("q2", 2, 1), frozenset({"gas"}), "standard"),
              (job("nobody", 3, 1), frozenset({"refrigeration"}), "standard")]
    seen = queue_forecast(queued, free, NOW, PACE, {"day": DAY})
    assert seen["q1"].arrival == NOW + timedelta(minutes=10)  # the idle technician
    assert seen["q2"].arrival == NOW + timedelta(minutes=80) and seen["q2"].late
    assert seen["nobody"].late  # no qualified technician: no arrival in sight


def test_an_order_already_arrived_takes_time_but_cannot_be_late():
    back_after_parts = {"_id": "second-visit", "status": "scheduled", "lat": 31.2,
                        "lon": 121.4, "request_type": "repair", "priority": "high",
                        "received_at": NOW - timedelta(days=3),
                        "deadlines": {"arrival": NOW - timedelta(days=2)},
                        "milestones": {"arrival": {"at": NOW - timedelta(days=2, hours=1)}}}
    visit = job_of(back_after_parts)
    seen = forecast(BASE, [visit, job("after", 9, 0.5)], NOW, PACE, DAY)
    assert visit.deadline is None and not seen["second-visit"].late
    assert seen["after"].jobs_ahead == 1  # the second visit still comes first
    assert is_job_ahead(back_after_parts)
    assert not is_job_ahead({**back_after_parts, "paused_at": NOW})
    assert not is_job_ahead({**back_after_parts, "status": "waiting_parts"})


def test_a_second_visit_on_site_counts_from_its_own_arrival_not_the_first():
    first = NOW - timedelta(days=2)
    again = {"_id": "again", "status": "on_site", "lat": 31.2, "lon": 121.4,
             "request_type": "repair", "priority": "normal", "received_at": first,
             "deadlines": {"arrival": first}, "milestones": {"arrival": {"at": first}},
             "visits": [{"n": 1, "arrived_at": first, "left_at": first + timedelta(hours=1)},
                        {"n": 2, "arrived_at": NOW - timedelta(minutes=5), "left_at": None}]}
    assert job_of(again).on_site_since == NOW - timedelta(minutes=5)
    assert job_of({**again, "visits": []}).on_site_since == first  # recorded before visits
    assert job_of({**again, "status": "scheduled"}).on_site_since is None
