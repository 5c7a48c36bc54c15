"""PAC-Bayes flatness measures: the σ search and the bounds of Jiang et al. built on it.

σ is the standard deviation of Gaussian noise on every parameter at which the mean
training accuracy falls by `target_drop` (0.1) below its clean value. The
magnitude-aware variant gives parameter i the noise variance σ²w_i² + ε². Both are
found by `sigma_search` with common random numbers (see `_perturbed`), so σ is a
deterministic function of the weights, the data and the seed, and it moves
continuously with the weights.

Differences from the reference code (Dziugaite et al. 2020, kept by Zhang & Louis):
the noise has standard deviation σ, not σ²; the magnitude-aware variance σ²w² + ε²
is a variance, not a standard deviation; σ is located to a relative tolerance
instead of stopping at the first noisy σ within 0.01 of the target; and the
"origin" magnitude-aware bound divides by σ²w_i², not σ²(w_i − w⁰_i)², so that it no
longer depends on the initialization (the derivation's posterior has variance
ε² + σ²w_i² around the origin prior). See docs/flatness.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from pytest_fragility.measures._perturbed import (
    MAG_EPSILON,
    MAX_EXAMPLES,
    FlatModel,
    check_reachable,
    check_search_options,
    distance_from_init,
    find_crossing,
    memoized,
    parameters_of,
    search_seed,
    training_sample,
)
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run

JIANG = "Jiang et al. 2020, Fantastic generalization measures and where to find them (ICLR)"
DZIUGAITE = "Dziugaite et al. 2020, In search of robust measures of generalization (NeurIPS)"


@dataclass(frozen=True)
class SigmaSearch:
    """Result of a σ search.

    `accuracy_drop` is the clean minus the mean perturbed training accuracy at
    `sigma`: at least the target, and above it only by the jump of the drop (a step
    function of σ) at the crossing. `iterations` counts the
    scales tried; each costs `samples` evaluations of a perturbed model on the
    `examples` training points, so ``forward_passes == iterations * samples``
    (the one clean evaluation is not counted).
    """

    sigma: float
    accuracy_drop: float
    clean_accuracy: float
    iterations: int
    forward_passes: int
    samples: int
    examples: int
    magnitude_aware: bool
    seed: int


def gaussian_perturbations(
    w: torch.Tensor, directions: torch.Tensor, sigma: float, magnitude_aware: bool
) -> torch.Tensor:
    """The noise the search adds at scale σ, from standard-normal `directions` (K, P).

    Plain: σ·z, standard deviation σ. Magnitude-aware: √(σ²w_i² + ε²)·z, variance
    σ²w_i² + ε² with ε = 10⁻³ (Jiang et al. 2020, Appendix C.4).
    """
    if magnitude_aware:
        return torch.sqrt(sigma**2 * w.square() + MAG_EPSILON**2) * directions
    return sigma * directions


def starting_sigma(w: torch.Tensor, magnitude_aware: bool) -> float:
    """Where the search starts: 0.1 (relative to |w_i|) when magnitude-aware, else rms(w)/2.

    Starting from the weights' own scale makes the search equivariant to rescaling all
    weights (σ scales exactly with them) and usually saves bracket steps.
    """
    rms = w.double().square().mean().sqrt().item()
    return 0.1 if magnitude_aware or rms == 0 else 0.5 * rms


def sigma_search(
    run: Run,
    *,
    magnitude_aware: bool = False,
    samples: int = 10,
    max_examples: int = MAX_EXAMPLES,
    target_drop: float = 0.1,
    seed: int | None = None,
    rtol: float = 1e-3,
) -> SigmaSearch:
    """σ at which `samples` Gaussian perturbations lower mean training accuracy by `target_drop`.

    The accuracy is measured on a seeded subsample of at most `max_examples` training
    points; `seed` defaults to the run's seed; σ is located to relative tolerance
    `rtol`. Memoized per run and options, so the three measures of one variant share
    a single search.
    """
    check_search_options(
        samples=samples, max_examples=max_examples, target_drop=target_drop, rtol=rtol
    )
    seed = search_seed(run, seed)
    key = ("sigma", magnitude_aware, samples, max_examples, target_drop, seed, rtol)
    return memoized(
        run, key,
        lambda: _search(run, magnitude_aware, samples, max_examples, target_drop, seed, rtol),
    )


def _search(
    run: Run,
    magnitude_aware: bool,
    samples: int,
    max_examples: int,
    target_drop: float,
    seed: int,
    rtol: float,
) -> SigmaSearch:
    flat = FlatModel(run.model)
    generator = torch.Generator().manual_seed(seed)
    x, y = training_sample(run, max_examples, generator)
    w = flat.vector
    directions = torch.randn((samples, flat.size), generator=generator, dtype=w.dtype)
    directions = directions.to(w.device)
    clean = flat.accuracies(w[None], x, y).item()
    check_reachable(clean, target_drop, run, "the σ search")

    def drop_at(sigma: float) -> float:
        noisy = w + gaussian_perturbations(w, directions, sigma, magnitude_aware)
        return clean - flat.accuracies(noisy, x, y).mean().item()

    start = starting_sigma(w, magnitude_aware)
    crossing = find_crossing(drop_at, target=target_drop, start=start, rtol=rtol, what="σ")
    return SigmaSearch(
        sigma=crossing.scale,
        accuracy_drop=crossing.drop,
        clean_accuracy=clean,
        iterations=crossing.evaluations,
        forward_passes=crossing.evaluations * samples,
        samples=samples,
        examples=len(x),
        magnitude_aware=magnitude_aware,
        seed=seed,
    )


# -- the bounds (Jiang et al. 2020, Appendix C.3–C.4) ------------------------------------
def pacbayes_bound(norm_squared: float, sigma: float, m: int) -> float:
    """‖v‖²/(4σ²) + ln(m/σ) + 10 (Jiang et al. eqs. 48–49)."""
    return norm_squared / (4 * sigma**2) + math.log(m / sigma) + 10


def log_ratio_sum(v: torch.Tensor, d: torch.Tensor, scale: float, offset: float,
                  epsilon: float = MAG_EPSILON) -> float:
    """¼ Σ_i ln[(ε² + (scale² + offset)·‖v‖²/ω) / (ε² + scale²·d_i²)], in float64.

    The KL term of the magnitude-aware bounds: offset = 1 for PAC-Bayes (eqs. 56–57),
    4 ln(2ω) for sharpness (eqs. 58–59); ω = number of parameters.
    """
    v, d = v.double(), d.double()
    eps2 = epsilon**2
    numerator = eps2 + (scale**2 + offset) * v.square().sum() / v.numel()
    return 0.25 * torch.log(numerator / (eps2 + scale**2 * d.square())).sum().item()


@measure(
    "pacbayes_orig",
    description="‖w‖²/(4σ²) + ln(m/σ) + 10, σ from the Gaussian-noise search (PAC-Bayes origin)",
    reference=f"{JIANG}, eq. (49); σ search as in {DZIUGAITE}",
    needs=("train_data",),
    cost="search",
    random=True,
)
def pacbayes_orig(run: Run, **options: Any) -> float:
    search = sigma_search(run, **options)
    return pacbayes_bound(parameters_of(run).square().sum().item(), search.sigma, run.m)


@measure(
    "pacbayes_init",
    description="‖w − w⁰‖²/(4σ²) + ln(m/σ) + 10, σ from the Gaussian-noise search",
    reference=f"{JIANG}, eq. (48); σ search as in {DZIUGAITE}",
    needs=("init", "train_data"),
    cost="search",
    random=True,
)
def pacbayes_init(run: Run, **options: Any) -> float:
    distance = distance_from_init(run, "pacbayes_init")
    sigma = sigma_search(run, **options).sigma
    return pacbayes_bound(distance.square().sum().item(), sigma, run.m)


@measure(
    "pacbayes_flatness",
    description="1/σ², σ the Gaussian noise level that lowers training accuracy by 0.1",
    reference=f"{JIANG}, eq. (53); σ search as in {DZIUGAITE}",
    needs=("train_data",),
    cost="search",
    random=True,
)
def pacbayes_flatness(run: Run, **options: Any) -> float:
    return 1.0 / sigma_search(run, **options).sigma ** 2


@measure(
    "pacbayes_mag_orig",
    description="¼Σ ln[(ε² + (σ′²+1)‖w‖²/ω)/(ε² + σ′²w_i²)] + ln(m/σ′) + 10, magnitude-aware σ′",
    reference=f"{JIANG}, eq. (57), with w_i (not w_i − w⁰_i) in the denominator; σ′ search "
    f"as in {DZIUGAITE}",
    needs=("train_data",),
    cost="search",
    random=True,
)
def pacbayes_mag_orig(run: Run, **options: Any) -> float:
    sigma = sigma_search(run, magnitude_aware=True, **options).sigma
    w = parameters_of(run)
    return log_ratio_sum(w, w, sigma, offset=1.0) + math.log(run.m / sigma) + 10


@measure(
    "pacbayes_mag_init",
    description="¼Σ ln[(ε² + (σ′²+1)‖w−w⁰‖²/ω)/(ε² + σ′²(w_i−w⁰_i)²)] + ln(m/σ′) + 10",
    reference=f"{JIANG}, eq. (56); σ′ search as in {DZIUGAITE}",
    needs=("init", "train_data"),
    cost="search",
    random=True,
)
def pacbayes_mag_init(run: Run, **options: Any) -> float:
    distance = distance_from_init(run, "pacbayes_mag_init")
    sigma = sigma_search(run, magnitude_aware=True, **options).sigma
    return log_ratio_sum(distance, distance, sigma, offset=1.0) + math.log(run.m / sigma) + 10


@measure(
    "pacbayes_mag_flatness",
    description="1/σ′², σ′ the magnitude-aware noise level (variance σ′²w² + ε²) for a 0.1 drop",
    reference=f"{JIANG}, eq. (61); σ′ search as in {DZIUGAITE}",
    needs=("train_data",),
    cost="search",
    random=True,
)
def pacbayes_mag_flatness(run: Run, **options: Any) -> float:
    return 1.0 / sigma_search(run, magnitude_aware=True, **options).sigma ** 2
