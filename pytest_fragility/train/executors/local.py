"""The local executor: trains in this process, in batched ensembles."""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch

from pytest_fragility.progress import progress_bar
from pytest_fragility.train.executors import ExecutionReport, NetworkStore, steps
from pytest_fragility.train.jobs import TrainingJob
from pytest_fragility.train.setup import TrainingSetup


class LocalExecutor:
    """Trains in this process: batched ensembles, per-key locks, results into the store.

    Locks are taken one ensemble at a time, so parallel processes (pytest-xdist workers)
    asking for the same family share the work instead of waiting for one another.
    """

    def run(self, jobs: Sequence[TrainingJob], setup: TrainingSetup, store: NetworkStore, *,
            device: torch.device, progress: bool) -> ExecutionReport:
        report = ExecutionReport()
        missing = steps.serve_from_store(jobs, store, report)
        if not missing:
            return report
        with progress_bar(progress, len(missing), "training") as advance:
            waiting = []
            for group in steps.groups(missing, setup, device):
                with contextlib.ExitStack() as locks:
                    mine, theirs = steps.claim(group, store, report, advance, locks)
                    if mine:
                        self._train(mine, setup, store, device, report, advance)
                waiting += theirs
            steps.wait_for(waiting, store, report, advance,
                     lambda jobs: self._train(jobs, setup, store, device, report, advance))
        return report

    @staticmethod
    def _train(jobs: list[TrainingJob], setup: TrainingSetup, store: NetworkStore, device: torch.device,
               report: ExecutionReport, advance: steps.Advance) -> None:
        try:
            steps.train_group(jobs, setup.view(jobs[0].recipe), setup, device, steps.storer(store, report, advance))
        except Exception as error:  # the audit goes on; these runs are reported as failed
            steps.record_failure(jobs, error, report, advance)
