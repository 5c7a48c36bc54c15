"""Closed-form families: runs with known learning curves and no training.

For tests of the tool and of tools built on it, and for calibrating a measure before
spending CPU on real networks: test error follows a power law per variant with seeded
log-normal noise, so an audit of a synthetic measure whose truth you set (test error
times noise, a trend flip, a data-blind measure) takes milliseconds and has a known
right answer. Runs carry no network (`run.model` is a placeholder); a synthetic measure
reads `run.test_error`, `run.m`, `run.variant`, `run.seed` and draws its own noise with
`standard_normal`, or reuses the draw behind the run's test error with `error_draw`::

    family = ClosedFormFamily("calibration", errors={"lr×2": PowerLaw(2.4, -0.5)})
    pf.families.register(family)
    result = pf.audit(lambda run: run.test_error * math.exp(0.05 * error_draw(run)), family,
                      perturbations=[pf.perturb.lr(2)])

Each run also carries `run.recipe`: the family's `recipe` with its variant applied, the
record of what the variant changed. A synthetic measure (or test error, through `law`)
can then depend on the strength of a change, not only on its name: the closed-form
truth a fragility search is validated against (a trend that flips at lr × 3)::

    family = ClosedFormFamily("toy", law=lambda recipe: PowerLaw(2.0, -0.5 - 0.01 * recipe.momentum))
    flips = lambda run: run.m ** (0.3 if run.recipe.lr < 3 * family.recipe.lr else -0.3)

Importing this module loads neither torch nor numpy.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from pytest_fragility.families.budgets import Budget, pick, standard_budgets
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.runs.run import Run
from pytest_fragility.runs.runset import RunSet
from pytest_fragility.spec.variants import BASE, Variant

__all__ = ["ClosedFormFamily", "PowerLaw", "error_draw", "standard_normal"]

POOL = 10_000     # the training pool budgets resolve their sizes against (quick: 100..1,600)
TEST_SET = 10_000  # the test-set size each run reports (it weights the robust sign error)


@dataclass(frozen=True)
class PowerLaw:
    """e(m) = scale · m^exponent."""

    scale: float = 2.0
    exponent: float = -0.5

    def __call__(self, m: float) -> float:
        return self.scale * m ** self.exponent


class ClosedFormModel:
    """The placeholder `run.model` of a closed-form run: there is no network to read."""

    def __repr__(self) -> str:
        return "ClosedFormModel()"


def _shapes() -> dict[str, Budget]:
    """The grid shapes of the built-in budgets (sizes and seeds; recipe overrides do not apply)."""
    return {name: Budget(name, budget.seeds, budget.sizes, budget.count, budget.low, budget.high)
            for name, budget in standard_budgets().items()}


@dataclass(frozen=True, eq=False)
class ClosedFormFamily:
    """A family whose runs are synthetic. `errors` maps variant names to power laws of
    test error (unlisted variants use `base`); `law`, when given, maps a run's recipe to its
    power law instead (test error that depends on a change's strength); `noise` is the std
    of ln(error) per run; `lost` maps variant names to the share of their runs that miss
    the stopping rule (at the epoch cap, as a real family's would), to see what reports say
    about them; `recipe` is the recipe variants change (`run.recipe`); `budgets` default to
    the grid shapes of the built-in budgets."""

    name: str
    base: PowerLaw = PowerLaw()
    errors: Mapping[str, PowerLaw] = field(default_factory=dict)
    noise: float = 0.02
    budgets: Mapping[str, Budget] = field(default_factory=_shapes)
    description: str = "closed-form learning curves (no training)"
    lost: Mapping[str, float] = field(default_factory=dict)
    recipe: Recipe = Recipe()
    law: Callable[[Recipe], PowerLaw] | None = None

    def budget(self, name: str | Budget) -> Budget:
        return pick(self.budgets, name)

    def runs(self, budget: str | Budget = "quick", variants: Sequence[Variant] = (), **_: Any) -> RunSet:
        """One run per (variant, m, seed) of the budget's grid; options of trained families
        (device, cache, executor, …) are accepted and have nothing to do."""
        chosen = self.budget(budget)
        runs = []
        for variant in (BASE, *variants):
            recipe = variant.apply(self.recipe)
            law = self.law(recipe) if self.law is not None else self.errors.get(variant.name, self.base)
            cells = [(m, seed) for m in chosen.resolve_sizes(POOL) for seed in chosen.seeds]
            lost = set(cells[len(cells) - round(self.lost.get(variant.name, 0.0) * len(cells)):])  # largest m first
            for m, seed in cells:
                error = min(1.0, law(m) * math.exp(self.noise * standard_normal(variant.name, m, seed)))
                runs.append(Run(model=ClosedFormModel(), m=m, seed=seed, variant=variant.name,  # type: ignore[arg-type]
                                family=self.name, recipe=recipe, test_error=error,
                                train_error=0.0 if (m, seed) not in lost else 0.05, train_loss=0.1,
                                converged=(m, seed) not in lost, epochs=0, n_test=TEST_SET))
        return RunSet(runs)


def error_draw(run: Run) -> float:
    """The standard-normal draw behind a closed-form run's test-error noise."""
    return standard_normal(run.variant, run.m, run.seed)


def standard_normal(*parts: object) -> float:
    """A deterministic N(0, 1) draw from its parts (Box–Muller on a SHA-256 hash)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / (2 ** 64 + 2)
    u2 = int.from_bytes(digest[8:16], "big") / 2 ** 64
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
