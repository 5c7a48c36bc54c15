"""The checks of the audit protocol (DESIGN §4) and their verdicts.

Each check turns curves (measure and test error per variant, seeds × sizes) into a
`CheckResult` with a verdict and a one-line reason, judged against the tolerances of
`pytest_fragility.tolerances` (documented with their rationale in docs/method.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from pytest_fragility import stats
from pytest_fragility.stats import Estimate, Scale

STABLE, FRAGILE, INCONCLUSIVE, NOT_BENIGN, ERROR = "stable", "fragile", "inconclusive", "not-benign", "error"

@dataclass
class Curve:
    """One variant's learning curves: values[S, M] of the measure and of test error."""

    variant: str
    kind: str               # "base", "perturbation" or "data"
    m: np.ndarray
    seeds: list[int]
    values: np.ndarray      # the audited form (NaN = missing)
    raw: np.ndarray         # raw form of a built-in measure (same as values otherwise)
    test_error: np.ndarray
    train_error: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        plain = lambda a: [[None if not math.isfinite(v) else float(v) for v in row] for row in a]  # noqa: E731
        return {"variant": self.variant, "kind": self.kind, "m": [int(v) for v in self.m],
                "seeds": [int(s) for s in self.seeds], "values": plain(self.values),
                "raw": plain(self.raw), "test_error": plain(self.test_error),
                "train_error": plain(self.train_error)}


@dataclass
class CheckResult:
    """One check on one variant (or on the ladder): verdict, reason and the numbers behind it."""

    check: str
    variant: str
    verdict: str
    reason: str
    measure_exponent: Estimate | None = None
    error_exponent: Estimate | None = None
    base_measure_exponent: Estimate | None = None
    base_error_exponent: Estimate | None = None
    difference: Estimate | None = None
    tolerance: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def est(e: Estimate | None) -> Any:
            return None if e is None else e.to_dict()

        def value(e: Estimate | None) -> Any:
            return None if e is None or not math.isfinite(e.value) else e.value

        def interval(e: Estimate | None) -> Any:
            if e is None or not (math.isfinite(e.low) and math.isfinite(e.high)):
                return None
            return [e.low, e.high]

        return {
            "check": self.check, "variant": self.variant, "verdict": self.verdict,
            "reason": self.reason,
            "measure_exponent": value(self.measure_exponent),
            "measure_exponent_ci": interval(self.measure_exponent),
            "error_exponent": value(self.error_exponent),
            "error_exponent_ci": interval(self.error_exponent),
            "base_measure_exponent": est(self.base_measure_exponent),
            "base_error_exponent": est(self.base_error_exponent),
            "difference": est(self.difference),
            "tolerance": self.tolerance,
            "details": self.details,
        }


def fmt(e: Estimate | None) -> str:
    """"-0.312 [-0.35, -0.27]" style text for reasons (no interval: says why)."""
    if e is None or not math.isfinite(e.value):
        return "n/a"
    if math.isfinite(e.low) and math.isfinite(e.high):
        return f"{e.value:+.3f} [{e.low:+.2f}, {e.high:+.2f}]"
    return f"{e.value:+.3f} [no interval: {e.n_seeds} seed(s)]"


