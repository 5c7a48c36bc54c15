"""The tracking rule (opt-in): the measure's trend has the sign expected of it."""

from __future__ import annotations

from pytest_fragility.auditing.rules.bands import unresolved_sign
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, STABLE, CheckResult, fmt


def tracking(ctx: Context, variant: str, expect: str | None) -> CheckResult:
    """The measure's trend sign must equal the expected one (or test error's)."""
    mine, error = ctx.measure_trend(variant), ctx.error_trend(variant)
    wanted = {"decreasing": -1, "increasing": 1}.get(expect or "", error.sign)
    result = CheckResult("tracking", variant, INCONCLUSIVE, "", measure_exponent=mine, error_exponent=error)
    target = expect or f"test error's sign ({fmt(error)})"
    if wanted == 0:
        result.reason = f"test error's trend is unresolved ({fmt(error)}; {unresolved_sign(error)}), nothing to track"
    elif not mine.resolved:
        result.reason = f"measure trend {fmt(mine)} unresolved ({unresolved_sign(mine)}); expected {target}"
    elif mine.sign == wanted:
        result.verdict, result.reason = STABLE, f"measure trend {fmt(mine)} matches {target}"
    else:
        result.verdict, result.reason = FRAGILE, f"measure trend {fmt(mine)} opposes {target}"
    return result
