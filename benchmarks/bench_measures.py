"""Side-by-side benchmarks of the costly measures.

Each part times the library's implementation against a baseline on the same inputs,
on the same machine, in one run, and prints both times, both results and the ratio.
Timings are never asserted in tests; these scripts are where they are measured.

    python benchmarks/bench_measures.py                  # every part
    python benchmarks/bench_measures.py --part sigma     # one part
    python benchmarks/bench_measures.py --threads 1      # pin torch's CPU threads

Parts
-----
sigma
    The PAC-Bayes σ search (`pytest_fragility.measures.pacbayes.sigma_search`) against
    the reference algorithm of Dziugaite et al.: bisection of σ on [0, 2], a deep copy
    of the model per Monte-Carlo sample, the samples evaluated one by one. The baseline
    uses the same noise draws (common random numbers) and is run to the same relative
    tolerance on σ, so both return the same σ within that tolerance. A third row runs
    the library's search with the sequential evaluation, separating the two sources of
    speed: fewer scales tried (search) and batched evaluation.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from pytest_fragility.measures._outputs import accuracy, logits
from pytest_fragility.measures._perturbed import MAX_EXAMPLES, find_crossing, training_sample
from pytest_fragility.measures.pacbayes import sigma_search, starting_sigma
from pytest_fragility.runs.run import Run


@dataclass(frozen=True)
class Row:
    """One timed variant of a part; the part's first row is the baseline of its ratios."""

    part: str
    variant: str
    seconds: float
    result: str


# -- part "sigma" -----------------------------------------------------------------------
def trained_fcn(n: int, seed: int = 0) -> Run:
    """FCN 784→256→256→1 trained to 100% accuracy on n random-teacher points."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 784, generator=generator)
    y = (x @ torch.randn(784, generator=generator) > 0).long()
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(200):
        optimizer.zero_grad()
        out = model(x)[:, 0]
        if ((out > 0).long() == y).all():
            break
        nn.functional.binary_cross_entropy_with_logits(out, y.float()).backward()
        optimizer.step()
    return Run(model=model, x_train=x, y_train=y, seed=seed)


def sequential_drop(run: Run, samples: int, max_examples: int) -> Callable[[float], float]:
    """The reference evaluation: per sample, deep-copy the model, add noise, evaluate.

    The noise directions and training subsample are drawn exactly as `sigma_search`
    draws them, so both see the same numbers.
    """
    generator = torch.Generator().manual_seed(run.seed)
    x, y = training_sample(run, max_examples, generator)
    w = parameters_to_vector(run.model.parameters()).detach()
    directions = torch.randn((samples, w.numel()), generator=generator, dtype=w.dtype)
    clean = accuracy(logits(run.model, x), y)

    def drop_at(sigma: float) -> float:
        accuracies = []
        for z in directions:
            noisy = copy.deepcopy(run.model)
            vector_to_parameters(w + sigma * z, noisy.parameters())
            accuracies.append(accuracy(logits(noisy, x), y))
        return clean - sum(accuracies) / len(accuracies)

    return drop_at


def reference_bisection(
    drop_at: Callable[[float], float], target: float, rtol: float
) -> tuple[float, int]:
    """Bisection of σ on [0, 2] (the reference's bracket), run until hi ≤ (1 + rtol)·lo."""
    lo, hi, evaluations = 0.0, 2.0, 0
    while hi > (1 + rtol) * lo:
        middle = 0.5 * (lo + hi)
        evaluations += 1
        if drop_at(middle) >= target - 1e-12:  # 1 − 0.9 = 0.0999…98 reaches 0.1
            hi = middle
        else:
            lo = middle
    return hi, evaluations


def bench_sigma(args: argparse.Namespace) -> list[Row]:
    samples, rtol, target = 10, 1e-3, 0.1
    run = trained_fcn(args.examples)
    m = len(run.x_train)
    start = starting_sigma(parameters_to_vector(run.model.parameters()).detach(), False)

    def fresh() -> Run:  # a new Run each time, so sigma_search's memo never answers
        return Run(model=run.model, x_train=run.x_train, y_train=run.y_train)

    def reference() -> tuple[float, int]:
        return reference_bisection(sequential_drop(run, samples, m), target, rtol)

    def library_search_sequential() -> tuple[float, int]:
        crossing = find_crossing(sequential_drop(run, samples, m), target=target,
                                 start=start, rtol=rtol, what="σ")
        return crossing.scale, crossing.evaluations

    def library(max_examples: int) -> tuple[float, int]:
        search = sigma_search(fresh(), samples=samples, rtol=rtol, max_examples=max_examples)
        return search.sigma, search.iterations

    variants = {
        "reference: bisection on [0,2], deep copy per sample": reference,
        "library search (ITP), deep copy per sample": library_search_sequential,
        "library: sigma_search, batched, all points": lambda: library(m),
        f"library: sigma_search defaults (max_examples={MAX_EXAMPLES})": lambda: library(MAX_EXAMPLES),
    }
    examples = [m, m, m, min(m, MAX_EXAMPLES)]
    best = dict.fromkeys(variants, float("inf"))
    results = {}
    for _ in range(args.repeat):  # interleaved, best of `repeat`: robust to load drift
        for name, fn in variants.items():
            started = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return [
        Row("sigma", name, best[name],
            f"σ={sigma:.5f}  scales tried={tried:2d}  forward passes={tried * samples:3d} "
            f"× {n} points")
        for (name, (sigma, tried)), n in zip(results.items(), examples)
    ]


PARTS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {"sigma": bench_sigma}


# -- driver ------------------------------------------------------------------------------
def print_table(rows: list[Row]) -> None:
    baselines: dict[str, float] = {}
    print(f"{'part':<7} {'variant':<54} {'seconds':>8} {'speed-up':>9}  result")
    for row in rows:
        baseline = baselines.setdefault(row.part, row.seconds)
        print(f"{row.part:<7} {row.variant:<54} {row.seconds:8.2f} "
              f"{baseline / row.seconds:8.2f}×  {row.result}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), action="append",
                        help="run only this part (repeatable); default: all")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each variant this many times, interleaved; report the best")
    parser.add_argument("--examples", type=int, default=4096,
                        help="training points of the sigma part's model (default 4096)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads; command: {' '.join(sys.argv)}")
    rows = [row for part in (args.part or sorted(PARTS)) for row in PARTS[part](args)]
    print_table(rows)


if __name__ == "__main__":
    main()
