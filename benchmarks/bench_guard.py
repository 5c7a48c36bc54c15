"""What protecting runs from measures costs: detection (the library's rule) against copies.

Measures receive the run itself; `runs/guard.py` fingerprints each loaded part and checks
it after every measure call. The alternative, a private copy of the run per measure, would
also defeat the per-run memo that lets the σ/α searches of several measures run once. This
script times, on quick-budget networks of fcn-mnist5k (width 128) at the largest quick m:

- one guard check of a fully loaded run (model, initial model, training and test data)
  against one copy of the same parts (deep copies of both models, clones of the tensors);
- the copy of the test set every run load makes so runs never alias the dataset;
- `precompute` of every built-in measure on the same runs, and the share of its time spent
  fingerprinting (timed inside the run, so a busy machine does not blur the ratio).

    python benchmarks/bench_guard.py                # 2 networks at m = 1,600, 2 repeats
    python benchmarks/bench_guard.py --repeat 3 --measures param_norm,path_norm
    python benchmarks/bench_guard.py --copies      # also time a private copy per measure call
"""

from __future__ import annotations

import argparse
import copy
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

import pytest_fragility as pf
import pytest_fragility.auditing.subject as subject_module
import pytest_fragility.runs.guard as guard_module
import pytest_fragility.runs.run as run_module
from pytest_fragility.auditing.measuring import precompute
from pytest_fragility.families.budgets import Budget
from pytest_fragility.runs.cache import Cache
from pytest_fragility.runs.guard import fingerprint, guarded


def best(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def load(run: Any) -> dict[str, Any]:
    run.release()
    return load_held(run)


def copies(parts: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) if isinstance(v, torch.nn.Module) else v.clone() for k, v in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--m", type=int, default=1600)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--measures", help="comma-separated (default: every registered measure)")
    parser.add_argument("--cache", help="model cache (default: a temporary folder)")
    parser.add_argument("--copies", action="store_true", help="also time the copy-per-measure alternative")
    args = parser.parse_args()
    cache = Path(args.cache or tempfile.mkdtemp(prefix="bench-guard-"))
    family = pf.families.get("fcn-mnist5k")
    budget = Budget("bench", seeds=tuple(range(args.seeds)), sizes=(args.m,),
                    overrides=family.budget("quick").overrides)
    runs = family.runs(budget, cache=cache, progress=False)
    names = args.measures.split(",") if args.measures else pf.measures.available()
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; {len(runs)} networks of fcn-mnist5k, width {runs[0].recipe.width}, m = {args.m}")

    parts = load(runs[0])
    n_bytes = sum(sum(t.numel() * t.element_size() for t in p.state_dict().values())
                  if isinstance(p, torch.nn.Module) else p.numel() * p.element_size() for p in parts.values())
    check = best(lambda: [fingerprint(p) for p in parts.values()], 20 * args.repeat)
    clone = best(lambda: copies(parts), 20 * args.repeat)
    x_test = parts["x_test"]
    test_copy = best(lambda: x_test.clone(), 20 * args.repeat)
    print(f"one loaded run: {n_bytes / 1e6:.1f} MB of tensors")
    print(f"  guard check (fingerprint every part):  {check * 1e3:7.2f} ms")
    print(f"  private copy of every part:            {clone * 1e3:7.2f} ms  ({clone / check:.1f}x the check)")
    print(f"  test-set copy at each run load:        {test_copy * 1e3:7.2f} ms")

    spent = [0.0]

    def timed(part: Any) -> Any:
        started = time.perf_counter()
        try:
            return fingerprint(part)
        finally:
            spent[0] += time.perf_counter() - started

    totals, guarded_share = [], []
    for _ in range(args.repeat):
        guard_module.fingerprint, run_module.fingerprint = timed, timed
        try:
            spent[0] = 0.0
            for run in runs:
                run.release()
            started = time.perf_counter()
            precompute(names, runs, Cache(tempfile.mkdtemp(prefix="bench-guard-values-")).values, progress=False)
            totals.append(time.perf_counter() - started)
            guarded_share.append(spent[0])
        finally:
            guard_module.fingerprint, run_module.fingerprint = fingerprint, fingerprint
    best_index = totals.index(min(totals))
    total, guard = totals[best_index], guarded_share[best_index]
    calls = len(names) * len(runs)
    print(f"precompute of {len(names)} measures on {len(runs)} networks ({calls} measure calls), best of "
          f"{args.repeat}: {total:.2f} s, of which fingerprinting (at load and after each call) "
          f"{guard * 1e3:.0f} ms = {guard / total:.2%} ({guard / calls * 1e3:.2f} ms per call)")
    if args.copies:
        copied = []
        for _ in range(args.repeat):
            subject_module.guarded = lambda measure, name: (lambda given: measure(private_copy(given)))
            try:
                for run in runs:
                    run.release()
                started = time.perf_counter()
                precompute(names, runs, Cache(tempfile.mkdtemp(prefix="bench-guard-values-")).values,
                           progress=False)
                copied.append(time.perf_counter() - started)
            finally:
                subject_module.guarded = guarded
        print(f"the same with a private copy of the run per measure call instead: {min(copied):.2f} s "
              f"({min(copied) / total:.2f}x; the copies defeat the per-run memo of the σ/α searches)")


def private_copy(run: Any) -> Any:
    """The alternative rule: each measure call gets its own deep copy of the run."""
    parts = copies(load_held(run))
    return pf.Run(model=parts["model"], x_train=parts["x_train"], y_train=parts["y_train"], x_test=parts["x_test"],
                  y_test=parts["y_test"], init_model=parts["init_model"], m=run.m, seed=run.seed,
                  variant=run.variant, family=run.family, recipe=run.recipe, train_error=run.train_error,
                  test_error=run.test_error, converged=run.converged, epochs=run.epochs, key=run.key)


def load_held(run: Any) -> dict[str, Any]:
    return {"model": run.model, "init_model": run.init_model, "x_train": run.x_train, "y_train": run.y_train,
            "x_test": run.x_test, "y_test": run.y_test}


if __name__ == "__main__":
    main()
