"""Executors: a list of training jobs in, trained networks in the model store out.

The interface is deliberately narrow (`run(jobs, setup, store, ...)` → `ExecutionReport`)
so that an executor on a distributed engine is a new module beside `local`, not a
rewrite. Executors see a `TrainingSetup`, never a family, and a `NetworkStore`: the
model store of `pytest_fragility.runs` implements it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from pytest_fragility.errors import unknown

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from pytest_fragility.train.jobs import TrainedNetwork, TrainingJob
    from pytest_fragility.train.setup import TrainingSetup

EXECUTORS = ("local", "ray")


class NetworkLock(Protocol):
    """One network's lock: `acquire` raises filelock.Timeout; `wait` blocks, saying whom it waits for."""

    def acquire(self, timeout: float) -> None: ...
    def release(self) -> None: ...
    def wait(self, what: str) -> None: ...


class NetworkStore(Protocol):
    """Where executors find and put trained networks, one lock per network."""

    def get(self, job: "TrainingJob") -> Any | None: ...
    def put(self, trained: "TrainedNetwork") -> Any: ...
    def lock(self, key: str) -> NetworkLock: ...


@dataclass
class ExecutionReport:
    """What an executor did: the stored entry of every job it can serve, how many it
    trained or found stored, and the jobs that failed (key → message naming the run)."""

    results: dict[str, Any] = field(default_factory=dict)
    trained: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class Executor(Protocol):
    def run(self, jobs: Sequence["TrainingJob"], setup: "TrainingSetup", store: NetworkStore, *,
            device: "torch.device", progress: bool) -> ExecutionReport: ...


def get_executor(name: str | None = None, *, address: str | None = None) -> Executor:
    """An executor by name: `local` (default) or `ray` (needs pytest-fragility[ray])."""
    if name in (None, "local"):
        from pytest_fragility.train.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from pytest_fragility.train.executors.ray import RayExecutor

        return RayExecutor(address=address)
    raise unknown("executor", name, EXECUTORS)
