"""Rules for one perturbation against the base: benign gate, trend, scaling, value."""

from __future__ import annotations

import math

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, NOT_BENIGN, STABLE, CheckResult, exp_ratio, fmt


def benign(ctx: Context, variant: str) -> CheckResult:
    """Only a perturbation that barely moves test error can be held against the measure."""
    tol = ctx.tolerances
    m, e_base, e_var = ctx.aligned("base", variant, "test_error")
    base_e, var_e = ctx.error_trend("base"), ctx.error_trend(variant)
    shift = stats.trend_difference(m, e_base, e_var, "positive", **ctx.boot())
    ratio = stats.median_abs_log_ratio(e_base, e_var, "positive", **ctx.boot())
    moved = abs(shift.value) if math.isfinite(shift.value) else math.inf
    level = exp_ratio(ratio.value) if math.isfinite(ratio.value) else math.inf
    ok = moved <= tol.benign_exponent and ratio.value <= math.log(tol.benign_ratio)
    reason = (f"test-error β {fmt(var_e)} vs base {fmt(base_e)} moved {moved:.3f} "
              f"(tolerance {tol.benign_exponent:g}), level ×{level:.2f} (tolerance ×{tol.benign_ratio:g})")
    return CheckResult("benign", variant, STABLE if ok else NOT_BENIGN,
                       ("benign: " if ok else "not benign: ") + reason,
                       error_exponent=var_e, base_error_exponent=base_e, difference=shift,
                       tolerance=tol.benign_exponent,
                       details={"error_level_ratio": level if math.isfinite(level) else None})


def trend(ctx: Context, variant: str) -> CheckResult:
    """Both trends resolved with opposite signs → fragile; an unresolved one → inconclusive."""
    base, var = ctx.measure_trend("base"), ctx.measure_trend(variant)
    shape_free = {name: stats.trend_kendall(ctx.curves[name].m, ctx.curves[name].values, ctx.scale)
                  for name in ("base", variant)}
    result = CheckResult("trend", variant, INCONCLUSIVE, "", measure_exponent=var,
                         error_exponent=ctx.error_trend(variant), base_measure_exponent=base,
                         base_error_exponent=ctx.error_trend("base"),
                         details={"kendall_tau_vs_m": {k: v if math.isfinite(v) else None
                                                       for k, v in shape_free.items()}})
    if base.resolved and var.resolved:
        flipped = base.sign != var.sign
        result.verdict = FRAGILE if flipped else STABLE
        result.reason = (f"{'sign flipped' if flipped else 'same sign'}: measure trend {fmt(var)} "
                         f"vs base {fmt(base)}")
    else:
        which = " and ".join(name for name, e in (("base", base), (variant, var)) if not e.resolved)
        result.reason = (f"unresolved ({which} interval contains 0): measure trend {fmt(var)} "
                         f"vs base {fmt(base)}")
    return result


def _exponent_tolerance(ctx: Context) -> float:
    relative = ctx.tolerances.exponent_relative
    if relative is None:
        return float(ctx.tolerances.exponent)
    base_error = ctx.error_trend("base")
    return float(relative) * abs(base_error.value)


def scaling(ctx: Context, variant: str) -> CheckResult:
    """The exponent difference's interval beyond ±tolerance → fragile; within → stable."""
    tol = _exponent_tolerance(ctx)
    m, base_values, var_values = ctx.aligned("base", variant, "values")
    diff = stats.trend_difference(m, base_values, var_values, ctx.scale, **ctx.boot())
    result = CheckResult("scaling", variant, INCONCLUSIVE, "", measure_exponent=ctx.measure_trend(variant),
                         error_exponent=ctx.error_trend(variant),
                         base_measure_exponent=ctx.measure_trend("base"),
                         base_error_exponent=ctx.error_trend("base"), difference=diff, tolerance=tol)
    text = f"Δ exponent {fmt(diff)} vs tolerance ±{tol:.3g}"
    if not math.isfinite(tol):
        result.reason = "no tolerance: exponent_relative needs a base test-error exponent, and it is undefined"
    elif not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        result.reason = f"no interval to judge: {text}"
    elif diff.low > tol or diff.high < -tol:
        result.verdict, result.reason = FRAGILE, f"changed: {text}"
    elif -tol <= diff.low and diff.high <= tol:
        result.verdict, result.reason = STABLE, f"within: {text}"
    else:
        result.reason = f"interval straddles the tolerance: {text}"
    return result


def value(ctx: Context, variant: str) -> CheckResult:
    """Median |ln(μ_p/μ_base)| over m with its interval above ln(value_ratio) → fragile."""
    threshold = math.log(ctx.tolerances.value_ratio)
    _, base_values, var_values = ctx.aligned("base", variant, "values")
    ratio = stats.median_abs_log_ratio(base_values, var_values, ctx.scale, **ctx.boot())
    result = CheckResult("value", variant, INCONCLUSIVE, "", difference=ratio, tolerance=threshold,
                         measure_exponent=ctx.measure_trend(variant), error_exponent=ctx.error_trend(variant))

    def show(x: float) -> str:
        return f"×{exp_ratio(x):.3g}" if ctx.scale == "positive" else f"Δ{x:.3g}"

    what = "median ratio" if ctx.scale == "positive" else "median log difference"
    if not (math.isfinite(ratio.low) and math.isfinite(ratio.high)):
        shown = show(ratio.value) if math.isfinite(ratio.value) else "n/a"
        result.reason = f"no interval to judge: {what} {shown} vs {show(threshold)}"
        return result
    text = f"{what} {show(ratio.value)} [{show(ratio.low)}, {show(ratio.high)}] vs {show(threshold)}"
    if ratio.low > threshold:
        result.verdict, result.reason = FRAGILE, f"changed: {text}"
    elif ratio.high <= threshold:
        result.verdict, result.reason = STABLE, f"within: {text}"
    else:
        result.reason = f"interval straddles the threshold: {text}"
    return result


