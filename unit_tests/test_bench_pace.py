"""The bench's test of whether a server kept pace with a schedule of deliveries."""

from __future__ import annotations

import random

from tools.bench.webhooks import PACE_SLOPE, _slope


def test_given_latency_growing_with_the_schedule_then_the_slope_is_its_growth_per_second():
    dues = [i / 1000 for i in range(5000)]
    assert abs(_slope(dues, [0.004 + 0.03 * due for due in dues]) - 0.03) < 1e-9
    assert _slope(dues, [0.004 + 0.03 * due for due in dues]) > PACE_SLOPE


def test_given_steady_noisy_latency_or_one_stall_then_the_server_kept_pace():
    rng = random.Random(7)
    dues = [i / 1000 for i in range(5000)]
    steady = [0.005 + rng.expovariate(200) for _ in dues]
    assert abs(_slope(dues, steady)) < 0.002
    stalled = [y + (0.08 if 2.0 <= due < 2.1 else 0.0) for due, y in zip(dues, steady, strict=True)]
    assert _slope(dues, stalled) <= PACE_SLOPE


def test_given_too_few_points_then_no_slope():
    assert _slope([], []) == 0.0
    assert _slope([1.0, 1.0], [0.1, 0.9]) == 0.0


def test_given_a_server_held_the_last_rate_tried_then_its_row_says_its_limit_is_higher():
    from tools.bench.plan import FULL
    from tools.bench.report import held_rate

    top = max(FULL.webhook_rates)
    assert held_rate(top, top) == f"{top:,} (every rate tried)"
    assert held_rate(3000, top) == "3,000"
    assert held_rate(0, top) == "0"
    # The ladder reaches past the floor's capacity measured so far (9,043/s on 2026-12-07).
    assert top > 9043


def test_given_the_rate_ladder_then_from_1000_up_each_rate_is_at_most_a_third_above_the_last():
    from itertools import pairwise

    from tools.bench.plan import FULL

    rates = [rate for rate in FULL.webhook_rates if rate >= 1000]
    assert rates == sorted(rates)
    steps = {high: high / low for low, high in pairwise(rates)}
    assert all(step <= 4 / 3 for step in steps.values()), steps


def test_given_the_machine_drifting_between_runs_then_each_run_is_judged_by_the_floor_just_before():
    from tools.bench.webhooks import paired_share

    # The machine twice as fast for the last two pairs: a store always at 45% of the floor's run
    # just before it is 0.45, where dividing by the first floor run would say 0.45, 0.9 and 0.9.
    floors = [4000.0, 8000.0, 8000.0]
    assert paired_share([0.45 * f for f in floors], floors) == 0.45
    assert paired_share([1000.0, 3000.0], [4000.0, 4000.0]) == 0.5  # an even count: the middle two
    assert paired_share([900.0, 1000.0, 5000.0], [2000.0, 2000.0, 2000.0]) == 0.5


def test_given_a_floor_that_answered_nothing_then_the_closing_line_gives_no_share_rather_than_0_percent():
    from tools.bench.report import of_the_floor

    assert of_the_floor({"capacity": 2_700.0, "paired_share": 0.434}, 6_400.0) == "43% of the floor"
    assert of_the_floor({"capacity": 2_700.0}, 5_400.0) == "50% of the floor"
    assert of_the_floor({"capacity": 2_700.0}, 0.0) == "the floor answered nothing"
