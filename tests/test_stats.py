"""Checks of pytest_fragility.auditing.stats against closed forms, numpy least squares and scipy's t."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import scipy.stats

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.errors import ConfigurationError

M = np.array([100.0, 200.0, 400.0, 800.0, 1600.0])


def power_law_curves(rng, beta, n_seeds, noise, c=2.0):
    """values[S, M] = c·m^β·exp(noise·z): a power law with multiplicative seed noise."""
    return c * M**beta * np.exp(noise * rng.standard_normal((n_seeds, len(M))))


# --------------------------------------------------------------------------- scales and curves


def test_infer_scale_and_transform():
    assert stats.infer_scale([[1.0, 2.0], [np.nan, 3.0]]) == "positive"
    assert stats.infer_scale([[1.0, -2.0]]) == "log"
    assert stats.infer_scale([[1.0, 0.0]]) == "log"
    np.testing.assert_allclose(stats.transform([[1.0, math.e]], "positive"), [[0.0, 1.0]])
    np.testing.assert_array_equal(stats.transform([[-1.0, 5.0]], "log"), [[-1.0, 5.0]])
    assert np.isnan(stats.transform([[np.inf, 1.0]], "log")[0, 0])


def test_transform_refuses_nonpositive_values_under_the_positive_scale():
    with pytest.raises(ConfigurationError, match="2 values are <= 0 and have no logarithm"):
        stats.transform([[1.0, 0.0], [-3.0, math.e]], "positive")
    np.testing.assert_array_equal(stats.transform([[1.0, 0.0]], "log"), [[1.0, 0.0]])


def test_unknown_scale_names_the_valid_ones():
    with pytest.raises(ConfigurationError, match=r"unknown scale 'loglog'.*log, positive"):
        stats.transform([[1.0]], "loglog")


def test_aggregate_is_mean_of_logs_over_finite_seeds():
    values = np.array([[1.0, 4.0, np.nan], [4.0, np.nan, np.nan], [16.0, 1.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an all-missing size must not warn about an empty mean
        curve = stats.aggregate(values, "positive")
    np.testing.assert_allclose(curve[:2], [math.log(4.0), math.log(2.0)])  # geometric means 4 and 2
    assert np.isnan(curve[2])


@pytest.mark.parametrize("beta", [-0.7, 0.0, 0.35])
def test_slope_matches_polyfit_and_recovers_exponent(beta):
    curve = np.log(3.0 * M**beta)
    assert stats.slope(M, curve) == pytest.approx(np.polyfit(np.log(M), curve, 1)[0], abs=1e-12)
    assert stats.slope(M, curve) == pytest.approx(beta, abs=1e-12)
    rng = np.random.default_rng(0)
    noisy = curve + rng.normal(size=len(M))
    assert stats.slope(M, noisy) == pytest.approx(np.polyfit(np.log(M), noisy, 1)[0], abs=1e-12)


def test_slope_ignores_missing_points_and_needs_two():
    curve = np.array([1.0, np.nan, 3.0, 2.0, np.nan])
    ok = np.isfinite(curve)
    assert stats.slope(M, curve) == pytest.approx(np.polyfit(np.log(M[ok]), curve[ok], 1)[0])
    assert math.isnan(stats.slope(M, [np.nan, 1.0, np.nan, np.nan, np.nan]))


def test_trend_of_exact_power_law_is_exact_on_both_scales():
    values = np.tile(5.0 * M**-0.4, (4, 1))
    est = stats.trend(M, values, "positive")
    assert est.value == pytest.approx(-0.4, abs=1e-12)
    assert est.low == pytest.approx(-0.4, abs=1e-12) and est.high == pytest.approx(-0.4, abs=1e-12)
    assert (est.n_seeds, est.n_sizes, est.sign) == (4, len(M), -1)
    # A log-scale measure (e.g. a log-norm) with a trend 1.5 per e-fold of m.
    log_values = np.tile(-2.0 + 1.5 * np.log(M), (3, 1))
    assert stats.trend(M, log_values, "log").value == pytest.approx(1.5, abs=1e-12)


# --------------------------------------------------------------------------- per-seed t intervals


def by_hand(statistics, level=0.95):
    """mean ± t(level, n−1)·sd/√n with scipy: the independent reference of every interval."""
    statistics = np.asarray(statistics)
    n = len(statistics)
    half = scipy.stats.t.ppf((1 + level) / 2, n - 1) * statistics.std(ddof=1) / math.sqrt(n)
    return statistics.mean(), statistics.mean() - half, statistics.mean() + half


def per_seed_polyfit(values, sizes=M):
    """Each seed's slope of ln μ against ln m by numpy least squares, over its finite sizes."""
    slopes = []
    for row in np.log(values):
        ok = np.isfinite(row)
        slopes.append(np.polyfit(np.log(sizes[ok]), row[ok], 1)[0] if ok.sum() >= 2 else np.nan)
    return np.array(slopes)


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_trend_is_the_t_interval_of_per_seed_slopes(level):
    values = power_law_curves(np.random.default_rng(3), -0.5, 5, 0.3)
    est = stats.trend(M, values, "positive", level=level)
    value, low, high = by_hand(per_seed_polyfit(values), level)
    assert (est.value, est.low, est.high) == pytest.approx((value, low, high), abs=1e-12)
    assert est.se == pytest.approx(per_seed_polyfit(values).std(ddof=1) / math.sqrt(5), abs=1e-12)
    assert (est.n_seeds, est.n_sizes, est.level) == (5, len(M), level)


