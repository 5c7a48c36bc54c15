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

from pytest_fragility.auditing.curves import Curve
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
from pytest_fragility.spec.tolerances import resolve_tolerances
from pytest_fragility.spec.variants import Variant
from pytest_fragility.testing import ClosedFormFamily, PowerLaw, error_draw

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
    return Curve(variant, kind, SIZES, SEEDS, values, values, error, np.zeros_like(error))


def context(*curves: Curve, scale: str = "positive", **tolerance: object) -> Context:
    return Context({c.variant: c for c in curves}, scale, resolve_tolerances(tolerance), seed=0)  # type: ignore[arg-type]


def fitted_exponent(values: np.ndarray, scale: str = "positive") -> float:
    """Independent exponent: numpy least squares of the seed-mean (of ln μ for linear) vs ln m."""
    analysed = np.log(values) if scale == "positive" else values
    return float(np.polyfit(LN_M, analysed.mean(axis=0), 1)[0])


def median_abs_log_ratio(base: np.ndarray, other: np.ndarray) -> float:
    return float(np.median(np.abs(np.log(other).mean(axis=0) - np.log(base).mean(axis=0))))


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
def test_trend_with_one_unresolved_side_is_inconclusive(flat_side):
    # Seed offsets that are the same at every m: the seed-mean is exactly flat (slope 0) while
    # the seeds still spread, so the bootstrap interval straddles 0.
    offsets = np.exp(0.1 * np.random.default_rng(3).standard_normal(len(SEEDS)))
    flat = np.repeat(offsets[:, None], len(SIZES), axis=1)
    falling = noisy(3.0 * SIZES ** -0.5, 0.05, seed=4)
    base, other = (flat, falling) if flat_side == "base" else (falling, flat)
    result = perturbation.trend(context(curve("base", base), curve("p", other)), "p")
    assert result.verdict == INCONCLUSIVE
    assert "unresolved" in result.reason and flat_side in result.reason
    flat_estimate = result.base_measure_exponent if flat_side == "base" else result.measure_exponent
    assert flat_estimate.value == pytest.approx(0.0, abs=1e-12)
    assert flat_estimate.low < 0 < flat_estimate.high


def test_trend_of_a_single_seed_has_no_interval_and_is_inconclusive():
    base = 3.0 * SIZES[None, :] ** -0.5
    other = 5.0 * SIZES[None, :] ** 0.5
    ctx = Context({"base": Curve("base", "base", SIZES, [0], base, base, base, base),
                   "p": Curve("p", "perturbation", SIZES, [0], other, other, base, base)},
                  "positive", resolve_tolerances(None))
    result = perturbation.trend(ctx, "p")
    assert result.verdict == INCONCLUSIVE
    assert "1 seed" in result.reason


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
    assert abs(result.difference.low) > 0.25 and abs(result.difference.high) > 0.25


