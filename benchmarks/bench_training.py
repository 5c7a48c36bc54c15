"""Batched ensemble trainer vs the per-model loop of the same recipes, same machine, one run.

    python benchmarks/bench_training.py                      # fcn-mnist1d, quick budget, base + lr×0.5 + lr×2
    python benchmarks/bench_training.py --family fcn-mnist5k --budget smoke
    python benchmarks/bench_training.py --device cuda --members 256

Both trainers run the same jobs (same recipes, sizes, seeds: the same algorithm), in
this process, without the cache. Prints networks per second for each and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import pytest_fragility as pf
from pytest_fragility.runs.devices import resolve_device
from pytest_fragility.runs.grid import grid
from pytest_fragility.train.batched import train_batched
from pytest_fragility.train.executors.steps import ensembles, max_members
from pytest_fragility.train.jobs import TrainingJob
from pytest_fragility.train.reference import train_reference
from pytest_fragility.train.setup import TrainingSetup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="fcn-mnist1d")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--variants", default="lr×0.5,lr×2", help="comma-separated perturbations besides base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--members", type=int, default=None, help="replicate seeds to this many networks per size")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from pytest_fragility.cli import parse_variant

    family = pf.families.get(args.family)
    variants = [parse_variant(v) for v in args.variants.split(",") if v]
    jobs = [point.job for point in grid(family, args.budget, variants)]
    if args.members:  # more seeds of the same recipes, for wide ensembles on a GPU
        sizes = sorted({j.m for j in jobs})
        recipe = jobs[0].recipe
        jobs = [TrainingJob(recipe, m, s) for m in sizes for s in range(args.members)]
    device = resolve_device(args.device)
    setup = TrainingSetup.of(family, None, None)
    view = setup.view(jobs[0].recipe)
    features = int(torch.tensor(view.input_shape).prod())
    groups = ensembles(jobs, lambda job: max_members(job, features, device))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    sync()
    start = time.perf_counter()
    batched = [run for group in groups
               for run in train_batched(group, setup.view(group[0].recipe), family.model, family.init, device)]
    sync()
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = [train_reference(job, setup.view(job.recipe), family.model, family.init, device)
                 for group in groups for job in group]
    sync()
    reference_s = time.perf_counter() - start

    agree = statistics.mean(abs(a.test_error - b.test_error) for a, b in zip(batched, reference))
    epochs = sum(r.epochs for r in batched)
    print(f"family {args.family}, budget {args.budget}, variants base,{args.variants}; {len(jobs)} networks "
          f"in {len(groups)} ensembles on {device} ({torch.get_num_threads()} threads); {epochs} epochs in all")
    print(f"per-model loop : {reference_s:8.1f} s  {len(jobs) / reference_s:8.2f} networks/s")
    print(f"batched        : {batched_s:8.1f} s  {len(jobs) / batched_s:8.2f} networks/s")
    print(f"ratio          : {reference_s / batched_s:8.2f}x   (mean |test-error difference| {agree:.4f})")


if __name__ == "__main__":
    main()
