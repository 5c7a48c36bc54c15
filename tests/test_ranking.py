"""Checks of pytest_fragility.auditing.ranking against brute force, hand computations and scipy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats

from pytest_fragility.auditing import ranking, stats
from pytest_fragility.errors import ConfigurationError

M = np.array([100.0, 200.0, 400.0, 800.0, 1600.0])



def brute_force_tau_a(x, y):
    n = len(x)
    total = sum(
        np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i in range(n) for j in range(n) if i != j
    )
    return total / (n * (n - 1))


def test_kendall_tau_a_equals_brute_force_with_ties():
    rng = np.random.default_rng(11)
    for _ in range(5):
        x = rng.integers(0, 4, 30).astype(float)
        y = rng.integers(0, 5, 30).astype(float)
        assert ranking.kendall_tau_a(x, y) == pytest.approx(brute_force_tau_a(x, y), abs=1e-12)


def test_kendall_tau_a_equals_scipy_tau_b_without_ties():
    rng = np.random.default_rng(12)
    for n in (10, 2_500):  # 2,500 points also exercises the blocked sum
        x, y = rng.normal(size=n), rng.normal(size=n) + 0.3 * np.arange(n) / n
        assert ranking.kendall_tau_a(x, y) == pytest.approx(
            scipy.stats.kendalltau(x, y)[0], abs=1e-10
        )


def test_kendall_tau_a_ties_count_zero():
    assert ranking.kendall_tau_a([3.0, 3.0, 3.0], [1.0, 2.0, 3.0]) == 0.0  # scipy's τ-b is NaN here
    assert ranking.kendall_tau_a([1.0, 2.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(
        2 / 3
    )  # τ-b would be 0.816
    assert (
        ranking.kendall_tau_a([1.0, np.nan, 3.0], [2.0, 1.0, 4.0]) == 1.0
    )  # the NaN point is dropped
    assert math.isnan(ranking.kendall_tau_a([1.0], [2.0]))


def test_trend_kendall_is_shape_free():
    values = np.tile(1.0 / np.log(M), (2, 1))  # decreasing, but not a power law
    assert stats.trend_kendall(M, values, "positive") == -1.0


def test_granulated_kendall_on_a_factorial_grid_by_hand():
    # (lr, width): measure, gap
    grid = {
        (0.1, 16): (1.0, 1.0),
        (0.1, 32): (3.0, 2.0),
        (0.1, 64): (3.0, 4.0),
        (0.01, 16): (2.0, 3.0),
        (0.01, 32): (2.5, 5.0),
        (0.01, 64): (1.0, 6.0),
    }
    (lr, width), (mu, gap) = (zip(*grid, strict=True), zip(*grid.values(), strict=True))
    result = ranking.granulated_kendall(mu, gap, {"lr": lr, "width": width})
    # width varies within lr=0.1: pairs +1, +1, tie 0 → 2·2/6; within lr=0.01: +1, −1, −1 → −2/6.
    assert result["psi"]["width"] == pytest.approx((2 / 3 - 1 / 3) / 2)
    # lr varies within each width: +1 (16), −1 (32), −1 (64).
    assert result["psi"]["lr"] == pytest.approx(-1 / 3)
    assert result["Psi"] == pytest.approx((1 / 6 - 1 / 3) / 2)
    assert result["groups"] == {"lr": 3, "width": 2} and result["skipped"] == {"lr": 0, "width": 0}


def test_granulated_kendall_skips_groups_of_one():
    mu, gap = [1.0, 2.0, 3.0], [1.0, 2.0, 0.0]
    result = ranking.granulated_kendall(mu, gap, {"lr": [0.1, 0.01, 0.1], "width": [16, 16, 32]})
    assert result["psi"] == {
        "lr": 1.0,
        "width": -1.0,
    }  # lr: group width=16 only; width: group lr=0.1 only
    assert result["skipped"] == {"lr": 1, "width": 1}


def test_granulated_kendall_with_no_usable_group_on_an_axis_is_nan():
    result = ranking.granulated_kendall(
        [1.0, 2.0], [1.0, 2.0], {"lr": [0.1, 0.01], "width": [16, 32]}
    )
    assert math.isnan(result["psi"]["lr"]) and math.isnan(result["Psi"])


def test_granulated_kendall_rejects_mismatched_factors():
    with pytest.raises(ConfigurationError, match="factor 'lr' has 2 values for 3 models"):
        ranking.granulated_kendall([1, 2, 3], [1, 2, 3], {"lr": [0.1, 0.2]})


# --------------------------------------------------------------------------- robust sign error


def test_hoeffding_weight_formula():
    delta, n = 0.03, 10_000
    by_hand = (1 - 2 * math.exp(-2 * n * (delta / 2) ** 2)) ** 2
    assert ranking.hoeffding_weight(delta, n) == pytest.approx(by_hand)
    assert ranking.hoeffding_weight(-delta, n) == pytest.approx(by_hand)
    assert ranking.hoeffding_weight(0.001, n) == 0.0  # 1 − 2·e^(−0.005) < 0 → clipped
    np.testing.assert_allclose(
        ranking.hoeffding_weight([0.0, 1.0], 100), [0.0, (1 - 2 * math.exp(-50)) ** 2]
    )


def coupled(name, c1, c2, g1, g2, n_test=10_000):
    return ranking.Environment(c1=c1, c2=c2, g1=g1, g2=g2, n_test=n_test, name=name)


def test_robust_sign_error_perfect_and_reversed_measures():
    rng = np.random.default_rng(13)
    g1 = rng.uniform(0.0, 0.1, 40)
    g2 = g1 + rng.choice([-1, 1], 40) * rng.uniform(0.05, 0.2, 40)  # clearly different gaps
    perfect = ranking.robust_sign_error([coupled("a", 10 * g1, 10 * g2, g1, g2)])
    reversed_ = ranking.robust_sign_error([coupled("a", -g1, -g2, g1, g2)])
    assert (perfect.mean, perfect.max, perfect.n_kept) == (0.0, 0.0, 1)
    assert (reversed_.mean, reversed_.max) == (1.0, 1.0)


def test_robust_sign_error_by_hand():
    big = 0.1  # weight (1 − 2e^(−25))² − ½ ≈ ½ for every sample: equal weights
    g1 = np.zeros(16)
    g2 = np.full(16, big)
    right = np.arange(16) < 12  # 12 ordered right, 4 wrong → loss 4/16
    env_quarter = coupled("quarter", np.zeros(16), np.where(right, 1.0, -1.0), g1, g2)
    tie = coupled("tie", np.zeros(20), np.zeros(20), np.zeros(20), np.full(20, big))  # ties → ½
    worst = coupled("worst", np.ones(12), np.zeros(12), np.zeros(12), np.full(12, big))
    small = coupled("small", np.ones(5), np.zeros(5), np.zeros(5), np.full(5, big))  # ESS 5 < 12
    noise = coupled("noise", np.ones(30), np.zeros(30), np.zeros(30), np.full(30, 0.001))  # Σw = 0
    result = ranking.robust_sign_error([env_quarter, tie, worst, small, noise])
    assert [e.loss for e in result.environments[:3]] == pytest.approx([0.25, 0.5, 1.0])
    assert [e.ess for e in result.environments[:4]] == pytest.approx([16, 20, 12, 5])
    assert [e.kept for e in result.environments] == [True, True, True, False, False]
    assert (result.n_kept, result.n_dropped) == (3, 2)
    assert result.mean == pytest.approx((0.25 + 0.5 + 1.0) / 3)
    assert result.p90 == pytest.approx(
        0.5 + 0.8 * 0.5
    )  # sorted [0.25, 0.5, 1]; position 0.9·2 = 1.8
    assert result.max == 1.0
    json.dumps(result.to_dict())


def test_robust_sign_error_weights_by_hand():
    # Two samples: a clear gap difference ordered right, a marginal one ordered wrong.
    g1, g2 = np.array([0.0, 0.0]), np.array([0.1, 0.03])
    w = [max(0.0, (1 - 2 * math.exp(-2 * 10_000 * (d / 2) ** 2)) ** 2 - 0.5) for d in (0.1, 0.03)]
    env = {"c1": [0.0, 1.0], "c2": [1.0, 0.0], "g1": g1, "g2": g2, "n_test": 10_000, "name": "hand"}
    result = ranking.robust_sign_error([env], min_ess=1)
    assert result.environments[0].loss == pytest.approx(w[1] / (w[0] + w[1]))
    assert result.environments[0].ess == pytest.approx(sum(w) ** 2 / sum(x * x for x in w))
    unfiltered = ranking.robust_sign_error([env], min_ess=1, noise_filter=False)
    assert unfiltered.environments[0].loss == 0.5 and unfiltered.environments[0].ess == 2.0


def test_robust_sign_error_ignores_missing_samples_and_reports_nothing_kept():
    g2 = np.full(14, 0.1)
    c2 = np.ones(14)
    c2[0] = np.nan
    result = ranking.robust_sign_error([coupled("a", np.zeros(14), c2, np.zeros(14), g2)])
    assert result.environments[0].ess == pytest.approx(13) and result.mean == 0.0
    empty = ranking.robust_sign_error(
        [coupled("a", np.zeros(3), np.ones(3), np.zeros(3), np.full(3, 0.1))]
    )
    assert empty.n_kept == 0 and math.isnan(empty.max) and empty.to_dict()["max"] is None


def test_environment_validates_its_arrays():
    with pytest.raises(ConfigurationError, match=r"environment 'e'.*one length"):
        coupled("e", [1.0, 2.0], [1.0], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ConfigurationError, match="n_test must be positive"):
        coupled("e", [1.0], [1.0], [0.0], [0.0], n_test=0)
