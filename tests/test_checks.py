"""The check rules of `pytest_fragility.auditing.rules` on constructed curves with known answers.

Curves are built in closed form (power laws with seeded log-normal noise, or straight lines in
ln m for log-scale measures) so each verdict is known in advance; point estimates are
cross-checked against numpy least squares and medians computed here.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from pytest_fragility.auditing.curves import Curve, VariantRuns
from pytest_fragility.auditing.engine import audit, run_checks
from pytest_fragility.auditing.rules import ladder, perturbation
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.verdict import (
    ERROR,
    FRAGILE,
    INCONCLUSIVE,
    NOT_BENIGN,
    STABLE,
    CheckResult,
    overall,
)
from pytest_fragility.runs.runset import FailedRun, RunSet, TrainingCounts
from pytest_fragility.spec.tolerances import resolve_tolerances
from pytest_fragility.spec.variants import Variant
from pytest_fragility.testing import ClosedFormFamily, PowerLaw, error_draw, standard_normal

SIZES = np.array([100, 200, 400, 800, 1600])
SEEDS = [0, 1, 2, 3]
LN_M = np.log(SIZES)
BASE_ERROR = 2.0 * SIZES ** -0.5


def noisy(law: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """values[S, M]: the curve `law[M]` times independent log-normal seed noise."""
    rng = np.random.default_rng(seed)
    return law * np.exp(noise * rng.standard_normal((len(SEEDS), len(SIZES))))


def curve(variant: str, values: np.ndarray, error: np.ndarray | None = None, kind: str | None = None) -> Curve:
    """A curve whose test error is `error` (base error with small noise by default)."""
    if error is None:
        error = noisy(BASE_ERROR, 0.01, seed=zlib.crc32(variant.encode()))
    kind = kind or ("base" if variant == "base" else "perturbation")
    return Curve(variant, kind, SIZES, SEEDS, values, values, error, np.zeros_like(error), VariantRuns(values.size))


def context(*curves: Curve, scale: str = "positive", **tolerance: object) -> Context:
    return Context({c.variant: c for c in curves}, scale, resolve_tolerances(tolerance))  # type: ignore[arg-type]


def fitted_exponent(values: np.ndarray, scale: str = "positive") -> float:
    """Independent exponent: the mean over seeds of each seed's numpy least-squares slope
    (of ln μ for a positive measure) against ln m."""
    analysed = np.log(values) if scale == "positive" else values
    return float(np.mean([np.polyfit(LN_M, row, 1)[0] for row in analysed]))


def mean_log_ratio(base: np.ndarray, other: np.ndarray) -> float:
    """Independent value statistic: the mean over seeds of each seed's mean ln(other/base)."""
    return float(np.mean(np.log(other / base).mean(axis=1)))


# -- trend --------------------------------------------------------------------------------
def test_trend_flip_is_fragile_and_exponents_match_least_squares():
    base = noisy(3.0 * SIZES ** -0.5, 0.05, seed=1)
    flipped = noisy(0.1 * SIZES ** 0.4, 0.05, seed=2)
    result = perturbation.trend(context(curve("base", base), curve("p", flipped)), "p")
    assert result.verdict == FRAGILE
    assert "sign flipped" in result.reason
    assert result.measure_exponent.value == pytest.approx(fitted_exponent(flipped), abs=1e-9)
    assert result.base_measure_exponent.value == pytest.approx(fitted_exponent(base), abs=1e-9)
    assert result.measure_exponent.sign == 1 and result.base_measure_exponent.sign == -1


def test_trend_same_sign_is_stable():
    base = noisy(3.0 * SIZES ** -0.5, 0.05, seed=1)
    steeper = noisy(5.0 * SIZES ** -0.3, 0.05, seed=2)
    result = perturbation.trend(context(curve("base", base), curve("p", steeper)), "p")
    assert result.verdict == STABLE
    assert "same sign" in result.reason


