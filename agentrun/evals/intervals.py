"""Confidence intervals for eval rates, so a difference is reported with its uncertainty.

A success rate gets the Wilson score interval (sound at 0, 1 and small n, unlike the normal
approximation). A difference between two strategies run on the same items gets a paired
bootstrap interval: items are resampled with a fixed seed and the mean per-item difference is
recomputed, so the interval reflects that both strategies met the same tasks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

#: Two-sided 95%: the normal quantile used by the Wilson interval.
Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of `successes` out of `trials` ((0, 1) when there are none)."""
    if trials <= 0:
        return 0.0, 1.0
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_bootstrap(
    first: Sequence[float],
    second: Sequence[float],
    *,
    resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean of first - second, low, high): a percentile bootstrap over paired items."""
    if len(first) != len(second):
        raise ValueError(f"paired samples differ in size: {len(first)} and {len(second)}")
    if not first:
        return 0.0, 0.0, 0.0
    gaps = [a - b for a, b in zip(first, second, strict=True)]
    count = len(gaps)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(gaps, k=count)) / count for _ in range(resamples))
    tail = (1 - level) / 2
    low = means[int(tail * resamples)]
    high = means[min(resamples - 1, int((1 - tail) * resamples))]
    return sum(gaps) / count, low, high
