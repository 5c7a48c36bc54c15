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
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

import torch
from filelock import Timeout

from pytest_fragility.cache import CachedRun, ModelCache
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


class LocalExecutor:
    """Trains in this process: batched ensembles, per-key locks, results into the cache."""

    def run(self, jobs: Sequence[TrainingJob], family: "Family", cache: ModelCache, *,
            device: torch.device, data_dir: Path | None, progress: bool) -> ExecutionReport:
        report = ExecutionReport()
        missing = []
        for job in dict.fromkeys(jobs):  # de-duplicated, order kept
            found = cache.get(job)
            if found is None:
                missing.append(job)
            else:
                report.results[job.key()] = found
                report.cached += 1
        if not missing:
            return report
        with _progress(progress, len(missing)) as advance:
            waiting = []
            for group in self._groups(missing, family, cache, device, data_dir):
                waiting += self._train_group(group, family, cache, device, data_dir, report, advance)
            for job in waiting:  # another process held these: wait for it, then read its result
                with cache.lock(job.key()):
                    found = cache.get(job)
                    if found is None:
                        self._train_group([job], family, cache, device, data_dir, report, advance)
                    else:
                        report.results[job.key()] = found
                        report.cached += 1
                        advance(1)
        return report

    def _groups(self, jobs: list[TrainingJob], family: "Family", cache: ModelCache,
                device: torch.device, data_dir: Path | None) -> list[list[TrainingJob]]:
        def cap(job: TrainingJob) -> int:
            if not family.batched:
                return 1
            features = math.prod(family.view(job.recipe, cache.root, data_dir).input_shape)
            return max_members(job, features, device)

        return ensembles(jobs, cap)

    def _train_group(self, group: list[TrainingJob], family: "Family", cache: ModelCache,
                     device: torch.device, data_dir: Path | None, report: ExecutionReport,
                     advance) -> list[TrainingJob]:
        """Train the jobs of `group` whose locks we get; return those another process holds."""
        with contextlib.ExitStack() as locks:
            mine, theirs = [], []
            for job in group:
                lock = cache.lock(job.key())
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    theirs.append(job)
                    continue
                locks.callback(lock.release)
                found = cache.get(job)  # trained by someone else since we looked
                if found is None:
                    mine.append(job)
                else:
                    report.results[job.key()] = found
                    report.cached += 1
                    advance(1)
            if mine:
                self._train(mine, family, cache, device, data_dir, report, advance)
        return theirs

    def _train(self, jobs: list[TrainingJob], family: "Family", cache: ModelCache,
               device: torch.device, data_dir: Path | None, report: ExecutionReport, advance) -> None:
        view = family.view(jobs[0].recipe, cache.root, data_dir)

        def store(trained: TrainedRun) -> None:
            report.results[trained.job.key()] = cache.put(trained)
            report.trained += 1
            advance(1)

        try:
            if family.batched and len(jobs) > 1:
                train_batched(jobs, view, family.model, family.init, device, on_done=store)
            else:
                for job in jobs:
                    store(train_reference(job, view, family.model, family.init, device))
        except Exception as error:  # the audit goes on; these runs are reported as failed
            for job in jobs:
                if job.key() not in report.results:
                    report.failed[job.key()] = f"{describe_job(job)}: {type(error).__name__}: {error}"
                    advance(1)


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator:
    """A rich progress bar over trained networks (silent when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("train", total=total)
        yield lambda n: bar.advance(task, n)
