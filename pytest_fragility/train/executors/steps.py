"""The steps every executor takes, whatever trains the networks.

Serve what the store holds; claim the per-network locks this process can take without
waiting; train the claimed jobs in batched ensembles; store each result as it arrives;
wait for the jobs another process is training (or train them here if it died without a
result); name every job that could not be trained. Executors differ only in where an
ensemble trains.
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from typing import Any, Callable, Sequence

import torch
from filelock import Timeout

from pytest_fragility.train.batched import train_batched
from pytest_fragility.train.executors import ExecutionReport, NetworkStore
from pytest_fragility.train.jobs import TrainedNetwork, TrainingJob
from pytest_fragility.train.reference import train_reference
from pytest_fragility.train.setup import TrainingSetup

CPU_MAX_MEMBERS = 64
GPU_MEMORY_FRACTION = 0.5

Advance = Callable[[int], None]


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


def groups(jobs: list[TrainingJob], setup: TrainingSetup, device: torch.device) -> list[list[TrainingJob]]:
    """The ensembles to train: one job each when the setup cannot be batched."""
    def cap(job: TrainingJob) -> int:
        if not setup.batched:
            return 1
        return max_members(job, math.prod(setup.view(job.recipe).input_shape), device)

    return ensembles(jobs, cap)


def _record_stored(report: ExecutionReport, job: TrainingJob, found: Any) -> None:
    report.results[job.key()] = found
    report.cached += 1


def serve_from_store(jobs: Sequence[TrainingJob], store: NetworkStore, report: ExecutionReport) -> list[TrainingJob]:
    """Record the jobs the store holds; return the missing ones (de-duplicated, in order)."""
    missing = []
    for job in dict.fromkeys(jobs):
        found = store.get(job)
        if found is None:
            missing.append(job)
        else:
            _record_stored(report, job, found)
    return missing


def claim(jobs: Sequence[TrainingJob], store: NetworkStore, report: ExecutionReport, advance: Advance,
          locks: contextlib.ExitStack) -> tuple[list[TrainingJob], list[TrainingJob]]:
    """Take the per-key locks we can get without waiting (held until `locks` closes).

    Returns (mine, theirs): the jobs this process must train, and those another process is
    training now. A job found in the store once locked was trained meanwhile: recorded.
    """
    mine, theirs = [], []
    for job in jobs:
        lock = store.lock(job.key())
        try:
            lock.acquire(timeout=0)
        except Timeout:
            theirs.append(job)
            continue
        locks.callback(lock.release)
        found = store.get(job)
        if found is None:
            mine.append(job)
        else:
            _record_stored(report, job, found)
            advance(1)
    return mine, theirs


def wait_for(jobs: Sequence[TrainingJob], store: NetworkStore, report: ExecutionReport,
             advance: Advance, train: Callable[[list[TrainingJob]], None]) -> None:
    """Jobs another process was training: wait for its lock (saying every few seconds which
    run waits for which process), read its result, or (if it died without one) train it here."""
    for job in jobs:
        lock = store.lock(job.key())
        lock.wait(f"run {describe_job(job)} (key {job.key()[:12]})")
        try:
            found = store.get(job)
            if found is None:
                train([job])
            else:
                _record_stored(report, job, found)
                advance(1)
        finally:
            lock.release()


def storer(store: NetworkStore, report: ExecutionReport, advance: Advance) -> Callable[[TrainedNetwork], None]:
    """Write one trained network into the store and the report."""
    def put(trained: TrainedNetwork) -> None:
        report.results[trained.job.key()] = store.put(trained)
        report.trained += 1
        advance(1)

    return put


def record_failure(jobs: Sequence[TrainingJob], error: BaseException, report: ExecutionReport,
                   advance: Advance) -> None:
    """These jobs could not be trained: named in the report; the audit goes on without them."""
    message = str(error).strip().splitlines()[-1] if str(error).strip() else ""
    for job in jobs:
        if job.key() not in report.results:
            report.failed[job.key()] = f"{describe_job(job)}: {type(error).__name__}: {message}"
            advance(1)


def train_group(group: Sequence[TrainingJob], view: Any, setup: TrainingSetup, device: torch.device,
                on_done: Callable[[TrainedNetwork], None]) -> None:
    """Train one ensemble (or, for a setup that cannot be batched, its jobs one by one)."""
    if setup.batched and len(group) > 1:
        train_batched(group, view, setup.model, setup.init, device, on_done=on_done)
    else:
        for job in group:
            on_done(train_reference(job, view, setup.model, setup.init, device))