def test_scaling_shift_within_tolerance_is_stable():
    other = noisy(4.0 * SIZES ** -0.48, 0.05, seed=11)
    result = perturbation.scaling(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == STABLE
    assert -0.25 <= result.difference.low <= result.difference.high <= 0.25


def test_scaling_interval_straddling_the_tolerance_is_inconclusive():
    other = noisy(3.0 * SIZES ** -0.25, 0.05, seed=11)
    # The tolerance is set at the point estimate, computed independently: the interval around
    # the estimate must then contain the tolerance.
    at_estimate = fitted_exponent(other) - fitted_exponent(BASE_MEASURE)
    result = perturbation.scaling(context(curve("base", BASE_MEASURE), curve("p", other), exponent=at_estimate), "p")
    assert result.verdict == INCONCLUSIVE
    assert "straddles" in result.reason
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
def test_value_ratio_beyond_threshold_is_fragile():
    other = noisy(2 * 3.0 * SIZES ** -0.5, 0.05, seed=20)
    result = perturbation.value(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == FRAGILE
    assert result.tolerance == pytest.approx(math.log(1.5))
    assert result.difference.value == pytest.approx(median_abs_log_ratio(BASE_MEASURE, other), abs=1e-9)
    assert result.difference.value == pytest.approx(math.log(2), abs=0.1)


@pytest.mark.parametrize("factor", [1.1, 1 / 1.1])
def test_value_ratio_within_threshold_is_stable(factor):
    other = noisy(factor * 3.0 * SIZES ** -0.5, 0.05, seed=21)
    result = perturbation.value(context(curve("base", BASE_MEASURE), curve("p", other)), "p")
    assert result.verdict == STABLE
    assert result.difference.high <= math.log(1.5)


def test_value_ratio_straddling_the_threshold_is_inconclusive():
    other = noisy(1.5 * 3.0 * SIZES ** -0.5, 0.05, seed=22)
    at_estimate = math.exp(median_abs_log_ratio(BASE_MEASURE, other))
    result = perturbation.value(context(curve("base", BASE_MEASURE), curve("p", other), value_ratio=at_estimate), "p")
    assert result.verdict == INCONCLUSIVE
    assert "straddles" in result.reason


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
    far = base + 1.0    # |Δ| = 1 > ln 1.5
    near = base + 0.1   # |Δ| = 0.1 < ln 1.5
    ctx = context(curve("base", base), curve("far", far), curve("near", near), scale="log")
    far_result, near_result = perturbation.value(ctx, "far"), perturbation.value(ctx, "near")
    assert far_result.difference.value == pytest.approx(1.0, abs=1e-9)
    assert far_result.verdict == FRAGILE
    assert near_result.verdict == STABLE


# -- benign gate ----------------------------------------------------------------------------
@pytest.mark.parametrize("error_law, verdict", [
    (2.0 * SIZES ** -0.7, NOT_BENIGN),      # exponent moved by 0.2 > 0.1
    (2.8 * SIZES ** -0.5, NOT_BENIGN),      # level ×1.4 > ×1.25
    (2.0 * 400 ** 0.05 * SIZES ** -0.55, STABLE),  # moved 0.05, same level at m = 400
    (2.2 * SIZES ** -0.5, STABLE),          # ×1.1
])
def test_benign_gate_on_test_error_exponent_and_level(error_law, verdict):
    base_error = noisy(BASE_ERROR, 0.01, seed=40)
    other_error = noisy(error_law, 0.01, seed=41)
    ctx = context(curve("base", BASE_MEASURE, base_error), curve("p", BASE_MEASURE, other_error))
    result = perturbation.benign(ctx, "p")
    assert result.verdict == verdict
    shift = fitted_exponent(other_error) - fitted_exponent(base_error)
    assert result.difference.value == pytest.approx(shift, abs=1e-9)
    assert result.details["error_level_ratio"] == pytest.approx(
        math.exp(median_abs_log_ratio(base_error, other_error)), rel=1e-9)


def test_checks_of_a_not_benign_perturbation_report_not_benign():
    flipped = noisy(0.1 * SIZES ** 0.5, 0.05, seed=50)
    moved_error = noisy(2.0 * SIZES ** -0.8, 0.01, seed=51)
    ctx = context(curve("base", BASE_MEASURE), curve("p", flipped, moved_error))
    results = run_checks(ctx, ("benign", "trend", "scaling", "value"), ["p"], [], None)
    assert [(r.check, r.verdict) for r in results] == [
        ("benign", NOT_BENIGN), ("trend", NOT_BENIGN),
        ("scaling", NOT_BENIGN), ("value", NOT_BENIGN)]
    assert overall(results) == INCONCLUSIVE
    # The same measure judged without the gate would be fragile on every count.
    assert {perturbation.trend(ctx, "p").verdict, perturbation.scaling(ctx, "p").verdict,
            perturbation.value(ctx, "p").verdict} == {FRAGILE}


def test_audit_gate_on_toy_family_and_its_tolerance():
    # Test error's exponent moves by 0.25 (level equal at m = 400): benign only if the
    # exponent tolerance is loosened.
    family = ClosedFormFamily("toy", errors={"lr×2": PowerLaw(2.0 * 400 ** 0.25, -0.75)})
    doubled = Variant("lr×2", "perturbation")

    def flips(run):
        return run.m ** (0.5 if run.variant == "lr×2" else -0.5) * math.exp(0.05 * error_draw(run))

    gated = audit(flips, family, [doubled], progress=False)
    assert {r.check: r.verdict for r in gated.checks} == {
        "benign": NOT_BENIGN, "trend": NOT_BENIGN,
        "scaling": NOT_BENIGN, "value": NOT_BENIGN}
    assert gated.verdict == INCONCLUSIVE
    assert "not benign" in gated.checks[0].reason
    loose = audit(flips, family, [doubled], tolerance={"benign_exponent": 0.5}, progress=False)
    assert loose.verdict == FRAGILE
    assert {r.check: r.verdict for r in loose.checks}["trend"] == FRAGILE


# -- data ladder ----------------------------------------------------------------------------
LADDER = ClosedFormFamily("ladder", errors={"noise=0.1": PowerLaw(3.0, -0.5), "noise=0.3": PowerLaw(4.5, -0.45)})
RUNGS = [Variant("noise=0.1", "rung"), Variant("noise=0.3", "rung")]


def test_data_ladder_measure_that_follows_test_error_is_stable():
    result = audit(lambda run: 3 * run.test_error, LADDER, data=RUNGS, progress=False)
    (check,) = [r for r in result.checks if r.check == "data"]
    assert check.verdict == STABLE
    assert check.details["kendall_tau"] == pytest.approx(1.0)
    assert check.details["rungs"] == ["base", "noise=0.1", "noise=0.3"]
    assert "all 3 difference(s)" in check.reason
    assert result.verdict == STABLE


def test_data_blind_measure_misses_the_ladder():
    def blind(run):  # a function of (m, seed) only: the same curve for every rung
        return run.m ** -0.5 * (1 + 0.05 * (run.seed % 3))

    result = audit(blind, LADDER, data=RUNGS, progress=False)
    (check,) = [r for r in result.checks if r.check == "data"]
    assert check.verdict == FRAGILE
    assert check.details["kendall_tau"] == 0.0
    assert check.reason.count("misses") == 3
    assert result.verdict == FRAGILE


def test_reversed_measure_reverses_the_ladder():
    result = audit(lambda run: 1 / run.test_error, LADDER, data=RUNGS, progress=False)
    (check,) = [r for r in result.checks if r.check == "data"]
    assert check.verdict == FRAGILE
    assert check.details["kendall_tau"] == pytest.approx(-1.0)
    assert "reverses" in check.reason and "misses" not in check.reason


def test_ranking_the_rungs_right_is_not_enough_without_resolving_their_differences():
    # The measure's seed-means are ordered exactly as test error (τ = 1 at every m), but base and
    # the first rung differ by 1% against ±30% seed noise: a difference test error resolves and
    # the measure does not.
    signs = {"base": np.array([1, -1, 1, -1]), "r1": np.array([1, 1, -1, -1]), "r2": np.array([1, -1, -1, 1])}
    levels = {"base": 0.0, "r1": 0.01, "r2": 1.0}
    error_levels = {"base": 1.0, "r1": 1.5, "r2": 2.25}

    def measure_values(name: str) -> np.ndarray:
        return np.exp(levels[name] + 0.3 * signs[name][:, None] + np.zeros(len(SIZES)))

    rungs = [curve(name, measure_values(name),
                   noisy(error_levels[name] * BASE_ERROR, 0.01, seed=60 + i), kind="base" if i == 0 else "rung")
             for i, name in enumerate(signs)]
    result = ladder.data(context(*rungs), ["r1", "r2"])
    assert result.details["kendall_tau"] == pytest.approx(1.0)
    assert result.verdict == FRAGILE
    assert result.reason.count("misses") == 1 and "misses base→r1" in result.reason


def test_ladder_that_test_error_does_not_separate_is_inconclusive():
    flat_ladder = ClosedFormFamily("flat-ladder")  # every rung has the base error law
    result = audit(lambda run: run.test_error, flat_ladder, data=RUNGS, progress=False)
    (check,) = [r for r in result.checks if r.check == "data"]
    assert check.verdict == INCONCLUSIVE
    assert "nothing to judge" in check.reason


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


def test_trend_reports_the_shape_free_kendall_tau_against_m():
    m = np.array([100, 200, 400, 800])
    seeds = [0, 1]
    falling = np.array([[4.0, 3.0, 2.0, 1.0], [4.1, 3.1, 2.1, 1.1]])
    rising = falling[:, ::-1].copy()
    errors = np.array([[0.4, 0.3, 0.2, 0.1], [0.41, 0.31, 0.21, 0.11]])
    curves = {"base": Curve("base", "base", m, seeds, falling, falling, errors, errors * 0),
              "p": Curve("p", "perturbation", m, seeds, rising, rising, errors, errors * 0)}
    result = perturbation.trend(Context(curves, "positive", resolve_tolerances(None)), "p")
    assert result.details["kendall_tau_vs_m"] == {"base": -1.0, "p": 1.0}
