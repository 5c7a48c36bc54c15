"""Validation of the search on closed-form families whose break point is known.

Each scenario is a closed-form family (test error as a function of the run's recipe) and a
synthetic measure that reads the strength of the change from `run.recipe`, so where the
measure breaks is known exactly. Searching many noise replicates gives the rates the search
promises: how often it reports the break within its stated precision, and how often it
reports a counterexample where there is none (its false discovery rate).

- `step`: the measure's trend flips (m^+0.3 → m^−0.3) at lr × 3; test error does not move.
  Correct: the nearest counterexample is on lr, at a factor in [3, 3 · e^precision].
- `smooth`: the measure's exponent grows smoothly with momentum, Δβ = k · ln 1/(1 − μ),
  pivoting at the grid's central size (its level does not move). Δβ reaches the 0.25
  tolerance at c* = 0.25/k (in ln 1/(1 − μ)); the scaling rule calls it once the interval's
  lower end clears the tolerance, on average where Δβ = 0.25 + t · se. Correct: the break is
  reported between c* and that point plus the axis's precision. Reported below c* is *early*
  (a break where there is none); reported later only says the rule's own detection point
  scatters with the noise.
- `beyond-band`: the same flip at lr × 3, but test error's exponent moves 0.3 per unit of
  ln(factor), so the change stops being benign (|Δβ_e| > 0.1) long before × 3. Correct: no
  counterexample (a break outside the benign band is not one).
- `null`: test error times noise, which nothing breaks. Correct: no counterexample.

`benchmarks/bench_search.py --validate` prints the rates (docs/search.md); the test suite
runs a small seeded version and asserts them with binomial slack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from pytest_fragility.auditing import stats
from pytest_fragility.runs.run import Run
from pytest_fragility.searching.axes import Axis, lr, momentum
from pytest_fragility.searching.engine import search
from pytest_fragility.testing import POOL, ClosedFormFamily, PowerLaw, standard_normal

FLIP_AT = 3.0           # the step scenario's break: lr × 3
FLIP_EXPONENT = 0.3
SMOOTH_SLOPE = 1 / 6    # Δβ per unit of ln 1/(1 − μ): the tolerance 0.25 is reached at 1.5 (μ ≈ 0.78)
BAND_SLOPE = 0.3        # beyond-band: test error's exponent change per unit of ln(lr factor)
EXPONENT_TOLERANCE = 0.25


@dataclass(frozen=True)
class Scenario:
    """A family, a measure per noise replicate, the axes to search and what a correct search reports."""

    name: str
    family: ClosedFormFamily
    measure: Callable[[float, int, float], Callable[[Run], float]]  # (noise, replicate, centre) -> measure
    axes: tuple[Axis, ...]
    breaks: bool
    # (noise, budget) -> where the break is, in the axis's coordinate: from the true crossing to
    # where the rule detects it on average (the same point for a step)
    expected: Callable[[float, str], tuple[float, float]] | None = None

    def judge(self, result: Any, noise: float, budget: str) -> tuple[bool, bool]:
        """Whether a search's result is what the truth says (correct), and whether it reported a
        break before the true one (early: a false break, the error a search must not make)."""
        point = result.counterexample
        if not self.breaks or point is None:
            return point is None and not self.breaks, False
        axis = next(a for a in result.axes if a.name == point.axis)
        crossing, detected = self.expected(noise, budget)  # type: ignore[misc]
        found = _coordinate(axis, point.strength)
        early = found < crossing - 1e-9
        return not early and found <= detected + axis.precision + 1e-9, early


def _coordinate(axis: Axis, strength: float) -> float:
    return -math.log1p(-strength) if axis.scale == "effective-step" else math.log(strength)


def _noise(noise: float, replicate: int, run: Run) -> float:
    return math.exp(noise * standard_normal("search-validation", replicate, run.variant, run.m, run.seed))


def _factor(run: Run, family: ClosedFormFamily) -> float:
    return run.recipe.lr / family.recipe.lr  # type: ignore[union-attr]


def scenarios() -> dict[str, Scenario]:
    plain = ClosedFormFamily("search-validation")
    banded = ClosedFormFamily(
        "search-validation-band",
        law=lambda recipe: PowerLaw(2.0, -0.5 + BAND_SLOPE * math.log(recipe.lr / plain.recipe.lr)))

    def step(family: ClosedFormFamily) -> Callable[[float, int, float], Callable[[Run], float]]:
        def build(noise: float, replicate: int, centre: float) -> Callable[[Run], float]:
            def measure(run: Run) -> float:
                sign = 1 if _factor(run, family) < FLIP_AT else -1
                return 2.0 * run.m ** (sign * FLIP_EXPONENT) * _noise(noise, replicate, run)
            return measure
        return build

    def smooth(noise: float, replicate: int, centre: float) -> Callable[[Run], float]:
        def measure(run: Run) -> float:
            shift = SMOOTH_SLOPE * -math.log1p(-run.recipe.momentum)  # type: ignore[union-attr]
            return 2.0 * math.exp((0.2 + shift) * (math.log(run.m) - centre)) * _noise(noise, replicate, run)
        return measure

    def null(noise: float, replicate: int, centre: float) -> Callable[[Run], float]:
        return lambda run: run.test_error * _noise(noise, replicate, run)

    return {
        "step": Scenario("step", plain, step(plain), (lr(),), True,
                         lambda noise, budget: (math.log(FLIP_AT), math.log(FLIP_AT))),
        "smooth": Scenario("smooth", plain, smooth, (momentum(),), True,
                           lambda noise, budget: _smooth_break(plain, noise, budget)),
        "beyond-band": Scenario("beyond-band", banded, step(banded), (lr(),), False),
        "null": Scenario("null", plain, null, (lr(), momentum()), False),
    }


def _log_sizes(family: ClosedFormFamily, budget: str) -> list[float]:
    return [math.log(m) for m in family.budget(budget).resolve_sizes(POOL)]


def _smooth_break(family: ClosedFormFamily, noise: float, budget: str) -> tuple[float, float]:
    """Where Δβ crosses the tolerance, and where the scaling rule's expected interval clears it:
    Δβ = 0.25 + t · se, with se the standard error of a paired exponent difference of iid
    log-noise `noise` per run."""
    log_m = _log_sizes(family, budget)
    centre = sum(log_m) / len(log_m)
    sxx = sum((x - centre) ** 2 for x in log_m)
    n = len(family.budget(budget).seeds)
    se = noise * math.sqrt(2 / sxx) / math.sqrt(n)
    return EXPONENT_TOLERANCE / SMOOTH_SLOPE, (EXPONENT_TOLERANCE + stats.t_quantile(0.975, n - 1) * se) / SMOOTH_SLOPE


@dataclass
class Rates:
    """Outcomes of one scenario over its replicates."""

    scenario: str
    noise: float
    replicates: int = 0
    correct: int = 0
    early: int = 0
    found: int = 0
    points: int = 0

    def as_row(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "noise": self.noise, "replicates": self.replicates,
                "correct": self.correct / self.replicates, "early": self.early / self.replicates,
                "found": self.found / self.replicates, "mean points": self.points / self.replicates}


def validate(name: str, noise: float, replicates: int, budget: str = "quick", first: int = 0,
             cache: Any = None) -> Rates:
    """Search `replicates` noise replicates of one scenario and count the correct reports."""
    scenario = scenarios()[name]
    rates = Rates(name, noise)
    log_m = _log_sizes(scenario.family, budget)
    for replicate in range(first, first + replicates):
        measure = scenario.measure(noise, replicate, sum(log_m) / len(log_m))
        result = search(measure, scenario.family, scenario.axes, budget,
                        database=False, cache=cache)
        correct, early = scenario.judge(result, noise, budget)
        rates.replicates += 1
        rates.correct += correct
        rates.early += early
        rates.found += result.counterexample is not None
        rates.points += len(result.points)
    return rates
