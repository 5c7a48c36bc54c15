"""`TrainingSetup`: what a trainer needs besides its jobs.

Executors receive this small object instead of a family: how to build and initialize
a network, whether members can share a batched ensemble, and where datasets are read
from. It is what a Ray task carries to a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_fragility.families.datasets import TaskView, load_dataset, task_view
from pytest_fragility.families.family import Family, Initializer, ModelFactory
from pytest_fragility.families.recipe import Recipe


@dataclass(frozen=True, eq=False)
class TrainingSetup:
    model: ModelFactory
    init: Initializer
    batched: bool
    cache_dir: Path | None = None
    data_dir: Path | None = None

    @classmethod
    def of(cls, family: Family, cache_dir: Path | None, data_dir: Path | None) -> "TrainingSetup":
        return cls(family.model, family.init, family.batched, cache_dir, data_dir)

    def view(self, recipe: Recipe) -> TaskView:
        """The recipe's dataset seen through its task and fixed variants."""
        return task_view(load_dataset(recipe.dataset, self.cache_dir, self.data_dir), recipe.task,
                         recipe.pixel_shuffle)
