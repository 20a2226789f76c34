"""Inventory rules: the ledger's invariants (property-based), sourcing, money."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.domain.money import yuan
from services.common.domain.parts import yuan_to_fen
from services.common.errors import InvalidInput
from services.inventory.domain import sourcing
from services.inventory.domain.catalogue import Catalogue, Location
from services.inventory.domain.ledger import MOVEMENT_KINDS, Balance, deltas
from services.inventory.settings import load_catalogue

ORDERS = ("SH-20261120-000001", "SH-20261120-000002")
movements = st.lists(st.tuples(st.sampled_from(MOVEMENT_KINDS), st.integers(1, 20),
                               st.sampled_from(ORDERS)), max_size=60)


@given(movements)
def test_counters_equal_the_sum_of_the_ledger_and_never_go_negative(moves):
    balance = Balance()
    for kind, quantity, order_id in moves:
        balance.apply(kind, quantity, order_id)
        assert balance.on_hand >= 0 and balance.reserved >= 0 and balance.available >= 0
        assert all(held >= 0 for held in balance.by_order.values())
    assert balance.on_hand == sum(d.on_hand for _, _, d in balance.ledger)
    assert balance.reserved == sum(d.reserved for _, _, d in balance.ledger)
    assert balance.reserved == sum(balance.by_order.values())
    assert balance.old_parts == sum(d.old_parts for _, _, d in balance.ledger)


@given(st.integers(0, 30), st.lists(st.integers(1, 5), max_size=40))
def test_reservations_never_exceed_what_is_on_hand(on_hand, asks):
    balance = Balance()
    if on_hand:
        balance.apply("receive", on_hand)
    granted = [q for q in asks if balance.apply("reserve", q, ORDERS[0])]
    assert sum(granted) <= on_hand
    assert balance.available == on_hand - sum(granted)


def test_a_refused_movement_leaves_no_trace():
    balance = Balance()
    balance.apply("receive", 2)
    assert not balance.apply("consume", 1, ORDERS[0])  # nothing held for that order
    assert not balance.apply("scrap", 3)
    assert (balance.on_hand, len(balance.ledger)) == (2, 1)


@pytest.mark.parametrize("kind,quantity,order_id", [
    ("receive", 0, None), ("receive", -2, None), ("reserve", 1, None), ("steal", 1, None),
    ("receive", True, None)])
def test_bad_movements_are_refused(kind, quantity, order_id):
    with pytest.raises(InvalidInput):
        deltas(kind, quantity, order_id)


def test_prices_are_fen_rounded_half_up_and_never_floats():
    assert yuan_to_fen("12.50") == 1250
    assert yuan_to_fen("0.005") == 1 and yuan_to_fen("0.004") == 0
    assert yuan(1250) == "12.50"
    for bad in (12.5, "-1", "abc", "NaN"):
        with pytest.raises(ValueError):
            yuan_to_fen(bad)


def test_demo_catalogue_fits_the_reference_categories():
    catalogue = load_catalogue({})
    compressor = catalogue.parts["AC-COMP-01"]
    assert compressor.main_part and compressor.fits("air_conditioner")
    assert not compressor.fits("gas_water_heater")
    assert catalogue.vans["SH-T01"].location_id == "SH-VAN-T01"
    ignition = catalogue.levels(catalogue.locations["SH-WH"], "GWH-IGN-01")
    assert (ignition.reorder_point, ignition.safety_stock) == (20, 10)
    assert catalogue.levels(catalogue.locations["SH-SC-PD"], "RC-01").reorder_point == 2
    with pytest.raises(ValueError):
        Catalogue([], {"locations": [], "common_parts": ["AC-COMP-01"]})


def test_a_technician_draws_only_on_a_van_of_the_orders_branch():
    catalogue = load_catalogue({})
    assert catalogue.van_of("SH-T01", "SH").location_id == "SH-VAN-T01"
    assert catalogue.van_of("SH-T01", "SZ") is None    # the same id named by another branch
    assert catalogue.van_of(None, "SH") is None


def _loc(location_id: str, lat: float, lon: float) -> Location:
    return Location(location_id, "SH", "warehouse", location_id, lat, lon)


def test_nearest_location_with_enough_stock_first_and_never_the_van():
    near, far, own = _loc("NEAR", 31.23, 121.47), _loc("FAR", 31.62, 121.40), \
        _loc("OWN", 31.23, 121.47)
    colleague = Location("VAN-2", "SH", "van", "VAN-2", 31.23, 121.47, "SH-T09")
    candidates = [sourcing.Candidate(far, 5), sourcing.Candidate(near, 1),
                  sourcing.Candidate(own, 9), sourcing.Candidate(colleague, 9)]
    assert sourcing.nearest_sources(candidates, 1, 31.23, 121.47, "OWN") == [near, far]
    assert sourcing.nearest_sources(candidates, 2, 31.23, 121.47, "OWN") == [far]


def test_backorder_eta_is_the_earliest_inbound_else_the_lead_time():
    now = datetime(2026, 11, 20, tzinfo=UTC)
    part = load_catalogue({}).parts["AC-COMP-01"]
    assert sourcing.backorder_eta(now, part, []) == now + timedelta(days=7)
    soon, later = now + timedelta(days=2), now + timedelta(days=4)
    assert sourcing.backorder_eta(now, part, [later, soon, now - timedelta(days=1)]) == soon


def test_use_is_taken_from_holds_first_then_the_rest_is_free_stock():
    assert sourcing.split_use(3, [("VAN", 2), ("WH", 5)]) == ([("VAN", 2), ("WH", 1)], 0)
    assert sourcing.split_use(4, [("VAN", 1)]) == ([("VAN", 1)], 3)
    lines = [{"state": "reserved"}, {"state": "in_transfer", "eta": 2},
             {"state": "backordered", "eta": 5}]
    assert sourcing.shortage_eta(lines) == 5 and not sourcing.all_in_hand(lines)
    assert sourcing.awaited_from(lines) == "supplier"  # the slowest line: a backorder
    lines[1] |= {"eta": 9, "location": "SH-WH"}
    assert sourcing.awaited_from(lines) == "SH-WH"
    assert sourcing.awaited_from([{"state": "reserved"}]) is None