def test_trend_interval_covers_the_true_exponent_at_its_level_with_seed_effects():
    """Seeds with offsets and exponents of their own: the per-seed interval still covers 95%."""
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(1000):
        offsets = 0.3 * rng.standard_normal((4, 1))
        slopes = 0.1 * rng.standard_normal((4, 1))
        values = 2.0 * M ** (-0.5 + slopes) * np.exp(offsets + 0.2 * rng.standard_normal((4, len(M))))
        est = stats.trend(M, values, "positive")
        covered += est.low <= -0.5 <= est.high
    assert 930 <= covered <= 970  # 95% ± about 2.9 binomial standard errors


def test_trend_interval_resolves_a_clear_trend_and_rarely_a_flat_one():
    rng = np.random.default_rng(2)
    clear = [stats.trend(M, power_law_curves(rng, -0.5, 5, 0.1), "positive") for _ in range(50)]
    assert all(e.resolved and e.sign == -1 for e in clear)
    flat = [stats.trend(M, power_law_curves(rng, 0.0, 5, 0.3), "positive") for _ in range(400)]
    assert sum(e.resolved for e in flat) <= 40  # 5% expected


def test_one_seed_gives_a_value_but_no_interval():
    values = power_law_curves(np.random.default_rng(4), -0.5, 1, 0.1)
    est = stats.trend(M, values, "positive")
    assert math.isfinite(est.value)
    assert math.isnan(est.low) and math.isnan(est.high) and math.isnan(est.se)
    assert not est.resolved and est.sign == 0 and est.n_seeds == 1


def test_a_seed_with_fewer_than_two_sizes_has_no_slope_and_is_left_out():
    values = power_law_curves(np.random.default_rng(5), -0.5, 4, 0.05)
    values[0, 1:] = np.nan
    est = stats.trend(M, values, "positive")
    assert est.n_seeds == 3 and est.value == pytest.approx(per_seed_polyfit(values[1:]).mean(), abs=1e-12)


def test_fewer_than_two_sizes_gives_nan():
    values = np.full((3, len(M)), np.nan)
    values[:, 0] = [1.0, 2.0, 3.0]
    est = stats.trend(M, values, "positive")
    assert math.isnan(est.value) and est.n_sizes == 1 and not est.resolved


