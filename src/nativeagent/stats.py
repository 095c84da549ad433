"""Statistics for honest numbers: Wilson intervals for accuracies, and from ``scipy.stats``
percentile bootstrap intervals over seeds and the interquartile mean (IQM).

The Wilson interval stays a closed form, checked against ``scipy.stats.binomtest``: every
evaluation needs it, and importing ``scipy.stats`` would add about a second to each run.

>>> tuple(round(v, 4) for v in wilson_interval(990, 1000))
(0.9817, 0.9946)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion.

    >>> tuple(round(v, 4) for v in wilson_interval(1000, 1000))
    (0.9962, 1.0)
    """
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def iqm(x: np.ndarray) -> np.ndarray:
    """Interquartile mean along the last axis: ``scipy.stats.trim_mean(x, 0.25)``, rliable's IQM.

    It drops ``n // 4`` values from each end: for n ≤ 3 nothing (the mean), n = 4 averages
    the middle 2, n = 5 the middle 3, n = 8 the middle 4.

    >>> float(iqm(np.array([1.0, 2.0, 3.0, 100.0])))
    2.5
    """
    from scipy import stats

    return np.asarray(stats.trim_mean(np.asarray(x, dtype=float), 0.25, axis=-1))


def median(x: np.ndarray) -> np.ndarray:
    """Median along the last axis (mean of the middle two for even ``n``)."""
    return np.median(np.asarray(x, dtype=float), axis=-1)


#: A statistic over the last axis (``(resamples, n) -> (resamples,)``).
Statistic = Callable[[np.ndarray], np.ndarray]


def bootstrap_ci(
    x: Sequence[float] | np.ndarray,
    stat: Statistic,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over ``x`` (``scipy.stats.bootstrap``),
    deterministic for a given ``seed``; one value gives a zero-width interval."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("bootstrap_ci needs a non-empty 1-D sample")
    if len(x) == 1:  # scipy needs two observations; one value has no spread to resample
        value = float(stat(x))
        return value, value
    from scipy import stats

    res = stats.bootstrap(
        (x,),
        lambda sample, axis: stat(sample),  # scipy moves the sample axis last: axis == -1
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap interval."""

    value: float
    low: float
    high: float


def estimate(
    x: Sequence[float] | np.ndarray, stat: Statistic, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """``stat(x)`` with its 95% percentile-bootstrap interval."""
    return Estimate(
        float(stat(np.asarray(x, dtype=float))), *bootstrap_ci(x, stat, resamples, seed)
    )


__all__ = [
    "LEVEL",
    "RESAMPLES",
    "Estimate",
    "Statistic",
    "bootstrap_ci",
    "estimate",
    "iqm",
    "median",
    "wilson_interval",
]
