"""Calibration: how often the verdict rules are right on measures whose truth is known.

A *construct* is a synthetic measure built on a grid's runs (closed-form or real): test
error times noise of a known form, which is not fragile by construction, or one with a
planted fragility (a trend flip, an exponent shift, a value change, blindness to the
ladder) at a known row. Auditing many noise replicates of each construct gives the rates
that matter: the family-wise rate of false `fragile` over an audit's rows, the per-check
false rates, the power to find each planted fragility, how often the data cannot decide,
and (where the truth is known in closed form) the coverage of the intervals.

`benchmarks/bench_calibration.py` prints these tables for every budget; the test suite
runs a small, seeded version and asserts the targets with binomial slack. The same
functions calibrate a family of your own: `calibrate(my_family, "quick", P, D, ...)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import mean
from typing import Any, Callable, Sequence

from pytest_fragility.auditing.engine import audit
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, STABLE
from pytest_fragility.runs.run import Run
from pytest_fragility.spec.variants import Variant
from pytest_fragility.testing import standard_normal

FLIP_EXPONENT = 0.3         # trend flip: μ ∝ m^+0.3 under the base, m^−0.3 under the target
SLOPE_NOISE = 0.05          # sd of a seed's own exponent in the "seed slope" null
Measure = Callable[[Run], float]


@dataclass(frozen=True)
class Construct:
    """A synthetic measure: `build(runs, s, replicate)` returns the measure for one replicate.
    `target` is the (check, variant) row a fragile construct plants its effect in; `truth`
    holds the true values of estimates whose coverage can be measured (closed form only)."""

    name: str
    fragile: bool
    build: Callable[[Sequence[Run], float, int], Measure]
    target: tuple[str, str] | None = None
    truth: dict[str, float] = field(default_factory=dict)


def _draw(replicate: int, run: Run, *salt: object) -> float:
    return standard_normal("calibration", replicate, run.variant, run.m, run.seed, *salt)


def _seed_draw(replicate: int, run: Run, *salt: object) -> float:
    """One draw per (seed, variant): shared by every m of that seed's curve."""
    return standard_normal("calibration", replicate, run.variant, run.seed, *salt)


def _centred_log_m(runs: Sequence[Run]) -> Callable[[Run], float]:
    """ln m minus its mean over the grid's sizes, so slope effects leave the level at the centre."""
    centre = mean(math.log(m) for m in {r.m for r in runs})
    return lambda run: math.log(run.m) - centre


def null_constructs(error_exponent: float | None = None) -> list[Construct]:
    """Measures that are not fragile: test error times iid noise, with a persistent offset per
    (seed, variant), with a random exponent per (seed, variant), and test error itself.
    `error_exponent` (closed-form grids) is the base's true test-error exponent."""
    truth = {} if error_exponent is None else {"base_trend": error_exponent}

    def iid(runs: Sequence[Run], s: float, r: int) -> Measure:
        return lambda run: run.test_error * math.exp(s * _draw(r, run))

    def offset(runs: Sequence[Run], s: float, r: int) -> Measure:
        part = s / math.sqrt(2)
        return lambda run: run.test_error * math.exp(part * (_seed_draw(r, run, "offset") + _draw(r, run)))

    def slope(runs: Sequence[Run], s: float, r: int) -> Measure:
        centred = _centred_log_m(runs)
        return lambda run: run.test_error * math.exp(
            SLOPE_NOISE * _seed_draw(r, run, "slope") * centred(run) + s * _draw(r, run))

    def exact(runs: Sequence[Run], s: float, r: int) -> Measure:
        return lambda run: run.test_error

    return [Construct("e·exp(ε)", False, iid, truth=truth), Construct("e·exp(u_seed+ε)", False, offset, truth=truth),
            Construct("e·exp(w_seed·ln m+ε)", False, slope, truth=truth), Construct("e (exact)", False, exact)]


def fragile_constructs(target: str, rungs: Sequence[str] = (), *, exponent_tolerance: float = 0.25,
                       value_ratio: float = 1.5, closed_form: bool = True) -> list[Construct]:
    """Measures fragile by construction at perturbation `target`: a trend flip, an exponent
    shift of twice the tolerance, a value change of twice the tolerance (in log terms), and
    (given the ladder's `rungs`) a measure identical across rungs. The shift and the change
    ride on test error, so their true size is known only where test error itself is
    (`closed_form`, exact power laws); the flip's truth holds on any runs."""
    shift = 2 * exponent_tolerance
    factor = value_ratio ** 2

    def flip(runs: Sequence[Run], s: float, r: int) -> Measure:
        return lambda run: run.m ** (-FLIP_EXPONENT if run.variant == target else FLIP_EXPONENT) * math.exp(
            s * _draw(r, run))

    def exponent(runs: Sequence[Run], s: float, r: int) -> Measure:
        centred = _centred_log_m(runs)
        return lambda run: run.test_error * math.exp((shift * centred(run) if run.variant == target else 0.0)
                                                     + s * _draw(r, run))

    def value(runs: Sequence[Run], s: float, r: int) -> Measure:
        return lambda run: run.test_error * (factor if run.variant == target else 1.0) * math.exp(s * _draw(r, run))

    def blind(runs: Sequence[Run], s: float, r: int) -> Measure:
        base = {(run.m, run.seed): run.test_error for run in runs if run.variant == "base"}

        def measure(run: Run) -> float:
            if run.variant in rungs:  # the base's value at this (m, seed): the rung changes nothing
                return base[run.m, run.seed] * math.exp(s * standard_normal("calibration", r, "base", run.m, run.seed))
            return run.test_error * math.exp(s * _draw(r, run))
        return measure

    constructs = [
        Construct(f"trend flip @{target}", True, flip, ("trend", target),
                  {"base_trend": FLIP_EXPONENT, "target_trend": -FLIP_EXPONENT}),
        Construct(f"Δβ = {shift:g} @{target}", True, exponent, ("scaling", target),
                  {"exponent_difference": shift} if closed_form else {}),
        Construct(f"×{factor:g} @{target}", True, value, ("value", target),
                  {"level_difference": math.log(factor)} if closed_form else {}),
    ]
    if rungs:
        constructs.append(Construct("data-blind (identical rungs)", True, blind, ("data", "ladder")))
    return constructs