def test_missing_cells_shorten_a_seed_s_curve_but_keep_the_seed():
    rng = np.random.default_rng(6)
    values = power_law_curves(rng, -0.5, 6, 0.1)
    holes = values.copy()
    holes[0, 0] = holes[2, 3] = holes[5, 4] = np.nan
    holes[:, 1] = np.nan  # a size where every run failed is left out
    est = stats.trend(M, holes, "positive")
    assert (est.n_seeds, est.n_sizes) == (6, 4)
    assert est.value == pytest.approx(per_seed_polyfit(holes).mean(), abs=1e-12)
    assert est.resolved and est.low <= -0.5 <= est.high


def test_the_same_data_give_the_same_interval():
    values = power_law_curves(np.random.default_rng(7), -0.2, 5, 0.3)
    assert stats.trend(M, values, "positive") == stats.trend(M, values.copy(), "positive")


# --------------------------------------------------------------------------- paired comparisons


def test_differences_of_exact_power_laws_are_exact():
    base = np.tile(2.0 * M**-0.5, (3, 1))
    other = np.tile(6.0 * M**-0.2, (3, 1))
    log_ratio = np.log(3.0) + 0.3 * np.log(M)
    slope_diff = stats.trend_difference(M, base, other, "positive")
    assert slope_diff.value == pytest.approx(0.3, abs=1e-12) and slope_diff.sign == 1
    assert (slope_diff.low, slope_diff.high) == pytest.approx((0.3, 0.3), abs=1e-12)
    level = stats.level_difference(base, other, "positive")
    assert level.value == pytest.approx(log_ratio.mean(), abs=1e-12)
    assert stats.level_difference(other, base, "positive").value == pytest.approx(-log_ratio.mean(), abs=1e-12)
    # On the log scale the same quantities are plain differences.
    assert stats.level_difference(np.log(base), np.log(other), "log").value == pytest.approx(log_ratio.mean())


def width(estimate):
    return estimate.high - estimate.low


def test_pairing_by_seed_tightens_the_interval():
    rng = np.random.default_rng(8)
    shared = rng.standard_normal((8, len(M)))  # seed s shares its init and data across variants
    base = 2.0 * M**-0.5 * np.exp(0.4 * shared + 0.02 * rng.standard_normal(shared.shape))
    other = 2.0 * M**-0.3 * np.exp(0.4 * shared + 0.02 * rng.standard_normal(shared.shape))
    # The same values with the seeds shuffled within each size: the pairing is broken.
    unpaired = np.stack([rng.permutation(col) for col in other.T], axis=1)
    paired = stats.trend_difference(M, base, other, "positive")
    assert width(paired) < width(stats.trend_difference(M, base, unpaired, "positive")) / 5
    assert paired.resolved and paired.low < 0.2 < paired.high
    level = stats.level_difference(base, other, "positive")
    assert width(level) < width(stats.level_difference(base, unpaired, "positive")) / 5


def test_level_difference_is_the_t_interval_of_per_seed_mean_log_ratios():
    rng = np.random.default_rng(9)
    base = power_law_curves(rng, -0.5, 6, 0.3)
    other = base * np.exp(0.1 + 0.2 * rng.standard_normal(base.shape))
    est = stats.level_difference(base, other, "positive")
    per_seed = (np.log(other) - np.log(base)).mean(axis=1)
    assert (est.value, est.low, est.high) == pytest.approx(by_hand(per_seed), abs=1e-12)


def test_level_difference_covers_with_per_seed_offsets():
    """The within-size bootstrap of the first version covered 60-73% here; per-seed t covers 95%."""
    rng = np.random.default_rng(10)
    covered = 0
    for _ in range(1000):
        seed_offset = 0.4 * rng.standard_normal((4, 1))  # seed s shares it across every m
        base = 2.0 * M**-0.5 * np.exp(0.2 * rng.standard_normal((4, len(M))))
        other = base * np.exp(0.1 + seed_offset + 0.2 * rng.standard_normal((4, len(M))))
        est = stats.level_difference(base, other, "positive")
        covered += est.low <= 0.1 <= est.high
    assert 930 <= covered <= 970


def test_pairing_drops_a_seed_missing_in_either_variant():
    base = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    other = np.array([[2.0, 3.0], [np.nan, 9.0], [7.0, 8.0]])
    est = stats.level_difference(base, other, "log")
    assert est.value == pytest.approx(np.mean([(1 + 1) / 2, (2 + 2) / 2]))  # seed 1 pairs nowhere
    assert est.n_seeds == 2 and est.n_sizes == 2


