"""Orders nobody on the roster could ever take (无合格技师): what is missing, in the
dispatcher's words, with load and shift left aside."""

from services.dispatch.domain.matching import Technician, qualification_gap


def tech(technician_id="T1", *, certificates=("gas",), zones=("intensive",), shift="day",
         cap=3, active_jobs=0, active=True) -> Technician:
    return Technician(technician_id, frozenset(certificates), frozenset(zones), 31.2, 121.4,
                      shift, cap, active_jobs, active)


def test_someone_qualified_is_no_gap_whatever_their_load_or_shift():
    busy_off_shift = tech(cap=1, active_jobs=1, shift="night")
    assert qualification_gap([busy_off_shift], {"gas"}, "intensive") is None


def test_the_missing_certificate_is_named():
    gap = qualification_gap([tech(certificates=("electric",), zones=("remote",))], {"gas"},
                            "remote")
    assert gap.as_facts() == {"missing": ["gas"], "zone": "remote", "zone_covered": True}


def test_the_smallest_gap_among_the_zone_s_technicians():
    roster = [tech("T1", certificates=(), zones=("remote",)),
              tech("T2", certificates=("gas",), zones=("remote",))]
    gap = qualification_gap(roster, {"gas", "pressure_vessel"}, "remote")
    assert gap.missing == ("pressure_vessel",) and gap.zone_covered


def test_two_halves_do_not_make_one_qualified_technician():
    roster = [tech("T1", certificates=("gas",)), tech("T2", certificates=("electric",))]
    gap = qualification_gap(roster, {"gas", "electric"}, "intensive")
    assert gap is not None and len(gap.missing) == 1


def test_nobody_covering_the_zone():
    gap = qualification_gap([tech(zones=("intensive",))], {"gas"}, "remote")
    assert gap.as_facts() == {"missing": [], "zone": "remote", "zone_covered": False}


def test_nobody_covering_the_zone_and_the_certificate_missing_too():
    gap = qualification_gap([tech(certificates=(), zones=("intensive",))], {"gas"}, "remote")
    assert gap.missing == ("gas",) and not gap.zone_covered


def test_an_inactive_technician_does_not_qualify():
    gap = qualification_gap([tech(active=False)], {"gas"}, "intensive")
    assert gap.as_facts() == {"missing": ["gas"], "zone": "intensive", "zone_covered": False}


def test_an_empty_roster_misses_everything():
    gap = qualification_gap([], {"gas"}, "standard")
    assert gap.missing == ("gas",) and not gap.zone_covered
