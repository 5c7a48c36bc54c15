"""`RunSet`: the runs of one grid, with what it took to get them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.run import Run


@dataclass(frozen=True)
class FailedRun:
    """A network of the grid that could not be trained: it is missing from the set."""

    variant: str
    m: int
    seed: int
    message: str


@dataclass
class TrainingCounts:
    """How a grid's networks were obtained: trained now, loaded from the cache, or failed."""

    trained: int = 0
    cached: int = 0
    failed: list[FailedRun] = field(default_factory=list)


class RunSet(list):
    """The runs of one grid (a list of `Run`), with their `TrainingCounts`."""

    def __init__(self, runs: Sequence["Run"] = (), training: TrainingCounts | None = None) -> None:
        super().__init__(runs)
        self.training = training or TrainingCounts()

    @property
    def non_converged(self) -> int:
        return sum(1 for run in self if not run.converged)