@dataclass
class Context:
    """What every check needs: curves, scale of the measure, tolerances, bootstrap seed."""

    curves: dict[str, Curve]
    scale: Scale
    tolerances: dict[str, Any]
    seed: int = 0
    _trends: dict[tuple[str, str], Estimate] = field(default_factory=dict, repr=False)

    def boot(self) -> dict[str, Any]:
        return {"level": self.tolerances["level"], "n_boot": int(self.tolerances["n_boot"]), "seed": self.seed}

    def measure_trend(self, variant: str) -> Estimate:
        """The variant's measure trend (computed once: several checks report it)."""
        if ("measure", variant) not in self._trends:
            curve = self.curves[variant]
            self._trends["measure", variant] = stats.trend(curve.m, curve.values, self.scale, **self.boot())
        return self._trends["measure", variant]

    def error_trend(self, variant: str) -> Estimate:
        """The variant's test-error exponent (computed once)."""
        if ("error", variant) not in self._trends:
            curve = self.curves[variant]
            self._trends["error", variant] = stats.trend(curve.m, curve.test_error, "linear", **self.boot())
        return self._trends["error", variant]

    def aligned(self, a: str, b: str, attribute: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Two variants' arrays on their common sizes and seeds (for paired statistics)."""
        ca, cb = self.curves[a], self.curves[b]
        sizes = np.array(sorted(set(ca.m.tolist()) & set(cb.m.tolist())))
        seeds = sorted(set(ca.seeds) & set(cb.seeds))
        pick = lambda c: getattr(c, attribute)[np.ix_(  # noqa: E731
            [c.seeds.index(s) for s in seeds], [c.m.tolist().index(v) for v in sizes])]
        return sizes, pick(ca), pick(cb)


# -- perturbation checks ------------------------------------------------------------------
def benign(ctx: Context, variant: str) -> CheckResult:
    """Only a perturbation that barely moves test error can be held against the measure."""
    tol = ctx.tolerances
    m, e_base, e_var = ctx.aligned("base", variant, "test_error")
    base_e, var_e = ctx.error_trend("base"), ctx.error_trend(variant)
    shift = stats.trend_difference(m, e_base, e_var, "linear", **ctx.boot())
    ratio = stats.median_abs_log_ratio(e_base, e_var, "linear", **ctx.boot())
    moved = abs(shift.value) if math.isfinite(shift.value) else math.inf
    level = math.exp(ratio.value) if math.isfinite(ratio.value) else math.inf
    ok = moved <= tol["benign_exponent"] and ratio.value <= math.log(tol["benign_ratio"])
    reason = (f"test-error β {fmt(var_e)} vs base {fmt(base_e)} moved {moved:.3f} "
              f"(tolerance {tol['benign_exponent']:g}), level ×{level:.2f} (tolerance ×{tol['benign_ratio']:g})")
    return CheckResult("benign", variant, STABLE if ok else NOT_BENIGN,
                       ("benign: " if ok else "not benign: ") + reason,
                       error_exponent=var_e, base_error_exponent=base_e, difference=shift,
                       tolerance=tol["benign_exponent"],
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
    relative = ctx.tolerances["exponent_relative"]
    if relative is None:
        return float(ctx.tolerances["exponent"])
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
    threshold = math.log(ctx.tolerances["value_ratio"])
    _, base_values, var_values = ctx.aligned("base", variant, "values")
    ratio = stats.median_abs_log_ratio(base_values, var_values, ctx.scale, **ctx.boot())
    result = CheckResult("value", variant, INCONCLUSIVE, "", difference=ratio, tolerance=threshold,
                         measure_exponent=ctx.measure_trend(variant), error_exponent=ctx.error_trend(variant))
    show = (lambda x: f"×{math.exp(x):.3g}") if ctx.scale == "linear" else (lambda x: f"Δ{x:.3g}")
    what = "median ratio" if ctx.scale == "linear" else "median log difference"
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


def tracking(ctx: Context, variant: str, expect: str | None) -> CheckResult:
    """The measure's trend sign must equal the expected one (or test error's)."""
    mine, error = ctx.measure_trend(variant), ctx.error_trend(variant)
    wanted = {"decreasing": -1, "increasing": 1}.get(expect or "", error.sign)
    result = CheckResult("tracking", variant, INCONCLUSIVE, "", measure_exponent=mine, error_exponent=error)
    target = expect or f"test error's sign ({fmt(error)})"
    if wanted == 0:
        result.reason = f"test error's trend is unresolved ({fmt(error)}), nothing to track"
    elif not mine.resolved:
        result.reason = f"measure trend unresolved {fmt(mine)}; expected {target}"
    elif mine.sign == wanted:
        result.verdict, result.reason = STABLE, f"measure trend {fmt(mine)} matches {target}"
    else:
        result.verdict, result.reason = FRAGILE, f"measure trend {fmt(mine)} opposes {target}"
    return result


# -- data ladder ------------------------------------------------------------------------------
def data(ctx: Context, rungs: Sequence[str]) -> CheckResult:
    """Rungs must be ordered as test error orders them, and every difference test error
    resolves must be resolved by the measure in the same direction."""
    names = ["base", *rungs]
    sizes = sorted(set.intersection(*(set(ctx.curves[n].m.tolist()) for n in names)))
    taus = []
    for m in sizes:
        mu = [_aggregate_at(ctx.curves[n], "values", m, ctx.scale) for n in names]
        err = [_aggregate_at(ctx.curves[n], "test_error", m, "linear") for n in names]
        tau = stats.kendall_tau_a(mu, err)
        if math.isfinite(tau):
            taus.append(tau)
    mean_tau = float(np.mean(taus)) if taus else math.nan
    pairs, judged, misses = [], 0, []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            _, ea, eb = ctx.aligned(a, b, "test_error")
            m_common, ma, mb = ctx.aligned(a, b, "values")
            de = stats.level_difference(ea, eb, "linear", **ctx.boot())
            dm = stats.level_difference(ma, mb, ctx.scale, **ctx.boot())
            de_exp = stats.trend_difference(m_common, ea, eb, "linear", **ctx.boot()) if len(m_common) > 1 else None
            dm_exp = stats.trend_difference(m_common, ma, mb, ctx.scale, **ctx.boot()) if len(m_common) > 1 else None
            pairs.append({"pair": [a, b], "error_level": de.to_dict(), "measure_level": dm.to_dict(),
                          "error_exponent_difference": None if de_exp is None else de_exp.to_dict(),
                          "measure_exponent_difference": None if dm_exp is None else dm_exp.to_dict()})
            if de.resolved:
                judged += 1
                if dm.sign != de.sign:
                    how = "misses" if dm.sign == 0 else "reverses"
                    misses.append(f"{how} {a}→{b} (test error {fmt(de)}, measure {fmt(dm)})")
    tau_min = ctx.tolerances["data_tau"]
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


# -- verdict ----------------------------------------------------------------------------------
def overall(results: Sequence[CheckResult]) -> str:
    """fragile > error > inconclusive > stable over the checks of the measure.

    The benign rows judge the perturbations, not the measure, so they do not count; an
    audit in which nothing was judged (every perturbation not benign) is inconclusive.
    """
    verdicts = {r.verdict for r in results if r.check != "benign"}
    if FRAGILE in verdicts:
        return FRAGILE
    if ERROR in verdicts:
        return ERROR
    judged = verdicts - {NOT_BENIGN}
    if INCONCLUSIVE in verdicts or not judged:
        return INCONCLUSIVE
    return STABLE
