"""Uncertainty for small test sets: bootstrap confidence intervals.

>>> import numpy as np
>>> correct = np.array([1] * 90 + [0] * 10)
>>> ci = bootstrap_ci(lambda idx: correct[idx].mean(), len(correct), seed=0)
>>> round(ci.estimate, 2), ci.low < 0.9 < ci.high
(0.9, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float
    level: float

    def __str__(self) -> str:
        return f"{self.estimate:.3f} ({self.level:.0%} CI {self.low:.3f} to {self.high:.3f})"

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside the interval (for a difference: is it separated from 0?)."""
        return value < self.low or value > self.high


def bootstrap_ci(statistic: Callable[[np.ndarray], float], n_items: int, *, n_boot: int = 2000,
                 level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap: ``statistic`` is called with index arrays that resample the items.

    For a paired comparison (two methods, or two subsets, scored on the same examples), compute
    the *difference* inside ``statistic`` so that each resample keeps the pairing.
    """
    if n_items < 2:
        raise ValueError(f"Need at least 2 items to bootstrap, got {n_items}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}.")
    if n_boot < 100:
        raise ValueError(f"n_boot={n_boot} is too few resamples for an interval; use 1000 or more.")
    rng = np.random.default_rng(seed)
    estimate = float(statistic(np.arange(n_items)))
    draws = np.array([statistic(rng.integers(0, n_items, n_items)) for _ in range(n_boot)], dtype=float)
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        raise ValueError("The statistic was undefined (NaN) on every resample.")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), level)
