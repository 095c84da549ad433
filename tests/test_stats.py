"""Statistics (``nativeagent.stats``): median, IQM and the bootstrap against hand computations,
and the Wilson interval."""

import math
import statistics

import numpy as np
import pytest

from nativeagent.stats import Statistic, bootstrap_ci, iqm, median, wilson_interval

# --- median and IQM -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "want_median", "want_iqm"),
    [
        ([7, 1, 100, 3], 5.0, 5.0),  # sorted 1 3 7 100: drop 1 each end -> (3 + 7) / 2
        ([10, 2, 50, 4, 6], 6.0, 20 / 3),  # sorted 2 4 6 10 50: drop 1 each end -> (4+6+10) / 3
        ([9, 1, 2, 40, 3, 5, 8, 1000], 6.5, 6.25),  # 1 2 | 3 5 8 9 | 40 1000 -> 25 / 4
        ([4], 4.0, 4.0),
        ([1, 2, 30], 2.0, 11.0),  # n = 3: nothing dropped, the plain mean
    ],
)
def test_median_and_iqm_by_hand(values: list[float], want_median: float, want_iqm: float) -> None:
    x = np.array(values, dtype=float)
    assert float(median(x)) == pytest.approx(want_median)
    assert float(iqm(x)) == pytest.approx(want_iqm)
    assert float(iqm(np.random.default_rng(1).permutation(x))) == pytest.approx(want_iqm)


def test_iqm_works_row_by_row() -> None:
    rows = np.array([[7, 1, 100, 3], [1, 1, 1, 9], [0, 4, 8, 4]], dtype=float)
    assert iqm(rows).tolist() == pytest.approx([5.0, 1.0, 4.0])


# --- bootstrap ------------------------------------------------------------------------------

SAMPLE = np.array([120.0, 90.0, 300.0, 150.0, 110.0, 95.0, 200.0, 130.0])


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile, written out."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def test_bootstrap_matches_a_hand_written_percentile_bootstrap() -> None:
    rng = np.random.default_rng(5)
    draws = rng.integers(0, len(SAMPLE), size=(60, len(SAMPLE)))
    stats = sorted(statistics.median(SAMPLE[i] for i in row) for row in draws)
    want = (_percentile(stats, 0.025), _percentile(stats, 0.975))
    assert bootstrap_ci(SAMPLE, median, resamples=60, seed=5) == pytest.approx(want)


def test_bootstrap_of_two_values_spans_them() -> None:
    # A resample of [a, b] is (a, a), (a, b), (b, a) or (b, b): the median is a with probability
    # 1/4, far above 2.5%, so the 95% interval is exactly [a, b].
    assert bootstrap_ci([10.0, 30.0], median) == (10.0, 30.0)
    assert bootstrap_ci([10.0, 30.0], iqm) == (10.0, 30.0)


def test_bootstrap_degenerate_samples() -> None:
    assert bootstrap_ci([42.0], median) == (42.0, 42.0)
    assert bootstrap_ci([3.0] * 6, iqm) == (3.0, 3.0)
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([], median)


def mean(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=-1)


def test_bootstrap_seed_is_used() -> None:
    assert bootstrap_ci(SAMPLE, mean, resamples=50, seed=3) != bootstrap_ci(
        SAMPLE, mean, resamples=50, seed=4
    )


def test_bootstrap_of_the_mean_has_the_normal_width() -> None:
    x = np.random.default_rng(0).normal(50.0, 10.0, size=40)
    low, high = bootstrap_ci(x, mean, resamples=4000)
    half = 1.96 * x.std() / math.sqrt(len(x))  # the bootstrap uses the plug-in std
    assert low == pytest.approx(x.mean() - half, abs=0.15 * half)
    assert high == pytest.approx(x.mean() + half, abs=0.15 * half)


@pytest.mark.parametrize("stat", [median, iqm])
def test_bootstrap_is_deterministic_and_contains_the_estimate(stat: Statistic) -> None:
    first = bootstrap_ci(SAMPLE, stat, seed=3)
    assert bootstrap_ci(SAMPLE, stat, seed=3) == first
    assert first[0] <= float(stat(SAMPLE)) <= first[1]
    assert first[0] < first[1]


def test_wilson_interval_by_hand() -> None:
    # p = 0.5, n = 100, z = 1.96: centre 0.5, half-width z*sqrt(0.25/100 + z²/40000)/(1 + z²/100)
    z = 1.959964
    half = z * math.sqrt(0.25 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert wilson_interval(50, 100) == pytest.approx((0.5 - half, 0.5 + half))
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        wilson_interval(0, 0)
