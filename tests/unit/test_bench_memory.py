"""The memory bench's reading of its samples: points, growth and verdict."""

import pytest

from bench import memory


def test_the_value_at_a_point_is_the_nearest_sample():
    series = [(0, 50.0), (4_800, 52.0), (5_300, 53.0), (10_000, 55.0)]
    assert memory.value_at(series, 5_000) == 52.0
    assert memory.value_at(series, 5_100) == 53.0
    assert memory.value_at(series, 100_000) == 55.0


def test_growth_is_the_least_squares_slope_per_10k_orders():
    steady_leak = [(n, 60 + n / 10_000 * 2.5) for n in range(50_000, 100_001, 500)]
    assert memory.slope_per_10k(steady_leak) == pytest.approx(2.5)
    # An allocator step of 4 MB between two samples does not read as growth.
    noisy = [(n, 60.0 + (4 if n % 20_000 == 0 else 0)) for n in range(50_000, 100_001, 500)]
    assert abs(memory.slope_per_10k(noisy)) < 0.1
    assert memory.slope_per_10k([(10, 5.0)]) == 0.0
    assert memory.slope_per_10k([(10, 5.0), (10, 7.0)]) == 0.0  # all at one point


def test_footprint_takes_the_points_and_the_second_half_only():
    # Warm-up growth in the first half, flat in the second: bounded.
    series = [(n, 50 + min(n, 30_000) / 1_000) for n in range(0, 100_001, 1_000)]
    result = memory.footprint("intake", series, 100_000)
    assert result.at == {5: 55.0, 25: 75.0, 50: 80.0, 75: 80.0, 100: 80.0}
    assert result.growth == pytest.approx(0.0)
    assert result.verdict == "bounded"


def test_a_process_growing_past_the_threshold_fails_the_run_but_the_store_does_not():
    growing = memory.Footprint("dispatch", {}, memory.BOUNDED_MB_PER_10K + 0.1)
    flat = memory.Footprint("intake", {}, 0.2)
    store = memory.Footprint(memory.STORE, {}, 40.0)
    assert growing.verdict == "GROWING"
    assert memory.judged([flat, store])
    assert not memory.judged([flat, growing, store])
