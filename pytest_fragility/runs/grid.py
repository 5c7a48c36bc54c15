"""A family's grid as runs: expand (variant × m × seed), train what is missing, load lazily.

`family_runs` is what `Family.runs` does: every cell of the budget's grid becomes a
`TrainingJob`, the executor trains the jobs the model store lacks, and each stored
network comes back as a `Run` whose tensors load on first access.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from pytest_fragility.errors import CacheError
from pytest_fragility.families.budgets import Budget
from pytest_fragility.families.datasets import TaskView, load_dataset
from pytest_fragility.families.family import Family
from pytest_fragility.families.models import output_units
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.runs.cache import Cache, default_cache_dir
from pytest_fragility.runs.devices import resolve_device
from pytest_fragility.runs.model_store import ModelStore, StoredNetwork
from pytest_fragility.runs.run import Run
from pytest_fragility.runs.runset import FailedRun, RunSet, TrainingCounts
from pytest_fragility.spec.variants import BASE, Variant
from pytest_fragility.train.executors import get_executor
from pytest_fragility.train.jobs import TrainingJob, member_data
from pytest_fragility.train.setup import TrainingSetup

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@dataclass(frozen=True)
class GridPoint:
    """One network of a family's grid: the variant it belongs to and its training job."""

    variant: Variant
    job: TrainingJob


def grid(family: Family, budget: str | Budget = "quick", variants: Sequence[Variant] = (), *,
         cache_dir: Path | None = None, data_dir: Path | None = None) -> list[GridPoint]:
    """Every (variant, m, seed) point, base first; sizes beyond a variant's pool are left out."""
    chosen = family.budget(budget)
    base = family.recipe_at(chosen)
    sizes = chosen.resolve_sizes(load_dataset(base.dataset, cache_dir, data_dir).pool_size)
    points = []
    for variant in (BASE, *variants):
        recipe = variant.apply(base)
        dataset = load_dataset(recipe.dataset, cache_dir, data_dir)
        points.extend(GridPoint(variant, TrainingJob(recipe, m, seed, dataset.fingerprint))
                      for m in sizes if m <= dataset.pool_size for seed in chosen.seeds)
    return points


def family_runs(family: Family, budget: str | Budget = "quick", variants: Sequence[Variant] = (), *,
                device: "str | torch.device | None" = None, cache: Cache | str | Path | None = None,
                data_dir: str | Path | None = None, executor: Any = None, progress: bool = True) -> RunSet:
    """Runs of the grid, training (batched) whatever the cache lacks.

    `executor` is "local" (default), "ray", or an executor object.
    """
    store = cache if isinstance(cache, Cache) else Cache(cache or default_cache_dir())
    store.check()
    data_path = Path(data_dir) if data_dir is not None else _env_data_dir()
    torch_device = resolve_device(device)
    points = grid(family, budget, variants, cache_dir=store.root, data_dir=data_path)
    runner = get_executor(executor) if executor is None or isinstance(executor, str) else executor
    setup = TrainingSetup.of(family, store.root, data_path)
    report = runner.run([p.job for p in points], setup, store.models, device=torch_device, progress=progress)
    runs = [_run(family.name, point, report.results[point.job.key()], setup, store.models, torch_device)
            for point in points if point.job.key() in report.results]
    failed = [FailedRun(p.variant.name, p.job.m, p.job.seed, report.failed[p.job.key()])
              for p in points if p.job.key() in report.failed]
    return RunSet(runs, TrainingCounts(report.trained, report.cached, failed))


def _env_data_dir() -> Path | None:
    value = os.environ.get("FRAGILITY_DATA_DIR")
    return Path(value).expanduser() if value else None


def _run(family: str, point: GridPoint, stored: StoredNetwork, setup: TrainingSetup, models: ModelStore,
         device: "torch.device") -> Run:
    record, job = stored.record, point.job
    dataset = load_dataset(job.recipe.dataset, setup.cache_dir, setup.data_dir)
    return Run(
        source=StoredRunSource(job, stored, setup, models, device), m=job.m, seed=job.seed,
        variant=point.variant.name, family=family, recipe=job.recipe,
        train_error=record["train_error"], test_error=record["test_error"], train_loss=record["train_loss"],
        converged=record["converged"], epochs=record["epochs"], train_seconds=record["train_seconds"],
        key=stored.key, n_test=dataset.x_test.shape[0], input_shape=dataset.input_shape,
        data_fingerprint=job.data,
    )


@dataclass(eq=False)
class StoredRunSource:
    """Loads a stored network's tensors and its data on demand, on the requested device.

    Every load returns tensors of this run alone (never the dataset's own), so nothing a
    measure does to them reaches the dataset, the trainer or another run. Weights that fail
    their checksum here (damaged after the grid served them) are retrained on the spot,
    with a warning naming the file.
    """

    job: TrainingJob
    stored: StoredNetwork
    setup: TrainingSetup
    models: ModelStore
    device: "torch.device"

    @property
    def recipe(self) -> Recipe:
        return self.job.recipe

    def _view(self) -> TaskView:
        return self.setup.view(self.recipe)

    def _model(self, state: "dict[str, torch.Tensor]") -> "nn.Module":
        import torch

        view = self._view()
        model = self.setup.model(self.recipe, view.input_shape, output_units(view.num_classes))
        model.load_state_dict(state)
        return model.to(device=self.device, dtype=getattr(torch, self.recipe.dtype)).eval()

    def _states(self) -> "tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]":
        try:
            return self.stored.load_states()
        except CacheError as error:
            self.models.discard(self.stored.path, self.job, str(error).removeprefix(f"{self.stored.path}: "))
        report = get_executor("local").run([self.job], self.setup, self.models, device=self.device, progress=False)
        if self.job.key() not in report.results:
            raise CacheError(f"{self.stored.path} was damaged and retraining failed: "
                             f"{report.failed.get(self.job.key(), 'unknown error')}")
        self.stored = report.results[self.job.key()]
        return self.stored.load_states()

    def load_model(self) -> "nn.Module":
        return self._model(self._states()[1])

    def load_init_model(self) -> "nn.Module":
        return self._model(self._states()[0])

    def train_data(self) -> "tuple[torch.Tensor, torch.Tensor]":
        import torch

        view = self._view()
        data = member_data(self.job, view)
        dtype = getattr(torch, self.recipe.dtype)
        # indexing copies: the subset and its labels belong to this run already
        return view.x_train[data.indices].to(self.device, dtype), data.labels.to(self.device)

    def test_data(self) -> "tuple[torch.Tensor, torch.Tensor]":
        import torch

        view = self._view()
        return _own(view.x_test, self.device, getattr(torch, self.recipe.dtype)), _own(view.y_test, self.device)


def _own(tensor: "torch.Tensor", device: "torch.device", dtype: "torch.dtype | None" = None) -> "torch.Tensor":
    """`tensor` on `device`, never the dataset's own tensor (copied only if `.to` did not copy)."""
    moved = tensor.to(device, dtype) if dtype is not None else tensor.to(device)
    return moved.clone() if moved.data_ptr() == tensor.data_ptr() else moved
