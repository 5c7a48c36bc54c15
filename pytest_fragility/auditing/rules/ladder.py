"""The data rule: along the ladder the measure must order and separate rungs as test error does."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.curves import Curve
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.stats import Scale
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, STABLE, CheckResult, fmt


def data(ctx: Context, rungs: Sequence[str]) -> CheckResult:
    """Rungs must be ordered as test error orders them, and every difference test error
    resolves must be resolved by the measure in the same direction."""
    names = ["base", *rungs]
    sizes = sorted(set.intersection(*(set(ctx.curves[n].m.tolist()) for n in names)))
    taus = []
    for m in sizes:
        mu = [_aggregate_at(ctx.curves[n], "values", m, ctx.scale) for n in names]
        err = [_aggregate_at(ctx.curves[n], "test_error", m, "positive") for n in names]
        tau = stats.kendall_tau_a(mu, err)
        if math.isfinite(tau):
            taus.append(tau)
    mean_tau = float(np.mean(taus)) if taus else math.nan
    pairs, judged, misses = [], 0, []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            _, ea, eb = ctx.aligned(a, b, "test_error")
            m_common, ma, mb = ctx.aligned(a, b, "values")
            de = stats.level_difference(ea, eb, "positive", **ctx.boot())
            dm = stats.level_difference(ma, mb, ctx.scale, **ctx.boot())
            de_exp = stats.trend_difference(m_common, ea, eb, "positive", **ctx.boot()) if len(m_common) > 1 else None
            dm_exp = stats.trend_difference(m_common, ma, mb, ctx.scale, **ctx.boot()) if len(m_common) > 1 else None
            pairs.append({"pair": [a, b], "error_level": de.to_dict(), "measure_level": dm.to_dict(),
                          "error_exponent_difference": None if de_exp is None else de_exp.to_dict(),
                          "measure_exponent_difference": None if dm_exp is None else dm_exp.to_dict()})
            if de.resolved:
                judged += 1
                if dm.sign != de.sign:
                    how = "misses" if dm.sign == 0 else "reverses"
                    misses.append(f"{how} {a}→{b} (test error {fmt(de)}, measure {fmt(dm)})")
    tau_min = ctx.tolerances.data_tau
    result = CheckResult("data", "ladder", INCONCLUSIVE, "", tolerance=tau_min,
                         details={"rungs": names, "kendall_tau": None if not math.isfinite(mean_tau) else mean_tau,
                                  "pairs": pairs})
    if not taus or judged == 0:
        result.reason = "test error does not separate the rungs; nothing to judge"
    elif mean_tau < tau_min or misses:
        parts = [f"orders rungs with τ = {mean_tau:.2f} (need ≥ {tau_min})"] if mean_tau < tau_min else []
        result.verdict, result.reason = FRAGILE, "data-blind: " + "; ".join(parts + misses)
    else:
        result.verdict = STABLE
        result.reason = (f"follows the ladder: τ = {mean_tau:.2f} and all {judged} difference(s) "
                         "test error resolves are resolved the same way")
    return result


def _aggregate_at(curve: Curve, attribute: str, m: int, scale: Scale) -> float:
    column = getattr(curve, attribute)[:, curve.m.tolist().index(m)]
    with np.errstate(all="ignore"):
        cells = stats.transform(column[:, None], scale)[:, 0]
    finite = cells[np.isfinite(cells)]
    return float(finite.mean()) if len(finite) else math.nan


