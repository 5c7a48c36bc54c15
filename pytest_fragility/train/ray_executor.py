"""Training on a Ray cluster, behind the same interface as the local executor.

The driver groups jobs into batched ensembles, puts each dataset view into Ray's object
store once, and submits one task per ensemble with the resources it needs (CPUs, a GPU
when the device is CUDA). Trained weights come back to the driver, which writes them into
its own content-addressed cache: nothing on the cluster needs the user's cache folder. A
task whose worker dies (killed, out of memory) is retried a bounded number of times by
Ray, then reported as those runs' error; whatever finished is kept, and a rerun trains
only what is missing. Measures that declare ``where="cluster"`` (the costly searches and
the marginal-likelihood bound) can be computed beside the runs too (`measure`); the
others run on the driver.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from pytest_fragility.cache import ModelCache
from pytest_fragility.errors import MissingDependencyError
from pytest_fragility.run import Run
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


def _measure_task(run: Any, requests: list[tuple[str, dict[str, Any]]]) -> dict[str, float | str]:
    """Runs on a Ray worker: raw values of built-in measures on one run (errors as text)."""
    from pytest_fragility import measures

    values: dict[str, float | str] = {}
    for name, options in requests:
        try:
            values[name] = float(measures.get(name).compute(run, **options))
        except Exception as error:  # the driver recomputes it and reports it with the run named
            values[name] = f"{type(error).__name__}: {error}"
    return values


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

    def measure(self, requests: Sequence[tuple[Run, list[tuple[str, dict[str, Any]]]]], *,
                progress: bool = False) -> list[dict[str, float | str]]:
        """Compute measures beside the runs: one task per run, the run's tensors sent with it
        (nothing on the cluster reads the cache). Results come back in request order."""
        if not requests:
            return []
        ray = self._ray()
        task = ray.remote(_measure_task).options(num_cpus=self.cpus_per_task, max_retries=self.max_retries,
                                                 retry_exceptions=False)
        refs = []
        for run, names in requests:
            refs.append(task.remote(_portable(run), names))
            self.tasks_submitted += 1
            run.release()
        results: list[dict[str, float | str]] = []
        with progress_bar(progress, len(refs)) as advance:
            for ref in refs:
                try:
                    results.append(ray.get(ref))
                except Exception as error:  # a dead worker: the driver computes these itself
                    results.append({name: f"{type(error).__name__}: {error}" for name, _ in requests[len(results)][1]})
                advance(1)
        return results

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


def _portable(run: Run) -> Run:
    """A self-contained copy of a run (tensors on the CPU, no cache behind it) to send away."""
    cpu = lambda t: None if t is None else t.cpu()  # noqa: E731
    return Run(model=run.model.cpu(), x_train=cpu(run.x_train), y_train=cpu(run.y_train), x_test=cpu(run.x_test),
               y_test=cpu(run.y_test), init_model=None if run.init_model is None else run.init_model.cpu(),
               m=run.m, seed=run.seed, variant=run.variant, family=run.family, recipe=run.recipe,
               train_error=run.train_error, test_error=run.test_error, train_loss=run.train_loss,
               converged=run.converged, epochs=run.epochs, key=run.key)
