"""`Family`: a base recipe, a model factory, a dataset and budgets of sizes and seeds.

A family only declares what to train. `family.runs(budget, variants)` is the
convenience entry point to its trained networks; the work (grid expansion, training
what the cache lacks, loading runs) lives in `pytest_fragility.runs.grid`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import torch
from torch import nn

from pytest_fragility.errors import ConfigurationError
from pytest_fragility.families.budgets import Budget, pick, standard_budgets
from pytest_fragility.families.datasets import Dataset, register_dataset
from pytest_fragility.families.models import build_model, initialize
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.spec.variants import Variant

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.runset import RunSet

ModelFactory = Callable[[Recipe, Sequence[int], int], nn.Module]
Initializer = Callable[[nn.Module, torch.Generator, Recipe], None]


def he_init(model: nn.Module, generator: torch.Generator, recipe: Recipe) -> None:
    """The default initialization: He-normal weights, N(0, bias_std²) biases."""
    initialize(model, generator, recipe.init_scale, recipe.bias_std)


@dataclass(frozen=True, eq=False)
class Family:
    """A model family. Built-in ones come from `pf.families.get(name)`; define your own
    with your dataset (a `Dataset` registered under `recipe.dataset`) and a model
    factory ``model(recipe, input_shape, num_outputs) -> nn.Module``.

    A budget may change recipe fields (the smoke budget trains narrow nets); fields the
    user set with `with_overrides` (``pf.families.get(name, max_epochs=300)``) are
    `pinned` and win over the budget's changes."""

    name: str
    recipe: Recipe
    model: ModelFactory = build_model
    init: Initializer = he_init
    dataset: Dataset | None = None
    budgets: Mapping[str, Budget] = field(default_factory=standard_budgets)
    batched: bool = True
    description: str = ""
    pinned: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.dataset is not None:
            if self.dataset.name != self.recipe.dataset:
                raise ConfigurationError(
                    f"family {self.name!r}: dataset is named {self.dataset.name!r} but the recipe "
                    f"trains on {self.recipe.dataset!r}; use the same name"
                )
            register_dataset(self.dataset.name, self.dataset)

    def with_overrides(self, **overrides: Any) -> "Family":
        """A copy with recipe fields changed (``pf.families.get(name, width=512)``); the
        changed fields are pinned: no budget changes them back."""
        if not overrides:
            return self
        return dataclasses.replace(self, recipe=self.recipe.replace(**overrides),
                                   pinned=self.pinned | frozenset(overrides))

    def budget(self, name: str | Budget) -> Budget:
        return pick(self.budgets, name)

    def budget_changes(self, budget: str | Budget) -> list[tuple[str, Any, Any, bool]]:
        """The budget's recipe changes: (field, family value, budget value, applied); a
        change to a pinned field is listed and not applied."""
        return [(name, getattr(self.recipe, name), value, name not in self.pinned)
                for name, value in self.budget(budget).overrides]

    def describe_budget(self, budget: str | Budget, pool: int | None = None) -> str:
        """'sizes 32, 64, 128; seeds 0, 1; recipe width 256 → 32, …': a budget's grid and the
        recipe changes it makes to this family (a pinned field says it was kept)."""
        changes = [f"{name} {old} → {new}" if applied else f"{name} {old} (yours: the budget's {new} not applied)"
                   for name, old, new, applied in self.budget_changes(budget) if old != new or not applied]
        return self.budget(budget).describe_grid(pool) + ("; recipe " + ", ".join(changes) if changes else "")

    def recipe_at(self, budget: str | Budget) -> Recipe:
        """The base recipe a budget trains: the family's, with the budget's changes to the
        fields the user did not pin."""
        return self.recipe.replace(**{name: value for name, _, value, applied in self.budget_changes(budget)
                                      if applied})

    def runs(self, budget: str | Budget = "quick", variants: Sequence[Variant] = (), **options: Any) -> "RunSet":
        """The family's runs at `budget` for the base and `variants`, trained where the cache
        lacks them; options as `pytest_fragility.runs.grid.family_runs`."""
        from pytest_fragility.runs.grid import family_runs  # a convenience: the runs layer sits above

        return family_runs(self, budget, variants, **options)