@dataclass
class Tally:
    """Counts over the replicates of one construct at one noise level."""

    construct: Construct
    noise: float
    replicates: int = 0
    any_fragile: int = 0
    target_fragile: int = 0
    target_stable: int = 0  # the planted row called stable: a wrong stable
    overall: dict[str, int] = field(default_factory=dict)
    check_fragile: dict[str, list[float]] = field(default_factory=dict)  # check → per-replicate fraction of rows
    covered: dict[str, int] = field(default_factory=dict)
    judged: dict[str, int] = field(default_factory=dict)

    def rate(self, count: int) -> float:
        return count / self.replicates if self.replicates else math.nan

    def as_row(self) -> dict[str, Any]:
        checks = {check: mean(values) for check, values in self.check_fragile.items()}
        return {
            "construct": self.construct.name, "fragile": self.construct.fragile, "s": self.noise,
            "replicates": self.replicates,
            "family_wise_false_fragile": None if self.construct.fragile else self.rate(self.any_fragile),
            "power": self.rate(self.target_fragile) if self.construct.fragile else None,
            "false_stable": self.rate(self.target_stable) if self.construct.fragile else None,
            "check_fragile": checks,
            "verdicts": {v: self.rate(n) for v, n in sorted(self.overall.items())},
            "inconclusive": self.rate(self.overall.get(INCONCLUSIVE, 0)),
            "coverage": {k: self.covered[k] / self.judged[k] for k in self.judged if self.judged[k]},
        }


def run_construct(construct: Construct, family: Any, budget: str, perturbations: Sequence[Variant],
                  rungs: Sequence[Variant], runs: Sequence[Run], noise: float, replicates: int,
                  first_replicate: int = 0, **audit_options: Any) -> Tally:
    """Audit `replicates` noise replicates of one construct on the same runs."""
    tally = Tally(construct, noise)
    for replicate in range(first_replicate, first_replicate + replicates):
        measure = construct.build(runs, noise, replicate)
        result = audit(measure, family, perturbations, rungs, budget=budget, runs=runs, progress=False,
                       **audit_options)
        _count(tally, result)
    return tally


def _count(tally: Tally, result: Any) -> None:
    tally.replicates += 1
    rows = [c for c in result.checks if c.check not in ("benign", "measure")]
    fragile = [c for c in rows if c.verdict == FRAGILE]
    tally.any_fragile += bool(fragile)
    tally.overall[result.verdict] = tally.overall.get(result.verdict, 0) + 1
    for check in {c.check for c in rows}:
        mine = [c for c in rows if c.check == check]
        tally.check_fragile.setdefault(check, []).append(sum(c.verdict == FRAGILE for c in mine) / len(mine))
    target = tally.construct.target
    if target is not None:
        planted = [c.verdict for c in rows if (c.check, c.variant) == target]
        tally.target_fragile += FRAGILE in planted
        tally.target_stable += STABLE in planted
    for name, true in tally.construct.truth.items():
        estimate = _estimate_of(result, name, target)
        if estimate is not None and estimate.has_interval:
            tally.judged[name] = tally.judged.get(name, 0) + 1
            tally.covered[name] = tally.covered.get(name, 0) + (estimate.low <= true <= estimate.high)


def _estimate_of(result: Any, name: str, target: tuple[str, str] | None) -> Any:
    """The estimate whose coverage a truth speaks of, from the audit's rows."""
    variant = target[1] if target else None
    for row in result.checks:
        if name == "base_trend" and row.check == "trend" and row.base_measure_exponent is not None:
            return row.base_measure_exponent
        if name == "target_trend" and row.check == "trend" and row.variant == variant:
            return row.measure_exponent
        if name == "exponent_difference" and row.check == "scaling" and row.variant == variant:
            return row.difference
        if name == "level_difference" and row.check == "value" and row.variant == variant:
            return row.difference
    return None


def inconclusive_share(tallies: Sequence[Tally]) -> float:
    """The mean share of audits whose verdict was inconclusive."""
    return mean(t.rate(t.overall.get(INCONCLUSIVE, 0)) for t in tallies)
