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
