"""`RunSet`: the runs of one grid, with what it took to get them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.run import Run


@dataclass
class TrainingCounts:
    """How a grid's networks were obtained: trained now, loaded from the cache, or failed
    to train (key → a message naming the run; those runs are missing from the set)."""

    trained: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class RunSet(list):
    """The runs of one grid (a list of `Run`), with their `TrainingCounts`."""

    def __init__(self, runs: Sequence["Run"] = (), training: TrainingCounts | None = None) -> None:
        super().__init__(runs)
        self.training = training or TrainingCounts()

    @property
    def non_converged(self) -> int:
        return sum(1 for run in self if not run.converged)
