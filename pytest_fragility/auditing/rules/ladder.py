"""The data rule: along the ladder, the measure must separate rungs as test error does.

For every pair of rungs whose test-error difference is resolved (its interval excludes 0),
the measure's paired difference is judged: resolved with the opposite sign → it
*reverses* the pair; its interval inside ±data_fraction × |test error's difference| →
it is shown *not to separate* the pair (× ½ in bound form, which halves every raw
log-difference); resolved with the same sign → it *follows*;
otherwise the pair is *unresolved*. A reversal or a pair not separated makes the measure
fragile (PAC-Bayes origin is the textbook case); every resolved pair followed makes it
stable; anything else is inconclusive. A difference the measure merely fails to resolve
is absence of evidence, never a failure. The row is fragile if *any* pair is, so the
intervals that find a pair reversed or not separated are Bonferroni-corrected over the k pairs
(level 1 − α/k); it is stable only if *every* judged pair follows, an intersection-union claim
whose level is already α, so "follows" reads the interval at the row's level. Kendall τ of the
rungs' order is reported only.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Sequence

import numpy as np

from pytest_fragility.auditing import ranking, stats
from pytest_fragility.auditing.curves import Curve
from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.rules.bands import unresolved_sign
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, STABLE, CheckResult, fmt

REVERSES, NOT_SEPARATED, FOLLOWS, UNRESOLVED, NOT_JUDGED = (
    "reverses", "does not separate", "follows", "unresolved", "test error does not separate")


def data(ctx: Context, rungs: Sequence[str]) -> CheckResult:
    """One row for the whole ladder: base and every rung, all pairs."""
    names = ["base", *rungs]
    unusable = [reason for name in names if (reason := ctx.unusable(name))]
    usable = [name for name in names if not ctx.unusable(name)]
    compared = list(combinations(usable, 2))
    level = 1 - (1 - ctx.level) / max(1, len(compared))  # the row is fragile if any pair is: Bonferroni
    pairs = [_pair(ctx, a, b, level) for a, b in compared]
    outcomes = [p["outcome"] for p in pairs]
    tau = _mean_tau(ctx, usable)
    confounded = _architecture_changes(ctx, rungs)
    result = CheckResult("data", "ladder", INCONCLUSIVE, "", tolerance=ctx.tolerances.data_fraction,
                         details={"rungs": names, "kendall_tau": tau, "pairs": pairs, "unusable": unusable,
                                  "confounded": confounded, "pair_level": level})
    failing = [p["text"] for p in pairs if p["outcome"] in (REVERSES, NOT_SEPARATED)]
    judged = [p for p in pairs if p["outcome"] != NOT_JUDGED]
    order = "" if tau is None else f" (rungs ordered with Kendall τ = {tau:.2f})"
    if failing:
        result.verdict, result.reason = FRAGILE, "data-blind: " + "; ".join(failing)
    elif "base" not in usable:
        result.reason = f"no ladder to judge: {unusable[0]}"
    elif not judged:
        result.reason = "test error does not separate the rungs; nothing to judge" + _also(unusable)
    elif all(outcome in (FOLLOWS, NOT_JUDGED) for outcome in outcomes) and not unusable:
        result.verdict = STABLE
        result.reason = f"follows the ladder: all {len(judged)} difference(s) test error resolves{order}"
    else:
        open_pairs = [p["text"] for p in pairs if p["outcome"] == UNRESOLVED]
        result.reason = "undecided: " + "; ".join(open_pairs) + _also(unusable)
    if confounded:
        result.reason += "; caution: " + "; ".join(confounded)
    return result


def _architecture_changes(ctx: Context, rungs: Sequence[str]) -> list[str]:
    """Rungs whose inputs differ in shape from the base's: the network differs too, so the
    rung confounds data complexity with architecture."""
    base = ctx.input_shapes.get("base")
    return [f"{rung} also changes the network's input from {base} to {ctx.input_shapes[rung]}"
            for rung in rungs if base is not None and ctx.input_shapes.get(rung) not in (None, base)]


def _pair(ctx: Context, a: str, b: str, corrected_level: float) -> dict[str, Any]:
    """The judgement of one rung pair, with the numbers behind it: a failure is read from the
    measure's interval at `corrected_level`, "follows" from its interval at the row's level."""
    error = ctx.level_difference(a, b, "test_error")
    corrected = ctx.level_difference(a, b, level=corrected_level)
    nominal = ctx.level_difference(a, b)
    nearer = min(abs(error.low), abs(error.high)) if error.resolved else math.nan
    band = ctx.tolerances.data_fraction * ctx.shrink * nearer

    def numbers(measure: Estimate) -> str:
        return f"test error {fmt(error)}, measure {fmt(measure)}"

    if not error.resolved:
        outcome, text = NOT_JUDGED, f"{a}→{b}: {numbers(nominal)}"
    elif corrected.resolved and corrected.sign != error.sign:
        outcome, text = REVERSES, f"reverses {a}→{b} ({numbers(corrected)})"
    elif corrected.within(band):
        outcome, text = NOT_SEPARATED, f"does not separate {a}→{b} ({numbers(corrected)}, inside ±{band:.3g})"
    elif nominal.resolved and nominal.sign == error.sign:
        outcome, text = FOLLOWS, f"follows {a}→{b} ({numbers(nominal)})"
    else:  # neither interval shows a sign that decides: the opposite sign needs the corrected one
        shown = corrected if nominal.resolved else nominal
        outcome, text = UNRESOLVED, f"{a}→{b} unresolved ({numbers(shown)}; {unresolved_sign(shown)})"
    return {"pair": [a, b], "outcome": outcome, "text": text, "band": band, "error_level": error.to_dict(),
            "measure_level": nominal.to_dict(), "measure_level_corrected": corrected.to_dict(),
            "error_exponent_difference": _exponents(ctx, a, b, "test_error"),
            "measure_exponent_difference": _exponents(ctx, a, b, "values")}


def _exponents(ctx: Context, a: str, b: str, attribute: str) -> dict[str, Any] | None:
    estimate: Estimate = ctx.exponent_difference(a, b, attribute)
    return estimate.to_dict() if estimate.n_sizes > 1 else None


def _also(unusable: list[str]) -> str:
    return "" if not unusable else "; not judged: " + "; ".join(unusable)


def _mean_tau(ctx: Context, names: list[str]) -> float | None:
    """Mean over common sizes of Kendall τ between the measure's and test error's rung order."""
    if len(names) < 2:
        return None
    sizes = sorted(set.intersection(*(set(ctx.curves[n].m.tolist()) for n in names)))
    taus = []
    for m in sizes:
        mu = [_seed_mean_at(ctx.curves[n], "values", m, ctx.scale) for n in names]
        err = [_seed_mean_at(ctx.curves[n], "test_error", m, "positive") for n in names]
        tau = ranking.kendall_tau_a(mu, err)
        if math.isfinite(tau):
            taus.append(tau)
    return float(np.mean(taus)) if taus else None


def _seed_mean_at(curve: Curve, attribute: str, m: int, scale: stats.Scale) -> float:
    column = getattr(curve, attribute)[:, curve.m.tolist().index(m)]
    finite = stats.transform(column[np.isfinite(column)], scale)
    return float(finite.mean()) if len(finite) else math.nan
