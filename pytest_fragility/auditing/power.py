"""What an audit could have detected: its power statement.

From the spread the seeds showed (the standard errors of the paired per-seed statistics,
the median over the perturbations or rung pairs), the smallest effects the rules call
with probability `power` at this budget: an exponent change, a value change, a trend's
sign, a test-error difference between rungs. A row that came out `stable` or
`inconclusive` is only as strong as these numbers.
"""

from __future__ import annotations

import math
from itertools import combinations
from statistics import median
from typing import Any, Sequence

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.rules.bands import ratio
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.files import plain

DRY_RUN_SEEDS = 2  # with this many seeds or fewer, a budget only exercises the machinery


def power_statement(ctx: Context, perturbations: Sequence[str], rungs: Sequence[str]) -> dict[str, Any]:
    """The detectable effects at this budget, and a sentence that says them."""
    tol = ctx.tolerances
    usable = [v for v in perturbations if not ctx.unusable("base") and not ctx.unusable(v)]
    exponent = _typical([ctx.exponent_difference("base", v) for v in usable], ctx.level, tol.power)
    level = _typical([ctx.level_difference("base", v) for v in usable], ctx.level, tol.power)
    trend = _typical([ctx.measure_trend(v) for v in ["base", *usable] if not ctx.unusable(v)], ctx.level, tol.power)
    ladder = [n for n in ["base", *rungs] if not ctx.unusable(n)] if rungs else []
    rung = _typical([ctx.level_difference(a, b, "test_error") for a, b in combinations(ladder, 2)],
                    ctx.level, tol.power)
    n_seeds = max((c.seeds_with_data for c in ctx.curves.values()), default=0)
    found = {
        "n_seeds": n_seeds, "level": ctx.level, "power": tol.power,
        "exponent_change": tol.exponent + exponent if math.isfinite(exponent) else math.nan,
        "value_log_ratio": math.log(tol.value_ratio) + level if math.isfinite(level) else math.nan,
        "trend_slope": trend,
        "rung_log_ratio": rung,
        "dry_run": n_seeds <= DRY_RUN_SEEDS,
    }
    found["text"] = _sentence(found, ctx.scale)
    return plain(found)


def _typical(estimates: list[Estimate], level: float, power: float) -> float:
    """The effect detectable with the median standard error among `estimates`."""
    usable = [e for e in estimates if math.isfinite(e.se) and e.n_seeds >= 2]
    if not usable:
        return math.nan
    return stats.detectable(median(e.se for e in usable), min(e.n_seeds for e in usable), level=level, power=power)


def detectable_effects(found: dict[str, Any], scale: str) -> list[str]:
    """The perturbation effects in `found` that can be detected, in words (also a search's)."""
    parts = []
    if math.isfinite(found["exponent_change"]):
        parts.append(f"an exponent change ≥ {found['exponent_change']:.2f}")
    if math.isfinite(found["value_log_ratio"]):
        value = found["value_log_ratio"]
        parts.append(f"a value change ≥ {ratio(value)}" if scale == "positive" else f"a value change ≥ {value:.2f}")
    if math.isfinite(found["trend_slope"]):
        parts.append(f"the sign of a trend once |trend| ≥ {found['trend_slope']:.3f}")
    return parts


def _sentence(found: dict[str, Any], scale: str) -> str:
    parts = detectable_effects(found, scale)
    if math.isfinite(found["rung_log_ratio"]):
        parts.append(f"test-error differences between rungs ≥ {ratio(found['rung_log_ratio'])}")
    power = f"{found['power']:.0%} power"
    if not parts:
        text = f"with {found['n_seeds']} seed(s) nothing can be detected: intervals need 2 seeds with data"
    else:
        text = f"with {found['n_seeds']} seeds this audit detects " + ", ".join(parts) + f" with {power}"
    if found["dry_run"]:
        text = ("a dry run of the machinery, not a verdict: " + text
                + "; use a budget with more seeds (quick) to decide")
    return text
