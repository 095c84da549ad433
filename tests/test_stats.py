"""Statistics (``nativeagent.stats``): median, IQM and the bootstrap (from ``scipy.stats``)
against hand computations and the figures of the hand-rolled versions they replaced, and the
Wilson interval against scipy's."""

import math
import statistics

import numpy as np
import pytest
import scipy.stats

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


# --- the same figures as the hand-rolled versions scipy replaced ------------------------------
# Printed by the numpy implementations of commit cd576c0 (``iqm`` sorted and sliced, the
# bootstrap drew ``default_rng(seed).integers(0, n, (resamples, n))`` and took numpy quantiles)
# on the same inputs; Wilson's closed form is kept and checked against scipy's.

OLD_INPUTS = {
    "updates": [180, 140, 190, 170, 150],
    "wall": [1.90, 1.50, 2.02, 1.84, 1.62, 6.4, 2.2],
    "sample": list(SAMPLE),
}
#: (input, statistic, seed) -> (point, (low, high))
OLD_FIGURES = {
    ("updates", "median", 0): (170.0, (140.0, 190.0)),
    ("updates", "iqm", 0): (166.66666666666666, (146.66666666666666, 186.66666666666666)),
    ("updates", "iqm", 7): (166.66666666666666, (143.33333333333334, 186.66666666666666)),
    ("wall", "median", 0): (1.9, (1.62, 2.2)),
    ("wall", "iqm", 0): (1.9159999999999997, (1.684, 3.748)),
    ("wall", "iqm", 7): (1.9159999999999997, (1.672, 3.772299999999998)),
    ("sample", "median", 0): (125.0, (95.0, 175.0)),
    ("sample", "median", 7): (125.0, (95.0, 200.0)),
    ("sample", "iqm", 0): (127.5, (101.25, 192.5)),
    ("sample", "iqm", 7): (127.5, (102.5, 195.0937499999995)),
}


@pytest.mark.parametrize(("key", "figure"), OLD_FIGURES.items(), ids=str)
def test_scipy_gives_the_hand_rolled_figures(
    key: tuple[str, str, int], figure: tuple[float, tuple[float, float]]
) -> None:
    name, stat_name, seed = key
    stat: Statistic = {"median": median, "iqm": iqm}[stat_name]
    x = np.array(OLD_INPUTS[name], dtype=float)
    point, interval = figure
    assert float(stat(x)) == pytest.approx(point, rel=1e-12)
    assert bootstrap_ci(x, stat, resamples=2000, seed=seed) == pytest.approx(interval, rel=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "old"),
    [
        (990, 1000, (0.9816905310453642, 0.9945592455798556)),
        (0, 10, (0.0, 0.2775328030260577)),
        (10, 10, (0.7224671969739421, 0.9999999999999999)),
        (871, 1000, (0.8487959903118332, 0.8903645548472618)),
    ],
)
def test_wilson_interval_equals_scipys(k: int, n: int, old: tuple[float, float]) -> None:
    # z = 1.959964 is norm.ppf(0.975) rounded: the intervals agree to the 8th digit.
    assert wilson_interval(k, n) == pytest.approx(old, rel=1e-12)
    ci = scipy.stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-8)
