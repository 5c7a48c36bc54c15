"""Checks of pytest_fragility.auditing.stats against closed forms and numpy."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

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


def test_transform_reports_nonpositive_values_and_drops_them():
    with pytest.warns(stats.NonPositiveValuesWarning, match="2 of 4 values are ≤ 0"):
        out = stats.transform([[1.0, 0.0], [-3.0, math.e]], "positive")
    np.testing.assert_array_equal(np.isnan(out), [[False, True], [True, False]])
    assert out[1, 1] == pytest.approx(1.0)


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


# --------------------------------------------------------------------------- bootstrap intervals


def test_trend_interval_covers_true_exponent_in_most_repetitions():
    rng = np.random.default_rng(1)
    covered = sum(
        (
            e := stats.trend(M, power_law_curves(rng, -0.5, 8, 0.3), "positive", n_boot=1000, seed=r)
        ).low
        <= -0.5
        <= e.high
        for r in range(100)
    )
    assert covered >= 85  # nominal 95; a loose bound for a sanity check


def test_trend_interval_resolves_a_clear_trend_and_not_a_flat_one():
    rng = np.random.default_rng(2)
    clear = [
        stats.trend(M, power_law_curves(rng, -0.5, 5, 0.1), "positive", n_boot=500, seed=r)
        for r in range(50)
    ]
    assert all(e.resolved and e.sign == -1 for e in clear)
    flat = [
        stats.trend(M, power_law_curves(rng, 0.0, 5, 0.3), "positive", n_boot=500, seed=r)
        for r in range(100)
    ]
    assert sum(e.resolved for e in flat) <= 20


@pytest.mark.parametrize("n_seeds", [3, 60])
def test_trend_interval_width_matches_the_standard_error_of_the_slope(n_seeds):
    """The 95% interval is ≈ ±1.96 standard errors of the OLS slope of the seed means.

    With 3 seeds a plain bootstrap would be √(2/3) ≈ 0.82 times too narrow.
    """
    rng = np.random.default_rng(3)
    values = power_law_curves(rng, -0.5, n_seeds, 0.4)
    est = stats.trend(M, values, "positive", n_boot=20_000)
    x = np.log(M) - np.log(M).mean()
    var_means = np.log(values).var(axis=0, ddof=1) / n_seeds
    se = math.sqrt(np.sum(x**2 * var_means)) / np.sum(x**2)
    assert (est.high - est.low) / 2 == pytest.approx(1.96 * se, rel=0.06)
    assert (est.low + est.high) / 2 == pytest.approx(est.value, abs=0.25 * se)


def test_one_seed_gives_a_value_but_no_interval():
    values = power_law_curves(np.random.default_rng(4), -0.5, 1, 0.1)
    est = stats.trend(M, values, "positive")
    assert math.isfinite(est.value)
    assert math.isnan(est.low) and math.isnan(est.high)
    assert not est.resolved and est.sign == 0 and est.n_seeds == 1


def test_a_size_with_a_single_seed_makes_the_interval_unresolved():
    values = power_law_curves(np.random.default_rng(5), -0.5, 4, 0.05)
    values[1:, 2] = np.nan
    est = stats.trend(M, values, "positive")
    assert math.isfinite(est.value) and math.isnan(est.low) and est.n_seeds == 1


def test_fewer_than_two_sizes_gives_nan():
    values = np.full((3, len(M)), np.nan)
    values[:, 0] = [1.0, 2.0, 3.0]
    est = stats.trend(M, values, "positive")
    assert math.isnan(est.value) and est.n_sizes == 1 and not est.resolved


def test_missing_cells_are_ignored_not_propagated():
    rng = np.random.default_rng(6)
    values = power_law_curves(rng, -0.5, 6, 0.1)
    full = stats.trend(M, values, "positive", seed=1)
    holes = values.copy()
    holes[0, 0] = holes[2, 3] = holes[5, 4] = np.nan
    holes[:, 1] = np.nan  # a size where every run failed is left out
    est = stats.trend(M, holes, "positive", seed=1)
    assert est.resolved and est.value == pytest.approx(full.value, abs=0.05)
    assert (est.n_seeds, est.n_sizes) == (5, 4)
    ok = np.isfinite(holes)
    means = [np.log(holes[ok[:, j], j]).mean() for j in (0, 2, 3, 4)]
    assert est.value == pytest.approx(np.polyfit(np.log(M[[0, 2, 3, 4]]), means, 1)[0], abs=1e-12)


def test_bootstrap_is_deterministic_given_seed():
    values = power_law_curves(np.random.default_rng(7), -0.2, 5, 0.3)
    a = stats.trend(M, values, "positive", seed=11)
    assert a == stats.trend(M, values, "positive", seed=11)
    assert a.low != stats.trend(M, values, "positive", seed=12).low


# --------------------------------------------------------------------------- paired comparisons


def test_differences_of_exact_power_laws_are_exact():
    base = np.tile(2.0 * M**-0.5, (3, 1))
    other = np.tile(6.0 * M**-0.2, (3, 1))
    log_ratio = np.log(3.0) + 0.3 * np.log(M)
    slope_diff = stats.trend_difference(M, base, other, "positive")
    assert slope_diff.value == pytest.approx(0.3, abs=1e-12) and slope_diff.sign == 1
    assert slope_diff.low == pytest.approx(0.3, abs=1e-12) and slope_diff.high == pytest.approx(
        0.3, abs=1e-12
    )
    assert stats.level_difference(base, other, "positive").value == pytest.approx(
        log_ratio.mean(), abs=1e-12
    )
    assert stats.median_abs_log_ratio(other, base, "positive").value == pytest.approx(
        np.median(log_ratio), abs=1e-12
    )
    # On the log scale the same quantities are plain differences.
    assert stats.level_difference(np.log(base), np.log(other), "log").value == pytest.approx(
        log_ratio.mean()
    )


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


def test_level_difference_interval_matches_paired_standard_error():
    rng = np.random.default_rng(9)
    base = power_law_curves(rng, -0.5, 50, 0.3)
    other = base * np.exp(0.1 + 0.2 * rng.standard_normal(base.shape))
    est = stats.level_difference(base, other, "positive", n_boot=4000)
    d = np.log(other) - np.log(base)
    se = math.sqrt(np.sum(d.var(axis=0, ddof=1) / d.shape[0])) / len(M)
    assert est.value == pytest.approx(d.mean(), abs=1e-12)
    assert (est.high - est.low) / 2 == pytest.approx(1.96 * se, rel=0.12)


def test_pairing_drops_a_seed_missing_in_either_variant():
    base = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    other = np.array([[2.0, 3.0], [np.nan, 9.0], [7.0, 8.0]])
    est = stats.level_difference(base, other, "log")
    assert est.value == pytest.approx(np.mean([(1 + 2) / 2, (1 + 2) / 2]))  # seed 1 pairs nowhere
    assert est.n_seeds == 2 and est.n_sizes == 2


def test_median_abs_log_ratio_against_direct_computation():
    rng = np.random.default_rng(10)
    base = power_law_curves(rng, -0.5, 6, 0.2)
    other = power_law_curves(rng, -0.5, 6, 0.2, c=6.0)  # 3× the base (c=2)
    expected = np.median(np.abs(np.log(other).mean(axis=0) - np.log(base).mean(axis=0)))
    est = stats.median_abs_log_ratio(base, other, "positive")
    assert est.value == pytest.approx(expected, abs=1e-12)
    assert est.low <= est.value <= est.high and est.low > math.log(
        1.5
    )  # ln 3 ≈ 1.10, clearly above ln 1.5


def test_pairing_needs_the_same_shape():
    with pytest.raises(ConfigurationError, match="same \\[seeds, sizes\\] shape"):
        stats.level_difference(np.ones((3, 5)), np.ones((4, 5)), "positive")


# --------------------------------------------------------------------------- Estimate and inputs


def test_estimate_resolution_and_plain_dict_round_trip():
    assert Estimate(0.5, 0.1, 0.9, 0.95, 5, 4).sign == 1
    assert Estimate(-0.5, -0.9, -0.1, 0.95, 5, 4).sign == -1
    straddles = Estimate(0.1, -0.2, 0.4, 0.95, 5, 4)
    assert not straddles.resolved and straddles.sign == 0
    est = Estimate(np.float64(0.5), math.nan, np.float64(0.7), 0.95, np.int64(1), 5)
    d = est.to_dict()
    assert d == {"value": 0.5, "low": None, "high": 0.7, "level": 0.95, "n_seeds": 1, "n_sizes": 5}
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


@pytest.mark.parametrize(
    ("option", "message"), [({"level": 95}, "level must be"), ({"n_boot": 0}, "n_boot")]
)
def test_bad_bootstrap_options(option, message):
    with pytest.raises(ConfigurationError, match=message):
        stats.trend(M, np.ones((2, 5)), "positive", **option)


def test_stats_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, pytest_fragility.auditing.stats, pytest_fragility.auditing.ranking; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