def test_pairing_needs_the_same_shape():
    with pytest.raises(ConfigurationError, match="same \\[seeds, sizes\\] shape"):
        stats.level_difference(np.ones((3, 5)), np.ones((4, 5)), "positive")


# --------------------------------------------------------------------------- what more data would do


def test_detectable_effect_is_shown_with_the_stated_power():
    """Simulate the decision 'interval beyond the tolerance' at the detectable effect: ~80%."""
    rng = np.random.default_rng(11)
    n, sd, tolerance = 6, 0.2, 0.25
    effect = tolerance + stats.detectable(sd / math.sqrt(n), n)
    shown = 0
    for _ in range(4000):
        est = stats.seed_estimate(effect + sd * rng.standard_normal(n), level=0.95, n_sizes=5)
        shown += est.low > tolerance
    assert 0.76 <= shown / 4000 <= 0.86  # t(0.8) on the true se approximates the power of a studentized test


def test_seeds_needed_shrink_the_interval_as_stated():
    rng = np.random.default_rng(12)
    est = stats.seed_estimate(0.3 + 0.2 * rng.standard_normal(4), level=0.95, n_sizes=5)
    target = est.half_width / 3
    n = stats.seeds_for_half_width(est, target)
    sd = est.se * math.sqrt(est.n_seeds)
    assert scipy.stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) <= target
    assert scipy.stats.t.ppf(0.975, n - 2) * sd / math.sqrt(n - 1) > target
    assert stats.seeds_for_half_width(stats.seed_estimate(np.zeros(3), level=0.95, n_sizes=1), 0.1) is None


# --------------------------------------------------------------------------- Estimate and inputs


def test_estimate_resolution_bands_and_plain_dict_round_trip():
    assert Estimate(0.5, 0.1, 0.9, 0.95, 5, 4).sign == 1
    assert Estimate(-0.5, -0.9, -0.1, 0.95, 5, 4).sign == -1
    straddles = Estimate(0.1, -0.2, 0.4, 0.95, 5, 4)
    assert not straddles.resolved and straddles.sign == 0
    assert straddles.within(0.4) and not straddles.within(0.3) and not straddles.beyond(0.1)
    assert Estimate(0.5, 0.3, 0.7, 0.95, 5, 4).beyond(0.25) and Estimate(-0.5, -0.7, -0.3, 0.95, 5, 4).beyond(0.25)
    est = Estimate(np.float64(0.5), math.nan, np.float64(0.7), 0.95, np.int64(1), 5)
    assert not est.within(10.0) and not est.beyond(0.0)  # no interval decides nothing
    d = est.to_dict()
    assert d == {"value": 0.5, "low": None, "high": 0.7, "level": 0.95, "n_seeds": 1, "n_sizes": 5, "se": None}
    assert all(type(v) in (float, int, type(None)) for v in d.values())
    back = Estimate.from_dict(json.loads(json.dumps(d)))
    assert back.value == 0.5 and math.isnan(back.low) and back.n_seeds == 1 and not back.resolved


@pytest.mark.parametrize(
    ("m", "values", "message"),
    [
        (M[:4], np.ones((2, 5)), "one entry per size \\(5\\)"),
        (M[::-1], np.ones((2, 5)), "strictly ascending"),
        (np.r_[0.0, M[1:]], np.ones((2, 5)), "positive and finite"),
        (M, np.ones(5), "2-D array \\[seeds, sizes\\]"),
    ],
)
def test_bad_curve_inputs_name_the_problem(m, values, message):
    with pytest.raises(ConfigurationError, match=message):
        stats.trend(m, values, "positive")


def test_bad_level():
    with pytest.raises(ConfigurationError, match="level must be"):
        stats.trend(M, np.ones((2, 5)), "positive", level=95)


def test_stats_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, pytest_fragility.auditing.stats, pytest_fragility.auditing.ranking; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
