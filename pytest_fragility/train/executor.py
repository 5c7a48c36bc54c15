"""Executors: a list of training jobs in, runs in the cache out.

The local executor trains in this process, grouping jobs into batched ensembles.
The interface is deliberately narrow (`run(jobs, family, cache, ...)` →
`ExecutionReport`) so that an executor on a distributed engine is a new module
beside this one, not a rewrite.
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

import torch
from filelock import Timeout

from pytest_fragility.cache import CachedRun, ModelCache
from pytest_fragility.errors import unknown
from pytest_fragility.train.batched import train_batched
from pytest_fragility.train.jobs import TrainedRun, TrainingJob
from pytest_fragility.train.reference import train_reference

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.families.family import Family

CPU_MAX_MEMBERS = 64
GPU_MEMORY_FRACTION = 0.5


@dataclass
class ExecutionReport:
    """What an executor did: runs now in the cache, and how many it trained or found."""

    results: dict[str, CachedRun] = field(default_factory=dict)
    trained: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def non_converged(self) -> int:
        return sum(1 for r in self.results.values() if not r.record["converged"])


class Executor(Protocol):
    def run(self, jobs: Sequence[TrainingJob], family: "Family", cache: ModelCache, *,
            device: torch.device, data_dir: Path | None, progress: bool) -> ExecutionReport: ...


def describe_job(job: TrainingJob) -> str:
    r = job.recipe
    return f"{r.dataset} {r.arch} {r.optimizer} lr={r.lr:g} noise={r.label_noise:g} m={job.m} seed={job.seed}"


def ensembles(jobs: Sequence[TrainingJob], cap: Callable[[TrainingJob], int]) -> list[list[TrainingJob]]:
    """Jobs grouped by what they must share, split into balanced ensembles of at most
    `cap(first job)` members."""
    groups: dict[tuple, list[TrainingJob]] = defaultdict(list)
    for job in jobs:
        groups[(job.recipe.ensemble_key(), job.m)].append(job)
    out = []
    for members in groups.values():
        parts = math.ceil(len(members) / cap(members[0]))
        size = math.ceil(len(members) / parts)  # balanced chunks
        out.extend(members[i:i + size] for i in range(0, len(members), size))
    return out


def max_members(job: TrainingJob, view_features: int, device: torch.device) -> int:
    """How many members fit: a fixed cap on the CPU; on a GPU, a share of free memory."""
    if device.type != "cuda":
        return CPU_MAX_MEMBERS
    free, _ = torch.cuda.mem_get_info(device)
    r = job.recipe
    params = view_features * r.width + (r.depth - 1) * r.width ** 2 + r.width
    activations = (r.batch_size + 8192) * (view_features + r.depth * r.width) * 2
    per_member = 8 * (5 * params + activations)  # weights, grads, 2 optimizer states, scratch
    return max(1, int(free * GPU_MEMORY_FRACTION // per_member))


def _record_cached(report: ExecutionReport, job: TrainingJob, found: CachedRun) -> None:
    report.results[job.key()] = found
    report.cached += 1


def serve_from_cache(jobs: Sequence[TrainingJob], cache: ModelCache, report: ExecutionReport) -> list[TrainingJob]:
    """Record the jobs the cache holds; return the missing ones (de-duplicated, in order)."""
    missing = []
    for job in dict.fromkeys(jobs):
        found = cache.get(job)
        if found is None:
            missing.append(job)
        else:
            _record_cached(report, job, found)
    return missing


def claim(jobs: Sequence[TrainingJob], cache: ModelCache, report: ExecutionReport, advance: Callable[[int], None],
          locks: contextlib.ExitStack) -> tuple[list[TrainingJob], list[TrainingJob]]:
    """Take the per-key locks we can get without waiting (held until `locks` closes).

    Returns (mine, theirs): the jobs this process must train, and those another process is
    training now. A job found in the cache once locked was trained meanwhile: recorded.
    """
    mine, theirs = [], []
    for job in jobs:
        lock = cache.lock(job.key())
        try:
            lock.acquire(timeout=0)
        except Timeout:
            theirs.append(job)
            continue
        locks.callback(lock.release)
        found = cache.get(job)
        if found is None:
            mine.append(job)
        else:
            _record_cached(report, job, found)
            advance(1)
    return mine, theirs


def wait_for(jobs: Sequence[TrainingJob], cache: ModelCache, report: ExecutionReport,
             advance: Callable[[int], None], train: Callable[[list[TrainingJob]], None]) -> None:
    """Jobs another process was training: wait for its lock, read its result, or (if it
    died without one) train the job here."""
    for job in jobs:
        with cache.lock(job.key()):
            found = cache.get(job)
            if found is None:
                train([job])
            else:
                _record_cached(report, job, found)
                advance(1)


def storer(cache: ModelCache, report: ExecutionReport, advance: Callable[[int], None]) -> Callable[[TrainedRun], None]:
    """Write one trained run into the cache and the report."""
    def store(trained: TrainedRun) -> None:
        report.results[trained.job.key()] = cache.put(trained)
        report.trained += 1
        advance(1)

    return store


def record_failure(jobs: Sequence[TrainingJob], error: BaseException, report: ExecutionReport,
                   advance: Callable[[int], None]) -> None:
    """These runs could not be trained: named in the report; the audit goes on without them."""
    message = str(error).strip().splitlines()[-1] if str(error).strip() else ""
    for job in jobs:
        if job.key() not in report.results:
            report.failed[job.key()] = f"{describe_job(job)}: {type(error).__name__}: {message}"
            advance(1)


def train_group(group: Sequence[TrainingJob], view: Any, family: "Family", device: torch.device,
                on_done: Callable[[TrainedRun], None]) -> None:
    """Train one ensemble (or, for a family that cannot be batched, its jobs one by one)."""
    if family.batched and len(group) > 1:
        train_batched(group, view, family.model, family.init, device, on_done=on_done)
    else:
        for job in group:
            on_done(train_reference(job, view, family.model, family.init, device))


class LocalExecutor:
    """Trains in this process: batched ensembles, per-key locks, results into the cache.

    Locks are taken one ensemble at a time, so parallel processes (pytest-xdist workers)
    asking for the same family share the work instead of waiting for one another.
    """

    def run(self, jobs: Sequence[TrainingJob], family: "Family", cache: ModelCache, *,
            device: torch.device, data_dir: Path | None, progress: bool) -> ExecutionReport:
        report = ExecutionReport()
        missing = serve_from_cache(jobs, cache, report)
        if not missing:
            return report
        with progress_bar(progress, len(missing)) as advance:
            waiting = []
            for group in self.groups(missing, family, cache, device, data_dir):
                with contextlib.ExitStack() as locks:
                    mine, theirs = claim(group, cache, report, advance, locks)
                    if mine:
                        self._train(mine, family, cache, device, data_dir, report, advance)
                waiting += theirs
            wait_for(waiting, cache, report, advance,
                     lambda jobs: self._train(jobs, family, cache, device, data_dir, report, advance))
        return report

    @staticmethod
    def groups(jobs: list[TrainingJob], family: "Family", cache: ModelCache,
               device: torch.device, data_dir: Path | None) -> list[list[TrainingJob]]:
        def cap(job: TrainingJob) -> int:
            if not family.batched:
                return 1
            features = math.prod(family.view(job.recipe, cache.root, data_dir).input_shape)
            return max_members(job, features, device)

        return ensembles(jobs, cap)

    def _train(self, jobs: list[TrainingJob], family: "Family", cache: ModelCache,
               device: torch.device, data_dir: Path | None, report: ExecutionReport, advance) -> None:
        try:
            train_group(jobs, family.view(jobs[0].recipe, cache.root, data_dir), family, device,
                        storer(cache, report, advance))
        except Exception as error:  # the audit goes on; these runs are reported as failed
            record_failure(jobs, error, report, advance)


def get_executor(name: str | None = None, *, address: str | None = None) -> Executor:
    """An executor by name: `local` (default) or `ray` (needs pytest-fragility[ray])."""
    if name in (None, "local"):
        return LocalExecutor()
    if name == "ray":
        from pytest_fragility.train.ray_executor import RayExecutor

        return RayExecutor(address=address)
    raise unknown("executor", name, ("local", "ray"))


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int) -> Iterator:
    """A rich progress bar over trained networks (silent when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("train", total=total)
        yield lambda n: bar.advance(task, n)
