"""Rules for one perturbation against the base: benign gate, trend, scaling, value.

Every rule reads paired per-seed statistics with t intervals (`Context`) and decides
three ways: `fragile` only when the interval shows the effect, `stable` only when it
shows equivalence (or, for the trend, both signs resolved and equal), `inconclusive`
otherwise, with what more data would decide it.
"""

from __future__ import annotations

import math

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.rules.bands import decide, ratio_interval, undecided, unresolved_sign
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, NOT_BENIGN, STABLE, CheckResult, fmt


def benign(ctx: Context, variant: str) -> CheckResult:
    """A perturbation is held against the measure only if test error is shown to barely move:
    its exponent within ±benign_exponent and its level within ×benign_ratio, both shown by
    their intervals. Shown to move beyond either: not benign. Otherwise: not resolved."""
    tol = ctx.tolerances
    missing = ctx.unusable("base") or ctx.unusable(variant)
    if missing:
        return CheckResult("benign", variant, INCONCLUSIVE, f"benignness not resolved: {missing}")
    shift = ctx.exponent_difference("base", variant, "test_error")
    level = ctx.level_difference("base", variant, "test_error")
    limits = (tol.benign_exponent, math.log(tol.benign_ratio))
    text = (f"test-error Δβ {fmt(shift)} vs ±{tol.benign_exponent:g}, "
            f"level {ratio_interval(level)} vs ×{tol.benign_ratio:g}")
    result = CheckResult("benign", variant, INCONCLUSIVE, "", error_exponent=ctx.error_trend(variant),
                         base_error_exponent=ctx.error_trend("base"), difference=shift,
                         tolerance=tol.benign_exponent, details={"error_level": level.to_dict()})
    if shift.beyond(limits[0]) or level.beyond(limits[1]):
        result.verdict, result.reason = NOT_BENIGN, f"not benign: test error moved: {text}"
    elif shift.within(limits[0]) and level.within(limits[1]):
        result.verdict, result.reason = STABLE, f"benign: {text}"
    else:
        unsure = shift if not shift.within(limits[0]) else level
        limit = limits[0] if unsure is shift else limits[1]
        result.reason = f"benignness not resolved: {text}; {undecided(unsure, limit)}"
    return result


def trend(ctx: Context, variant: str) -> CheckResult:
    """Both trends resolved with opposite signs → fragile; both resolved alike → stable."""
    base, var = ctx.measure_trend("base"), ctx.measure_trend(variant)
    shape_free = {name: stats.trend_kendall(ctx.curves[name].m, ctx.curves[name].values, ctx.scale)
                  for name in ("base", variant)}
    result = CheckResult("trend", variant, INCONCLUSIVE, "", measure_exponent=var,
                         error_exponent=ctx.error_trend(variant), base_measure_exponent=base,
                         base_error_exponent=ctx.error_trend("base"), details={"kendall_tau_vs_m": shape_free})
    text = f"measure trend {fmt(var)} vs base {fmt(base)}"
    if base.resolved and var.resolved:
        flipped = base.sign != var.sign
        result.verdict = FRAGILE if flipped else STABLE
        result.reason = f"{'sign flipped' if flipped else 'same sign'}: {text}"
    else:
        unsure = base if not base.resolved else var
        which = "base" if unsure is base else variant
        result.reason = f"sign not resolved for {which}: {text}; {unresolved_sign(unsure)}"
    return result


def _exponent_tolerance(ctx: Context) -> float:
    relative = ctx.tolerances.exponent_relative
    if relative is None:
        return float(ctx.tolerances.exponent)
    return float(relative) * abs(ctx.error_trend("base").value)


def scaling(ctx: Context, variant: str) -> CheckResult:
    """The exponent difference's interval beyond ±tolerance → fragile; within → stable."""
    tol = _exponent_tolerance(ctx)
    diff = ctx.exponent_difference("base", variant)
    result = CheckResult("scaling", variant, INCONCLUSIVE, "", measure_exponent=ctx.measure_trend(variant),
                         error_exponent=ctx.error_trend(variant), base_measure_exponent=ctx.measure_trend("base"),
                         base_error_exponent=ctx.error_trend("base"), difference=diff, tolerance=tol)
    text = f"Δ exponent {fmt(diff)} vs tolerance ±{tol:.3g}"
    if not math.isfinite(tol):
        result.reason = "no tolerance: exponent_relative needs a base test-error exponent, and it is undefined"
        return result
    result.verdict = decide(diff, tol)
    result.reason = {FRAGILE: f"changed: {text}", STABLE: f"within: {text}"}.get(
        result.verdict, f"undecided: {text}; {undecided(diff, tol)}")
    return result


def value(ctx: Context, variant: str) -> CheckResult:
    """The mean log-ratio μ_p/μ_base over m, per seed, with its interval beyond ±ln(value_ratio)
    → fragile; within → stable (for a "log" measure: the mean difference against ±ln(value_ratio))."""
    threshold = math.log(ctx.tolerances.value_ratio)
    diff = ctx.level_difference("base", variant)
    result = CheckResult("value", variant, INCONCLUSIVE, "", difference=diff, tolerance=threshold,
                         measure_exponent=ctx.measure_trend(variant), error_exponent=ctx.error_trend(variant))
    if ctx.scale == "positive":
        text = f"mean ratio {ratio_interval(diff)} vs ×{ctx.tolerances.value_ratio:g} either way"
    else:
        text = f"mean difference {fmt(diff)} vs ±{threshold:.3g}"
    result.verdict = decide(diff, threshold)
    result.reason = {FRAGILE: f"changed: {text}", STABLE: f"within: {text}"}.get(
        result.verdict, f"undecided: {text}; {undecided(diff, threshold)}")
    return result