@pytest.mark.parametrize("flat_side", ["base", "p"])
def test_trend_with_one_unresolved_side_is_inconclusive_and_says_what_would_resolve_it(flat_side):
    flat = noisy(np.ones(len(SIZES)), 0.2, seed=3)
    falling = noisy(3.0 * SIZES ** -0.5, 0.05, seed=4)
    base, other = (flat, falling) if flat_side == "base" else (falling, flat)
    result = perturbation.trend(context(curve("base", base), curve("p", other)), "p")
    flat_estimate = result.base_measure_exponent if flat_side == "base" else result.measure_exponent
    assert flat_estimate.low < 0 < flat_estimate.high
    assert result.verdict == INCONCLUSIVE
    assert f"sign not resolved for {flat_side}" in result.reason
    assert "seeds would resolve it" in result.reason and "this budget has 4" in result.reason


def test_trend_of_a_single_seed_has_no_interval_and_is_inconclusive():
    base = 3.0 * SIZES[None, :] ** -0.5
    other = 5.0 * SIZES[None, :] ** 0.5
    runs = VariantRuns(len(SIZES))
    ctx = Context({"base": Curve("base", "base", SIZES, [0], base, base, base, base, runs),
                   "p": Curve("p", "perturbation", SIZES, [0], other, other, base, base, runs)},
                  "positive", resolve_tolerances(None))
    result = perturbation.trend(ctx, "p")
    assert result.verdict == INCONCLUSIVE
    assert "1 seed(s) with data, an interval needs 2" in result.reason


def test_trend_reports_the_shape_free_kendall_tau_against_m():
    m = np.array([100, 200, 400, 800])
    seeds = [0, 1]
    falling = np.array([[4.0, 3.0, 2.0, 1.0], [4.1, 3.1, 2.1, 1.1]])
    rising = falling[:, ::-1].copy()
    errors = np.array([[0.4, 0.3, 0.2, 0.1], [0.41, 0.31, 0.21, 0.11]])
    runs = VariantRuns(8)
    curves = {"base": Curve("base", "base", m, seeds, falling, falling, errors, errors * 0, runs),
              "p": Curve("p", "perturbation", m, seeds, rising, rising, errors, errors * 0, runs)}
    result = perturbation.trend(Context(curves, "positive", resolve_tolerances(None)), "p")
    assert result.details["kendall_tau_vs_m"] == {"base": -1.0, "p": 1.0}


# -- scaling ------------------------------------------------------------------------------
BASE_MEASURE = noisy(3.0 * SIZES ** -0.5, 0.05, seed=10)


