"""The calibration targets, on closed-form families, seeded: a small version of
benchmarks/bench_calibration.py (whose full tables are in docs/method.md).

Each rate is asserted with binomial slack: a bound that a rule meeting its target would
break in well under 1% of seeds of these replicates.
"""

from __future__ import annotations

import pytest

import pytest_fragility as pf
from pytest_fragility import calibration as cal
from pytest_fragility.testing import ClosedFormFamily, PowerLaw

PERTURBATIONS = [pf.perturb.lr(0.5), pf.perturb.lr(2), pf.perturb.optimizer("sgd-momentum"),
                 pf.perturb.optimizer("adam")]
LADDER = [pf.data.label_noise(0.2), pf.data.label_noise(0.4)]
FAMILY = ClosedFormFamily("calibration", noise=0.0,
                          errors={"label-noise=0.2": PowerLaw(2.2, -0.5), "label-noise=0.4": PowerLaw(2.5, -0.48)})
NULLS = {c.name: c for c in cal.null_constructs(-0.5)}
FRAGILE = {c.name.split(" @")[0]: c for c in cal.fragile_constructs("lr×0.5", [r.name for r in LADDER])}


def tally(construct: cal.Construct, budget: str, noise: float, replicates: int) -> cal.Tally:
    runs = FAMILY.runs(budget, [*PERTURBATIONS, *LADDER])
    return cal.run_construct(construct, FAMILY, budget, PERTURBATIONS, LADDER, runs, noise, replicates)


@pytest.mark.parametrize("budget, construct, noise", [
    ("smoke", "e·exp(w_seed·ln m+ε)", 0.5),  # the worst smoke case before the multiplicity correction (15%)
    ("smoke", "e·exp(ε)", 0.5),
    ("quick", "e·exp(u_seed+ε)", 0.5),
    ("quick", "e·exp(ε)", 0.2),
])
def test_family_wise_false_fragile_rate_is_at_most_five_percent(budget, construct, noise):
    result = tally(NULLS[construct], budget, noise, replicates=80)
    assert result.any_fragile <= 9  # P(≥ 10 of 80 | 5%) < 1%


@pytest.mark.parametrize("construct", ["trend flip", "Δβ = 0.5", "×2.25", "data-blind (identical rungs)"])
def test_quick_budget_finds_every_planted_fragility_with_80_percent_power(construct):
    result = tally(FRAGILE[construct], "quick", 0.2, replicates=30)
    assert result.target_fragile >= 19  # P(≤ 18 of 30 | 80%) < 1%
    assert result.target_stable == 0  # a planted fragility is never called stable at this noise


@pytest.mark.parametrize("construct", ["trend flip", "Δβ = 0.5", "×2.25"])
def test_a_planted_fragility_the_data_cannot_show_is_inconclusive_not_stable(construct):
    result = tally(FRAGILE[construct], "smoke", 0.5, replicates=30)
    assert result.target_fragile <= 5 and result.target_stable <= 1  # a dry run: mostly inconclusive


def test_intervals_cover_at_their_level_with_seed_offsets():
    result = tally(NULLS["e·exp(u_seed+ε)"], "quick", 0.2, replicates=150)
    covered = result.covered["base_trend"] / result.judged["base_trend"]
    assert 0.89 <= covered <= 0.995  # 95% ± about 2.6 binomial standard errors at 150


def test_test_error_itself_is_stable_at_quick_and_smoke_is_a_dry_run():
    assert tally(NULLS["e (exact)"], "quick", 0.0, replicates=1).overall == {"stable": 1}
    smoke = tally(NULLS["e·exp(ε)"], "smoke", 0.2, replicates=20)
    assert smoke.overall.get("inconclusive", 0) >= 18  # mostly inconclusive, not fragile
