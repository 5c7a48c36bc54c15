"""Local executor vs Ray executor on the same family, same machine, one run.

    python benchmarks/bench_executor.py                         # fcn-mnist1d, smoke budget, 3 variants
    python benchmarks/bench_executor.py --budget quick --address auto

Both train the same networks into separate fresh caches. Prints wall times, the number
of Ray tasks, and Ray's overhead as a ratio (with and without starting Ray).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pytest_fragility as pf
from pytest_fragility.cli import parse_variant
from pytest_fragility.runs.grid import grid
from pytest_fragility.train.executors.ray import RayExecutor, import_ray


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="fcn-mnist1d")
    parser.add_argument("--budget", default="smoke")
    parser.add_argument("--variants", default="lr×0.5,optimizer=adam")
    parser.add_argument("--address", default=None, help="Ray cluster (default: a local Ray with --cpus CPUs)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    args = parser.parse_args()
    family = pf.families.get(args.family)
    variants = [parse_variant(v) for v in args.variants.split(",") if v]
    grid(family, args.budget, variants)  # datasets loaded before timing

    with tempfile.TemporaryDirectory() as local_cache, tempfile.TemporaryDirectory() as ray_cache:
        start = time.perf_counter()
        local = family.runs(args.budget, variants, cache=local_cache, progress=False)
        local_s = time.perf_counter() - start

        ray = import_ray()
        start = time.perf_counter()
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(address=args.address, num_cpus=None if args.address else args.cpus,
                 include_dashboard=False, log_to_driver=False)
        init_s = time.perf_counter() - start
        executor = RayExecutor(address=args.address)
        start = time.perf_counter()
        remote = family.runs(args.budget, variants, cache=ray_cache, executor=executor, progress=False)
        ray_s = time.perf_counter() - start
        ray.shutdown()

    print(f"family {args.family}, budget {args.budget}, variants base,{args.variants}: {len(local)} networks")
    print(f"local executor : {local_s:7.1f} s")
    print(f"ray executor   : {ray_s:7.1f} s in {executor.tasks_submitted} tasks (+ {init_s:.1f} s to start Ray); "
          f"{remote.training.trained} trained, {len(remote.training.failed)} failed")
    print(f"ray / local    : {ray_s / local_s:7.2f}x   ({(ray_s + init_s) / local_s:.2f}x with the start)")


if __name__ == "__main__":
    main()
