"""`Family`: a base recipe, a model factory, a dataset and budgets of sizes and seeds.

`family.runs(budget, variants)` expands the grid (variant × m × seed), has the
executor train what the cache lacks, and returns lazily loaded `Run` objects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from pytest_fragility.cache import CachedRun, ModelCache, default_cache_dir
from pytest_fragility.devices import resolve_device
from pytest_fragility.errors import CacheError, ConfigurationError
from pytest_fragility.families.budgets import Budget, pick, standard_budgets
from pytest_fragility.families.datasets import Dataset, TaskView, load_dataset, register_dataset, task_view
from pytest_fragility.families.models import build_model, initialize, output_units
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.run import Run
from pytest_fragility.train.jobs import ModelFactory, TrainingJob, member_data
from pytest_fragility.variants import BASE, Variant


def he_init(model: nn.Module, generator: torch.Generator, recipe: Recipe) -> None:
    """The default initialization: He-normal weights, N(0, bias_std²) biases."""
    initialize(model, generator, recipe.init_scale, recipe.bias_std)


@dataclass(frozen=True)
class GridCell:
    """One network of an audit grid: which variant, recipe, size and seed."""

    variant: Variant
    recipe: Recipe
    m: int
    seed: int

    @property
    def job(self) -> TrainingJob:
        return TrainingJob(self.recipe, self.m, self.seed)


@dataclass(frozen=True, eq=False)
class Family:
    """A model family. Built-in ones come from `pf.families.get(name)`; define your own
    with your dataset (a `Dataset` registered under `recipe.dataset`) and a model
    factory ``model(recipe, input_shape, num_outputs) -> nn.Module``."""

    name: str
    recipe: Recipe
    model: ModelFactory = build_model
    init: Callable[[nn.Module, torch.Generator, Recipe], None] = he_init
    dataset: Dataset | None = None
    budgets: Mapping[str, Budget] = field(default_factory=standard_budgets)
    batched: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if self.dataset is not None:
            if self.dataset.name != self.recipe.dataset:
                raise ConfigurationError(
                    f"family {self.name!r}: dataset is named {self.dataset.name!r} but the recipe "
                    f"trains on {self.recipe.dataset!r}; use the same name"
                )
            register_dataset(self.dataset.name, self.dataset)

    def with_overrides(self, **overrides: Any) -> "Family":
        """A copy with recipe fields changed (``pf.families.get(name, width=512)``)."""
        if not overrides:
            return self
        return Family(self.name, self.recipe.replace(**overrides), self.model, self.init,
                      self.dataset, self.budgets, self.batched, self.description)

    def budget(self, name: str | Budget) -> Budget:
        return pick(self.budgets, name)

    # -- data ---------------------------------------------------------------------
    def view(self, recipe: Recipe, cache_dir: Path | None = None, data_dir: Path | None = None) -> TaskView:
        return task_view(load_dataset(recipe.dataset, cache_dir, data_dir), recipe.task, recipe.pixel_shuffle)

    # -- grid ---------------------------------------------------------------------
    def grid(self, budget: str | Budget = "quick", variants: Sequence[Variant] = (), *,
             cache_dir: Path | None = None, data_dir: Path | None = None) -> list[GridCell]:
        """Every (variant, m, seed) cell, base first; sizes beyond a variant's pool are left out."""
        chosen = self.budget(budget)
        base = self.recipe.replace(**dict(chosen.overrides))
        cells = []
        pool = load_dataset(base.dataset, cache_dir, data_dir).pool_size
        sizes = chosen.resolve_sizes(pool)
        for variant in (BASE, *variants):
            recipe = variant.apply(base)
            variant_pool = load_dataset(recipe.dataset, cache_dir, data_dir).pool_size
            for m in sizes:
                if m > variant_pool:
                    continue
                cells.extend(GridCell(variant, recipe, m, seed) for seed in chosen.seeds)
        return cells

    def runs(self, budget: str | Budget = "quick", variants: Sequence[Variant] = (), *,
             device: str | torch.device | None = None, cache: ModelCache | str | Path | None = None,
             data_dir: str | Path | None = None, executor: Any = None,
             progress: bool = True) -> "RunSet":
        """Runs of the grid, training (batched) whatever the cache lacks.

        `executor` is "local" (default), "ray", or an executor object.
        """
        from pytest_fragility.train.executor import get_executor

        store = cache if isinstance(cache, ModelCache) else ModelCache(cache or default_cache_dir())
        data_path = Path(data_dir) if data_dir is not None else _env_data_dir()
        torch_device = resolve_device(device)
        cells = self.grid(budget, variants, cache_dir=store.root, data_dir=data_path)
        runner = get_executor(executor) if executor is None or isinstance(executor, str) else executor
        report = runner.run([c.job for c in cells], self, store, device=torch_device,
                            data_dir=data_path, progress=progress)
        runs = [self._run(cell, report.results[cell.job.key()], store, data_path, torch_device)
                for cell in cells if cell.job.key() in report.results]
        return RunSet(runs, report)

    def _run(self, cell: GridCell, cached: CachedRun, store: ModelCache, data_dir: Path | None,
             device: torch.device) -> Run:
        record = cached.record
        source = CachedRunSource(self, cell, cached, store.root, data_dir, device)
        return Run(
            source=source, m=cell.m, seed=cell.seed, variant=cell.variant.name, family=self.name,
            recipe=cell.recipe, train_error=record["train_error"], test_error=record["test_error"],
            train_loss=record["train_loss"], converged=record["converged"], epochs=record["epochs"],
            train_seconds=record["train_seconds"], key=cached.key,
            n_test=load_dataset(cell.recipe.dataset, store.root, data_dir).x_test.shape[0],
        )


class RunSet(list):
    """The runs of one grid (a list), with the executor's report: trained, cached, failed."""

    def __init__(self, runs: Sequence[Run], report: Any) -> None:
        super().__init__(runs)
        self.report = report


def _env_data_dir() -> Path | None:
    value = os.environ.get("FRAGILITY_DATA_DIR")
    return Path(value).expanduser() if value else None


@dataclass(eq=False)
class CachedRunSource:
    """Loads a cached run's tensors on demand, on the requested device."""

    family: Family
    cell: GridCell
    cached: CachedRun
    cache_dir: Path
    data_dir: Path | None
    device: torch.device

    def _view(self) -> TaskView:
        return self.family.view(self.cell.recipe, self.cache_dir, self.data_dir)

    def _model(self, state: dict[str, torch.Tensor]) -> nn.Module:
        view = self._view()
        model = self.family.model(self.cell.recipe, view.input_shape, output_units(view.num_classes))
        model.load_state_dict(state)
        return model.to(device=self.device, dtype=getattr(torch, self.cell.recipe.dtype)).eval()

    def _states(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        try:
            return self.cached.load_states()
        except CacheError:
            self.cached.path.unlink(missing_ok=True)
            raise

    def load_model(self) -> nn.Module:
        return self._model(self._states()[1])

    def load_init_model(self) -> nn.Module:
        return self._model(self._states()[0])

    def train_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        view = self._view()
        data = member_data(self.cell.job, view)
        dtype = getattr(torch, self.cell.recipe.dtype)
        return (view.x_train[data.indices].to(self.device, dtype), data.labels.to(self.device))

    def test_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        view = self._view()
        dtype = getattr(torch, self.cell.recipe.dtype)
        return view.x_test.to(self.device, dtype), view.y_test.to(self.device)
