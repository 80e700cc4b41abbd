"""Confidence intervals: Wilson for a rate, paired bootstrap for a difference."""

from __future__ import annotations

import pytest

from agentrun.evals.intervals import paired_bootstrap, wilson


def test_wilson_matches_the_textbook_values_and_stays_inside_zero_and_one() -> None:
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(30, 50)[1] - wilson(30, 50)[0] < wilson(3, 5)[1] - wilson(3, 5)[0]


def test_the_paired_bootstrap_centres_on_the_mean_difference() -> None:
    assert paired_bootstrap([1, 1, 0, 0], [1, 1, 0, 0]) == (0.0, 0.0, 0.0)
    assert paired_bootstrap([1.0] * 8, [0.0] * 8) == (1.0, 1.0, 1.0)
    first = [1.0] * 30 + [0.0] * 20
    second = [1.0] * 20 + [0.0] * 30
    diff, low, high = paired_bootstrap(first, second, seed=3)
    assert diff == pytest.approx(0.2) and 0.05 < low < 0.2 < high < 0.35
    assert paired_bootstrap(first, second, seed=3) == (diff, low, high)  # seeded
    with pytest.raises(ValueError, match="differ in size: 2 and 1"):
        paired_bootstrap([1.0, 0.0], [1.0])