@pytest.mark.parametrize("shift", [0.6, -0.6])
def test_scaling_shift_beyond_tolerance_is_fragile(shift):
    other = noisy(3.0 * SIZES ** (-0.5 + shift), 0.05, seed=11)
    result = perturbation.scaling(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == FRAGILE
    assert result.tolerance == 0.25
    expected = fitted_exponent(other) - fitted_exponent(BASE_MEASURE)
    assert result.difference.value == pytest.approx(expected, abs=1e-9)
    assert result.difference.beyond(0.25)


def test_scaling_shift_within_tolerance_is_stable():
    other = noisy(4.0 * SIZES ** -0.48, 0.05, seed=11)
    result = perturbation.scaling(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == STABLE
    assert -0.25 <= result.difference.low <= result.difference.high <= 0.25


def test_scaling_interval_straddling_the_tolerance_is_inconclusive_and_counts_the_seeds_needed():
    other = noisy(3.0 * SIZES ** -0.25, 0.05, seed=11)
    at_estimate = fitted_exponent(other) - fitted_exponent(BASE_MEASURE) + 0.01
    result = perturbation.scaling(context(curve("base", BASE_MEASURE), curve("p", other), exponent=at_estimate), "p")
    assert result.verdict == INCONCLUSIVE
    assert "straddles" in result.reason and "seeds would decide it" in result.reason
    assert result.difference.low < at_estimate < result.difference.high


def test_scaling_exponent_relative_uses_the_base_test_error_exponent():
    other = noisy(3.0 * SIZES ** -0.35, 0.03, seed=12)
    error = noisy(BASE_ERROR, 0.01, seed=13)
    pair = (curve("base", BASE_MEASURE, error), curve("p", other, error))
    absolute = perturbation.scaling(context(*pair), "p")
    relative = perturbation.scaling(context(*pair, exponent_relative=0.1), "p")
    assert absolute.verdict == STABLE  # Δβ ≈ 0.15 within ±0.25
    assert relative.tolerance == pytest.approx(0.1 * abs(fitted_exponent(error)), abs=1e-9)
    assert relative.verdict == FRAGILE  # but beyond ±0.1·|β_e| ≈ ±0.05


# -- value --------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_value_ratio_beyond_threshold_either_way_is_fragile(factor):
    other = noisy(factor * 3.0 * SIZES ** -0.5, 0.05, seed=20)
    result = perturbation.value(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == FRAGILE
    assert result.tolerance == pytest.approx(math.log(1.5))
    assert result.difference.value == pytest.approx(mean_log_ratio(BASE_MEASURE, other), abs=1e-9)
    assert result.difference.value == pytest.approx(math.log(factor), abs=0.1)
    assert f"×{factor:g}" in result.reason.replace("×2.0", "×2") or "mean ratio ×" in result.reason


@pytest.mark.parametrize("factor", [1.1, 1 / 1.1])
def test_value_ratio_within_threshold_is_stable(factor):
    other = noisy(factor * 3.0 * SIZES ** -0.5, 0.05, seed=21)
    result = perturbation.value(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == STABLE
    assert result.difference.within(math.log(1.5))


def test_value_ratio_straddling_the_threshold_is_inconclusive():
    other = noisy(1.5 * 3.0 * SIZES ** -0.5, 0.05, seed=22)
    at_estimate = math.exp(mean_log_ratio(BASE_MEASURE, other) + 0.01)
    result = perturbation.value(context(curve("base", BASE_MEASURE), curve("p", other), value_ratio=at_estimate), "p")
    assert result.verdict == INCONCLUSIVE
    assert "straddles" in result.reason


def test_value_statistic_is_signed_so_no_change_is_not_pushed_towards_fragile():
    """The first version's median |log-ratio| had an upward bias near a true ratio of 1; the
    signed per-seed mean sits symmetrically around it and noise never makes it fragile."""
    rng = np.random.default_rng(23)
    estimates = []
    for _ in range(300):
        base = 3.0 * SIZES ** -0.5 * np.exp(0.5 * rng.standard_normal((2, len(SIZES))))
        other = 3.0 * SIZES ** -0.5 * np.exp(0.5 * rng.standard_normal((2, len(SIZES))))
        ctx = Context({"base": Curve("base", "base", SIZES, [0, 1], base, base, base, base, VariantRuns(10)),
                       "p": Curve("p", "perturbation", SIZES, [0, 1], other, other, base, base, VariantRuns(10))},
                      "positive", resolve_tolerances(None))
        estimates.append(perturbation.value(ctx, "p"))
    assert sum(r.verdict == FRAGILE for r in estimates) <= 6  # at most ~2.5% + slack at 2 seeds
    assert abs(np.mean([r.difference.value for r in estimates])) < 0.05


# -- log-scale measures -------------------------------------------------------------------
def log_line(intercept: float, slope: float, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return intercept + slope * LN_M + noise * rng.standard_normal((len(SEEDS), len(SIZES)))


def test_log_scale_trends_are_slopes_of_the_value_against_ln_m():
    base = log_line(3.0, -0.5, 0.02, seed=30)    # crosses zero between m = 400 and 800
    other = log_line(-2.0, 0.3, 0.02, seed=31)   # also both signs, rising
    assert (base > 0).any() and (base < 0).any() and (other > 0).any() and (other < 0).any()
    ctx = context(curve("base", base), curve("p", other), scale="log")
    result = perturbation.trend(ctx, "p")
    assert result.base_measure_exponent.value == pytest.approx(fitted_exponent(base, "log"), abs=1e-9)
    assert result.measure_exponent.value == pytest.approx(fitted_exponent(other, "log"), abs=1e-9)
    assert result.base_measure_exponent.value == pytest.approx(-0.5, abs=0.03)
    assert result.verdict == FRAGILE
    scaling = perturbation.scaling(ctx, "p")
    assert scaling.difference.value == pytest.approx(0.8, abs=0.05)
    assert scaling.verdict == FRAGILE


def test_log_scale_value_check_compares_differences_with_ln_ratio():
    base = log_line(3.0, -0.5, 0.02, seed=30)
    far = base + 1.0 + 0.01 * np.random.default_rng(32).standard_normal(base.shape)    # Δ = 1 > ln 1.5
    near = base + 0.1 + 0.01 * np.random.default_rng(33).standard_normal(base.shape)   # Δ = 0.1 < ln 1.5
    ctx = context(curve("base", base), curve("far", far), curve("near", near), scale="log")
    far_result, near_result = perturbation.value(ctx, "far"), perturbation.value(ctx, "near")
    assert far_result.difference.value == pytest.approx(1.0, abs=0.01)
    assert far_result.verdict == FRAGILE and "mean difference" in far_result.reason
    assert near_result.verdict == STABLE


# -- benign gate ----------------------------------------------------------------------------
@pytest.mark.parametrize("error_law, noise, verdict", [
    (2.0 * SIZES ** -0.7, 0.01, NOT_BENIGN),        # exponent moved by 0.2 > 0.1, shown
    (2.8 * SIZES ** -0.5, 0.01, NOT_BENIGN),        # level ×1.4 > ×1.25, shown
    (2.0 * 400 ** 0.05 * SIZES ** -0.55, 0.01, STABLE),  # moved 0.05, same level at m = 400: shown within
    (2.2 * SIZES ** -0.5, 0.01, STABLE),            # ×1.1, shown within
    (2.2 * SIZES ** -0.5, 0.4, INCONCLUSIVE),       # ×1.1, but too noisy to show it
])
def test_benign_gate_needs_the_interval_to_show_it(error_law, noise, verdict):
    base_error = noisy(BASE_ERROR, noise, seed=40)
    other_error = noisy(error_law, noise, seed=41)
    ctx = context(curve("base", BASE_MEASURE, base_error), curve("p", BASE_MEASURE, other_error))
    result = perturbation.benign(ctx, "p")
    assert result.verdict == verdict
    shift = fitted_exponent(other_error) - fitted_exponent(base_error)
    assert result.difference.value == pytest.approx(shift, abs=1e-9)
    assert result.details["error_level"]["value"] == pytest.approx(mean_log_ratio(base_error, other_error), abs=1e-9)
    if verdict == INCONCLUSIVE:
        assert "benignness not resolved" in result.reason and "seeds would decide it" in result.reason


def test_rows_of_a_not_benign_perturbation_are_not_benign_with_their_numbers():
    flipped = noisy(0.1 * SIZES ** 0.5, 0.05, seed=50)
    moved_error = noisy(2.0 * SIZES ** -0.8, 0.01, seed=51)
    ctx = context(curve("base", BASE_MEASURE), curve("p", flipped, moved_error))
    results = run_checks(ctx, ("benign", "trend", "scaling", "value"), ["p"], [], None)
    assert [(r.check, r.verdict) for r in results] == [
        ("benign", NOT_BENIGN), ("trend", NOT_BENIGN), ("scaling", NOT_BENIGN), ("value", NOT_BENIGN)]
    assert overall(results) == INCONCLUSIVE
    assert "sign flipped" in results[1].reason and results[2].difference is not None
    # The same measure judged without the gate would be fragile on every count.
    assert {perturbation.trend(ctx, "p").verdict, perturbation.scaling(ctx, "p").verdict,
            perturbation.value(ctx, "p").verdict} == {FRAGILE}


def test_rows_of_a_perturbation_whose_benignness_is_unresolved_are_inconclusive():
    flipped = noisy(0.1 * SIZES ** 0.5, 0.05, seed=50)
    ctx = context(curve("base", BASE_MEASURE, noisy(BASE_ERROR, 0.4, seed=52)),
                  curve("p", flipped, noisy(BASE_ERROR, 0.4, seed=53)))
    results = run_checks(ctx, ("benign", "trend", "scaling"), ["p"], [], None)
    assert [r.verdict for r in results] == [INCONCLUSIVE] * 3
    assert all("benignness not resolved" in r.reason for r in results)
    assert overall(results) == INCONCLUSIVE  # never fragile: the perturbation may not be benign


def test_audit_gate_on_toy_family_and_its_tolerance():
    # Test error's exponent moves by 0.25 (level equal at m = 400): benign only if the
    # exponent tolerance is loosened.
    family = ClosedFormFamily("toy", errors={"lr×2": PowerLaw(2.0 * 400 ** 0.25, -0.75)})
    doubled = Variant("lr×2", "perturbation")

    def flips(run):
        return run.m ** (0.5 if run.variant == "lr×2" else -0.5) * math.exp(0.05 * error_draw(run))

    gated = audit(flips, family, [doubled], progress=False)
    assert {r.check: r.verdict for r in gated.checks} == {
        "benign": NOT_BENIGN, "trend": NOT_BENIGN, "scaling": NOT_BENIGN, "value": NOT_BENIGN}
    assert gated.verdict == INCONCLUSIVE
    assert "not benign" in gated.checks[0].reason
    loose = audit(flips, family, [doubled], tolerance={"benign_exponent": 0.5}, progress=False)
    assert loose.verdict == FRAGILE
    assert {r.check: r.verdict for r in loose.checks}["trend"] == FRAGILE


# -- data ladder ----------------------------------------------------------------------------
LADDER = ClosedFormFamily("ladder", errors={"noise=0.1": PowerLaw(3.0, -0.5), "noise=0.3": PowerLaw(4.5, -0.45)})
RUNGS = [Variant("noise=0.1", "rung"), Variant("noise=0.3", "rung")]


def data_row(result):
    (check,) = [r for r in result.checks if r.check == "data"]
    return check


def test_data_ladder_measure_that_follows_test_error_is_stable():
    result = audit(lambda run: 3 * run.test_error, LADDER, data=RUNGS, progress=False)
    check = data_row(result)
    assert check.verdict == STABLE
    assert check.details["kendall_tau"] == pytest.approx(1.0)
    assert check.details["rungs"] == ["base", "noise=0.1", "noise=0.3"]
    assert [p["outcome"] for p in check.details["pairs"]] == ["follows"] * 3
    assert "all 3 difference(s)" in check.reason
    assert result.verdict == STABLE


def test_data_blind_measure_does_not_separate_the_ladder():
    def blind(run):  # a function of (m, seed) only: the same curve for every rung
        return run.m ** -0.5 * (1 + 0.05 * (run.seed % 3))

    check = data_row(audit(blind, LADDER, data=RUNGS, progress=False))
    assert check.verdict == FRAGILE
    assert check.details["kendall_tau"] == 0.0
    assert check.reason.count("does not separate") == 3


def test_reversed_measure_reverses_the_ladder():
    check = data_row(audit(lambda run: 1 / run.test_error, LADDER, data=RUNGS, progress=False))
    assert check.verdict == FRAGILE
    assert check.details["kendall_tau"] == pytest.approx(-1.0)
    assert "reverses" in check.reason and "does not separate" not in check.reason


def test_a_noisy_measure_that_does_not_resolve_the_rungs_is_inconclusive_not_fragile():
    """Absence of evidence: the measure follows test error in truth, with noise that hides it."""
    def noisy_tracking(run):
        return run.test_error * math.exp(1.5 * standard_normal("noise", run.variant, run.m, run.seed))

    check = data_row(audit(noisy_tracking, LADDER, data=RUNGS, progress=False))
    assert check.verdict == INCONCLUSIVE
    assert "unresolved" in check.reason and "seeds would resolve it" in check.reason


def test_a_measure_whose_interval_sits_inside_the_band_does_not_separate_the_pair():
    # base and the first rung: test error ×1.5 apart; the measure moves 1% with tiny noise.
    levels = {"base": 0.0, "r1": 0.01, "r2": 1.0}
    error_levels = {"base": 1.0, "r1": 1.5, "r2": 2.25}
    rungs = [curve(name, np.exp(levels[name]) * noisy(np.ones(len(SIZES)), 0.001, seed=70 + i),
                   noisy(error_levels[name] * BASE_ERROR, 0.01, seed=60 + i), kind="base" if i == 0 else "rung")
             for i, name in enumerate(levels)]
    result = ladder.data(context(*rungs), ["r1", "r2"])
    assert result.verdict == FRAGILE
    outcomes = {tuple(p["pair"]): p["outcome"] for p in result.details["pairs"]}
    assert outcomes == {("base", "r1"): "does not separate", ("base", "r2"): "follows",
                        ("r1", "r2"): "follows"}
    (pair,) = [p for p in result.details["pairs"] if p["pair"] == ["base", "r1"]]
    error_level = pair["error_level"]
    assert pair["band"] == pytest.approx(0.25 * error_level["low"], rel=1e-9)


SEED_SHIFTS = np.array([1.0, 1.6, 0.4, 1.0])  # mean 1, t = 4.1 over 4 seeds: beyond 3.18, short of 4.86


@pytest.mark.parametrize("sign, outcome, verdict", [(+1, "follows", STABLE), (-1, "unresolved", INCONCLUSIVE)])
def test_a_pair_follows_at_the_row_level_and_reverses_only_at_the_corrected_level(sign, outcome, verdict):
    """Stable needs every pair to follow (intersection-union: level α as it is); fragile needs
    any pair to fail, so a reversal must hold at 1 − α/3. A shift whose t over 4 seeds is 4.1
    resolves at the row's 95% (t ≤ 3.18) but not at 1 − 0.05/3 (t ≤ 4.86)."""
    law = 3.0 * SIZES ** -0.5 * np.ones((len(SEEDS), 1))
    shifts = {"base": 0.0 * SEED_SHIFTS, "r1": sign * SEED_SHIFTS, "r2": 2.5 + 0.1 * SEED_SHIFTS}
    error_levels = {"base": 1.0, "r1": 1.5, "r2": 2.25}
    rungs = [curve(name, law * np.exp(shifts[name])[:, None],
                   noisy(error_levels[name] * BASE_ERROR, 0.01, seed=80 + i), kind="base" if i == 0 else "rung")
             for i, name in enumerate(shifts)]
    result = ladder.data(context(*rungs), ["r1", "r2"])
    (pair,) = [p for p in result.details["pairs"] if p["pair"] == ["base", "r1"]]
    assert pair["outcome"] == outcome
    assert pair["measure_level"]["level"] == 0.95
    assert pair["measure_level_corrected"]["level"] == pytest.approx(1 - 0.05 / 3)
    assert result.details["pair_level"] == pytest.approx(1 - 0.05 / 3)
    assert result.verdict == verdict


def test_ladder_that_test_error_does_not_separate_is_inconclusive():
    flat_ladder = ClosedFormFamily("flat-ladder")  # every rung has the base error law
    check = data_row(audit(lambda run: run.test_error, flat_ladder, data=RUNGS, progress=False))
    assert check.verdict == INCONCLUSIVE
    assert "nothing to judge" in check.reason


# -- missing data is never silence ---------------------------------------------------------
class Losing:
    """A closed-form family whose runs of one variant are partly lost to training."""

    def __init__(self, family: ClosedFormFamily, variant: str, lost: int, how: str) -> None:
        self.family, self.variant, self.lost, self.how, self.name = family, variant, lost, how, family.name

    def runs(self, budget="quick", variants=(), **options):
        runs = self.family.runs(budget, variants, **options)
        mine = [r for r in runs if r.variant == self.variant][: self.lost]
        if self.how == "non-converged":
            for run in mine:
                run.converged = False
            return runs
        kept = RunSet([r for r in runs if r not in mine], TrainingCounts())
        kept.training.failed = [FailedRun(r.variant, r.m, r.seed, "RuntimeError: out of memory") for r in mine]
        return kept


@pytest.mark.parametrize("how", ["failed", "non-converged"])
def test_a_perturbation_without_usable_data_gets_explicit_inconclusive_rows(how):
    family = Losing(ClosedFormFamily("losing"), "lr×2", lost=30, how=how)
    result = audit(lambda run: run.m ** 0.5 if run.variant == "lr×2" else run.m ** -0.5, family,
                   [Variant("lr×2", "perturbation")], progress=False)
    assert [(r.check, r.verdict) for r in result.checks] == [
        ("benign", INCONCLUSIVE), ("trend", INCONCLUSIVE), ("scaling", INCONCLUSIVE), ("value", INCONCLUSIVE)]
    assert all("30 of 30 runs lost to training" in r.reason for r in result.checks)
    assert result.verdict == INCONCLUSIVE
    assert result.curves["lr×2"].runs.lost == 30


def test_a_variant_losing_more_than_the_threshold_is_not_judged():
    family = Losing(ClosedFormFamily("losing-some"), "lr×2", lost=9, how="non-converged")
    flips = audit(lambda run: run.m ** 0.5 if run.variant == "lr×2" else run.m ** -0.5, family,
                  [Variant("lr×2", "perturbation")], progress=False)
    assert flips.verdict == INCONCLUSIVE and "9 of 30 runs lost" in flips.checks[0].reason
    lenient = audit(lambda run: run.m ** 0.5 if run.variant == "lr×2" else run.m ** -0.5, family,
                    [Variant("lr×2", "perturbation")], tolerance={"max_non_converged": 0.5}, progress=False)
    assert lenient.verdict == FRAGILE


def test_a_rung_without_data_keeps_the_ladder_from_being_stable():
    family = Losing(LADDER, "noise=0.3", lost=30, how="failed")
    check = data_row(audit(lambda run: 3 * run.test_error, family, data=RUNGS, progress=False))
    assert check.verdict == INCONCLUSIVE
    assert "not judged: noise=0.3" in check.reason


# -- tracking -------------------------------------------------------------------------------
TRACK = ClosedFormFamily("track", noise=0.05)


def power(exponent: float):
    def measure(run):
        return run.m ** exponent * math.exp(0.05 * error_draw(run))
    return measure


@pytest.mark.parametrize("exponent, expect, verdict", [
    (-0.3, "decreasing", STABLE),
    (-0.3, "increasing", FRAGILE),
    (0.3, "increasing", STABLE),
    (0.3, "decreasing", FRAGILE),
    (0.3, None, FRAGILE),     # no expectation: must follow test error, which falls
    (-0.3, None, STABLE),
])
def test_tracking_compares_the_trend_sign_with_the_expectation(exponent, expect, verdict):
    chosen = ("tracking",) if expect is None else ()
    result = audit(power(exponent), TRACK, checks=chosen, expect=expect, progress=False)
    (check,) = [r for r in result.checks if r.check == "tracking"]
    assert check.verdict == verdict
    assert check.measure_exponent.value == pytest.approx(exponent, abs=0.03)
    assert result.verdict == verdict


def test_tracking_is_inconclusive_when_the_measure_trend_is_unresolved():
    def flat(run):
        return 1.0 + 0.1 * run.seed
    result = audit(flat, TRACK, checks=(), expect="decreasing", progress=False)
    (check,) = [r for r in result.checks if r.check == "tracking"]
    assert check.verdict == INCONCLUSIVE
    assert "unresolved" in check.reason


def test_audit_infers_log_scale_for_values_of_both_signs():
    def signed(run):
        return 3.0 - 0.5 * math.log(run.m) + 0.02 * error_draw(run)
    result = audit(signed, TRACK, checks=(), expect="decreasing", progress=False)
    assert result.scale == "log"
    (check,) = [r for r in result.checks if r.check == "tracking"]
    assert check.measure_exponent.value == pytest.approx(-0.5, abs=0.02)
    assert check.verdict == STABLE


# -- overall --------------------------------------------------------------------------------
def rows(*verdicts: str, check: str = "trend") -> list[CheckResult]:
    return [CheckResult(check, f"v{i}", v, "") for i, v in enumerate(verdicts)]


@pytest.mark.parametrize("verdicts, expected", [
    ((STABLE, INCONCLUSIVE, ERROR, FRAGILE), FRAGILE),
    ((STABLE, INCONCLUSIVE, ERROR), ERROR),
    ((STABLE, INCONCLUSIVE, NOT_BENIGN), INCONCLUSIVE),
    ((STABLE, NOT_BENIGN), STABLE),
    ((STABLE,), STABLE),
    ((NOT_BENIGN, NOT_BENIGN), INCONCLUSIVE),
    ((), INCONCLUSIVE),
])
def test_overall_precedence(verdicts, expected):
    assert overall(rows(*verdicts)) == expected


def test_overall_ignores_benign_rows():
    gate_rows = rows(NOT_BENIGN, STABLE, check="benign")
    assert overall(gate_rows + rows(STABLE)) == STABLE
    assert overall(gate_rows) == INCONCLUSIVE
