"""Training on a Ray cluster, behind the same interface as the local executor.

The driver groups jobs into batched ensembles, puts each dataset view into Ray's object
store once, and submits one task per ensemble with the resources it needs (CPUs, a GPU
when the device is CUDA). Trained weights come back to the driver, which writes them into
its own model store: nothing on the cluster needs the user's cache folder. A task whose
worker dies (killed, out of memory) is retried a bounded number of times by Ray, then
reported as those runs' error; whatever finished is kept, and a rerun trains only what is
missing. `map` runs any function beside the runs (the audit computes its costly measures
there).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from typing import Any, Callable, Sequence

import torch

from pytest_fragility.errors import MissingDependencyError
from pytest_fragility.progress import progress_bar
from pytest_fragility.train.executors import ExecutionReport, NetworkStore, steps
from pytest_fragility.train.jobs import TrainedNetwork, TrainingJob
from pytest_fragility.train.setup import TrainingSetup

DEFAULT_RETRIES = 2
LOGS_VARIABLE = "FRAGILITY_RAY_LOGS"  # set to 1 to see Ray's own messages in your output
logger = logging.getLogger("pytest_fragility.ray")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "the Ray executor needs Ray: pip install 'pytest-fragility[ray]'") from None
    return ray


def ray_logs_wanted() -> bool:
    return os.environ.get(LOGS_VARIABLE, "").lower() not in ("", "0", "false", "no")


def quiet_cluster_messages(ray: Any) -> None:
    """Send the driver's "(raylet) A worker died …" paragraphs to the logger
    ``pytest_fragility.ray`` instead of standard output.

    Ray prints the cluster's error messages from a driver thread, whatever `log_to_driver`
    says; the executor already retries dead tasks and names the runs that failed, so in the
    user's output they are noise. Ray has no switch for it: the thread's printer is wrapped
    (if a Ray version moves it, messages print as Ray prints them).
    """
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "quieted", False):
        return

    @functools.wraps(printer)
    def to_logger(data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if data.get("pid") == "raylet":
            for line in data.get("lines", []):
                logger.info("(raylet) %s", line)
            return
        printer(data, *args, **kwargs)

    to_logger.quieted = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_logger


def _train_task(setup: TrainingSetup, group: list[TrainingJob], view: Any, device: str) -> list[TrainedNetwork]:
    """Runs on a Ray worker: one ensemble, results returned to the driver."""
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    trained: list[TrainedNetwork] = []
    steps.train_group(group, view, setup, torch.device(device), trained.append)
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
        show = ray_logs_wanted()
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=show,
                     logging_level=logging.INFO if show else logging.WARNING)
        if not show:
            quiet_cluster_messages(ray)
        return ray

    def run(self, jobs: Sequence[TrainingJob], setup: TrainingSetup, store: NetworkStore, *,
            device: torch.device, progress: bool) -> ExecutionReport:
        report = ExecutionReport()
        missing = steps.serve_from_store(jobs, store, report)
        if not missing:
            return report  # served from the store: Ray is not even started
        ray = self._ray()
        with progress_bar(progress, len(missing), "training") as advance:
            with contextlib.ExitStack() as locks:
                mine, theirs = steps.claim(missing, store, report, advance, locks)
                self._submit_and_collect(ray, mine, setup, store, device, report, advance)
            steps.wait_for(theirs, store, report, advance,
                     lambda jobs: self._submit_and_collect(ray, jobs, setup, store, device, report, advance))
        return report

    def map(self, function: Callable[..., Any], arguments: Sequence[tuple[Any, ...]], *,
            progress: bool = False) -> list[Any]:
        """``function(*args)`` for each tuple of `arguments`, one Ray task each, results in
        order; a task that fails after its retries gives its exception instead of a result."""
        if not arguments:
            return []
        ray = self._ray()
        task = ray.remote(function).options(num_cpus=self.cpus_per_task, max_retries=self.max_retries,
                                            retry_exceptions=False)
        refs = [task.remote(*args) for args in arguments]
        self.tasks_submitted += len(refs)
        results: list[Any] = []
        with progress_bar(progress, len(refs), "measuring") as advance:
            for ref in refs:
                try:
                    results.append(ray.get(ref))
                except Exception as error:  # a dead worker: the caller decides what to do
                    results.append(error)
                advance(1)
        return results

    def _submit_and_collect(self, ray: Any, jobs: list[TrainingJob], setup: TrainingSetup, store: NetworkStore,
                            device: torch.device, report: ExecutionReport, advance: steps.Advance) -> None:
        if not jobs:
            return
        task = ray.remote(_train_task).options(
            num_cpus=self.cpus_per_task, num_gpus=1 if device.type == "cuda" else 0,
            max_retries=self.max_retries, retry_exceptions=False)
        views: dict[tuple, Any] = {}
        pending: dict[Any, list[TrainingJob]] = {}
        for group in steps.groups(jobs, setup, torch.device("cpu")):
            recipe = group[0].recipe
            key = (recipe.dataset, recipe.task, recipe.pixel_shuffle)
            if key not in views:
                views[key] = ray.put(setup.view(recipe))
            pending[task.remote(setup, group, views[key], str(device))] = group
            self.tasks_submitted += 1
        put = steps.storer(store, report, advance)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(done[0])
            try:
                trained = ray.get(done[0])
            except Exception as error:  # the task died after its retries, or raised
                steps.record_failure(group, error, report, advance)
                continue
            for network in trained:
                put(network)
