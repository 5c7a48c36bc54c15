"""Training on a Ray cluster, behind the same interface as the local executor.

The driver groups jobs into batched ensembles, puts each dataset view into Ray's object
store once, and submits one task per ensemble with the resources it needs (CPUs, a GPU
when the device is CUDA). Trained weights come back to the driver, which writes them into
its own content-addressed cache: nothing on the cluster needs the user's cache folder. A
task whose worker dies (killed, out of memory) is retried a bounded number of times by
Ray, then reported as those runs' error; whatever finished is kept, and a rerun trains
only what is missing. Measures are computed on the driver.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from pytest_fragility.cache import ModelCache
from pytest_fragility.errors import MissingDependencyError
from pytest_fragility.train.executor import (
    ExecutionReport,
    LocalExecutor,
    claim,
    progress_bar,
    record_failure,
    serve_from_cache,
    storer,
    train_group,
    wait_for,
)
from pytest_fragility.train.jobs import TrainedRun, TrainingJob

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.families.family import Family

DEFAULT_RETRIES = 2


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "the Ray executor needs Ray: pip install 'pytest-fragility[ray]'") from None
    return ray


def _train_task(family: "Family", group: list[TrainingJob], view: Any, device: str) -> list[TrainedRun]:
    """Runs on a Ray worker: one ensemble, results returned to the driver."""
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    trained: list[TrainedRun] = []
    train_group(group, view, family, torch.device(device), trained.append)
    return trained


class RayExecutor:
    """Submits ensembles as Ray tasks; `address` is a cluster (default RAY_ADDRESS, else a
    local Ray started on demand)."""

    def __init__(self, address: str | None = None, *, max_retries: int = DEFAULT_RETRIES,
                 cpus_per_task: float = 1.0) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.max_retries = max_retries
        self.cpus_per_task = cpus_per_task
        self.tasks_submitted = 0

    def _ray(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        return ray

    def run(self, jobs: Sequence[TrainingJob], family: "Family", cache: ModelCache, *,
            device: torch.device, data_dir: Path | None, progress: bool) -> ExecutionReport:
        report = ExecutionReport()
        missing = serve_from_cache(jobs, cache, report)
        if not missing:
            return report  # served from the cache: Ray is not even started
        ray = self._ray()
        with progress_bar(progress, len(missing)) as advance:
            with contextlib.ExitStack() as locks:
                mine, theirs = claim(missing, cache, report, advance, locks)
                self._submit_and_collect(ray, mine, family, cache, device, data_dir, report, advance)
            wait_for(theirs, cache, report, advance,
                     lambda jobs: self._submit_and_collect(ray, jobs, family, cache, device, data_dir, report,
                                                           advance))
        return report

    def _submit_and_collect(self, ray: Any, jobs: list[TrainingJob], family: "Family", cache: ModelCache,
                            device: torch.device, data_dir: Path | None, report: ExecutionReport,
                            advance: Callable[[int], None]) -> None:
        if not jobs:
            return
        task = ray.remote(_train_task).options(
            num_cpus=self.cpus_per_task, num_gpus=1 if device.type == "cuda" else 0,
            max_retries=self.max_retries, retry_exceptions=False)
        views: dict[tuple, Any] = {}
        pending: dict[Any, list[TrainingJob]] = {}
        for group in LocalExecutor.groups(jobs, family, cache, torch.device("cpu"), data_dir):
            recipe = group[0].recipe
            key = (recipe.dataset, recipe.task, recipe.pixel_shuffle)
            if key not in views:
                views[key] = ray.put(family.view(recipe, cache.root, data_dir))
            pending[task.remote(family, group, views[key], str(device))] = group
            self.tasks_submitted += 1
        store = storer(cache, report, advance)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(done[0])
            try:
                trained = ray.get(done[0])
            except Exception as error:  # the task died after its retries, or raised
                record_failure(group, error, report, advance)
                continue
            for run in trained:
                store(run)
