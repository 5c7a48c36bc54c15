"""Worst-case sharpness measures: the α search and the bounds of Jiang et al. built on it.

α is the half-width of the box |u_i| ≤ α (magnitude-aware: |u_i| ≤ α|w_i| + ε) in
which the worst perturbation of all parameters lowers training accuracy by
`target_drop` (0.1) below its clean value. The worst perturbation is approximated by
projected sign-gradient ascent on the training loss (the loss the network was
trained with): `restarts` random starts drawn uniformly in the box, `steps` steps of
size 2.5·(box half-width)/steps, each followed by clipping back into the box
(the schedule of Madry et al. 2018). The starts are drawn once, as fractions of the
box, so every α reuses them (common random numbers) and the search is
deterministic; α is then located like σ, to relative tolerance `rtol`.

The reference code of Dziugaite et al. has no sharpness measure; PGDL's baseline
clips to ±α|w| and targets accuracy 0.9 rather than a drop from the clean accuracy.
See docs/flatness.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures._perturbed import (
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
from pytest_fragility.measures.pacbayes import JIANG, log_ratio_sum, pacbayes_bound
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run

# ε of the magnitude-aware box. Jiang et al. use 1e-3 for both searches, but a worst-case
# perturbation adds up over all ω parameters (random noise only over √ω): on MNIST-sized
# fully connected nets the ε-box alone already costs more than 0.1 training accuracy, so
# the search could not start. 1e-5 keeps the box dominated by α|w_i|.
SHARPNESS_EPSILON = 1e-5
STEP_SCALE = 2.5  # step size = STEP_SCALE · half-width / steps (Madry et al. 2018)


@dataclass(frozen=True)
class SharpnessSearch:
    """Result of an α search.

    `accuracy_drop` is the clean accuracy minus the worst (over restarts) accuracy
    after ascent at `alpha`. `iterations` counts the α tried; each runs `restarts`
    ascents of `steps` gradient evaluations plus one accuracy evaluation on the
    `examples` training points, so
    ``forward_passes == iterations * restarts * (steps + 1)``.
    """

    alpha: float
    accuracy_drop: float
    clean_accuracy: float
    iterations: int
    forward_passes: int
    restarts: int
    steps: int
    examples: int
    magnitude_aware: bool
    seed: int
    epsilon: float


def box_half_width(w: torch.Tensor, alpha: float, magnitude_aware: bool,
                   epsilon: float = SHARPNESS_EPSILON) -> torch.Tensor:
    """Per-parameter bound on |u_i|: α, or α|w_i| + ε when magnitude-aware."""
    if magnitude_aware:
        return alpha * w.abs() + epsilon
    return torch.full_like(w, alpha)


def worst_case_perturbations(
    flat: FlatModel,
    starts: torch.Tensor,
    half_width: torch.Tensor,
    steps: int,
    x: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """Projected sign-gradient ascent on the training loss from each start, batched.

    `starts` (R, P) are fractions of the box in [−1, 1]; returns the R perturbations
    reached, each inside the box |u_i| ≤ half_width_i.
    """
    w = flat.vector
    u = starts * half_width
    step = STEP_SCALE * half_width / steps
    for _ in range(steps):
        ascent = flat.loss_gradients(w + u, x, y).sign()
        u = torch.clamp(u + step * ascent, min=-half_width, max=half_width)
    return u


def sharpness_search(
    run: Run,
    *,
    magnitude_aware: bool = False,
    restarts: int = 2,
    steps: int = 5,
    max_examples: int = MAX_EXAMPLES,
    target_drop: float = 0.1,
    seed: int | None = None,
    rtol: float = 1e-2,
    epsilon: float = SHARPNESS_EPSILON,
) -> SharpnessSearch:
    """α at which the worst perturbation found in the α-box costs `target_drop` accuracy.

    Accuracy and loss are measured on a seeded subsample of at most `max_examples`
    training points; `seed` defaults to the run's seed. The default `rtol` is looser
    than the σ search's because gradient ascent only approximates the worst case.
    Memoized per run and options.
    """
    check_search_options(
        restarts=restarts, steps=steps, max_examples=max_examples,
        target_drop=target_drop, rtol=rtol,
    )
    seed = search_seed(run, seed)
    if not epsilon >= 0:
        raise MeasureInputError(f"sharpness search: epsilon must be >= 0, got {epsilon!r}")
    key = ("sharpness", magnitude_aware, restarts, steps, max_examples, target_drop, seed, rtol, epsilon)
    return memoized(
        run, key,
        lambda: _search(run, magnitude_aware, restarts, steps, max_examples, target_drop,
                        seed, rtol, epsilon),
    )


def _search(
    run: Run,
    magnitude_aware: bool,
    restarts: int,
    steps: int,
    max_examples: int,
    target_drop: float,
    seed: int,
    rtol: float,
    epsilon: float,
) -> SharpnessSearch:
    flat = FlatModel(run.model)
    generator = torch.Generator().manual_seed(seed)
    x, y = training_sample(run, max_examples, generator)
    w = flat.vector
    starts = 2 * torch.rand((restarts, flat.size), generator=generator, dtype=w.dtype) - 1
    starts = starts.to(w.device)
    clean = flat.accuracies(w[None], x, y).item()
    check_reachable(clean, target_drop, run, "the sharpness search")

    def drop_at(alpha: float) -> float:
        half_width = box_half_width(w, alpha, magnitude_aware, epsilon)
        u = worst_case_perturbations(flat, starts, half_width, steps, x, y)
        return clean - flat.accuracies(w + u, x, y).min().item()

    # A worst-case box is far smaller than a Gaussian σ: start near 1% of the scale.
    rms = w.double().square().mean().sqrt().item()
    start = 0.01 if magnitude_aware or rms == 0 else 0.01 * rms
    crossing = find_crossing(drop_at, target=target_drop, start=start, rtol=rtol, what="α")
    return SharpnessSearch(
        alpha=crossing.scale,
        accuracy_drop=crossing.drop,
        clean_accuracy=clean,
        iterations=crossing.evaluations,
        forward_passes=crossing.evaluations * restarts * (steps + 1),
        restarts=restarts,
        steps=steps,
        examples=len(x),
        magnitude_aware=magnitude_aware,
        seed=seed,
        epsilon=epsilon,
    )


# -- the bounds (Jiang et al. 2020, Appendix C.3–C.4) ------------------------------------
# Jiang et al. write ln(m/σ′) in eqs. 50, 51, 58 and 59 without tying σ′ to the α search.
# We use the Gaussian scale that makes each leading term its PAC-Bayes counterpart:
# ‖v‖² ln(2ω)/(4α²) = ‖v‖²/(4σ′²) gives σ′ = α/√ln(2ω) (eqs. 50–51 = eqs. 48–49 at σ′),
# and α² + 4 ln(2ω) = 4 ln(2ω)(σ′² + 1) gives σ′ = α/(2√ln(2ω)) (eqs. 58–59 ~ 56–57).
def _log_two_omega(w: torch.Tensor) -> float:
    return math.log(2 * w.numel())


def sharpness_bound(v: torch.Tensor, alpha: float, m: int) -> float:
    """‖v‖² ln(2ω)/(4α²) + ln(m/σ′) + 10 with σ′ = α/√ln(2ω) (Jiang et al. eqs. 50–51)."""
    log_two_omega = _log_two_omega(v)
    sigma = alpha / math.sqrt(log_two_omega)
    return pacbayes_bound(v.double().square().sum().item(), sigma, m)


def magnitude_aware_sharpness_bound(
    v: torch.Tensor, d: torch.Tensor, alpha: float, m: int, epsilon: float = SHARPNESS_EPSILON
) -> float:
    """¼Σ ln[(ε² + (α² + 4ln2ω)‖v‖²/ω)/(ε² + α²d_i²)] + ln(m/σ′) + 10, σ′ = α/(2√ln2ω).

    Jiang et al. eqs. 58–59.
    """
    log_two_omega = _log_two_omega(v)
    sigma = alpha / (2 * math.sqrt(log_two_omega))
    return log_ratio_sum(v, d, alpha, offset=4 * log_two_omega, epsilon=epsilon) + math.log(m / sigma) + 10


@measure(
    "sharpness_orig",
    description="‖w‖² ln(2ω)/(4α²) + ln(m/σ′) + 10, α the worst-case box for a 0.1 accuracy drop",
    reference=f"{JIANG}, eq. (51)",
    needs=("train_data",),
    cost="search",
    random=True,
)
def sharpness_orig(run: Run, **options: Any) -> float:
    alpha = sharpness_search(run, **options).alpha
    return sharpness_bound(parameters_of(run), alpha, run.m)


@measure(
    "sharpness_init",
    description="‖w − w⁰‖² ln(2ω)/(4α²) + ln(m/σ′) + 10, α the worst-case box half-width",
    reference=f"{JIANG}, eq. (50)",
    needs=("init", "train_data"),
    cost="search",
    random=True,
)
def sharpness_init(run: Run, **options: Any) -> float:
    distance = distance_from_init(run, "sharpness_init")
    return sharpness_bound(distance, sharpness_search(run, **options).alpha, run.m)


@measure(
    "sharpness_flatness",
    description="1/α², α the largest box |u_i| ≤ α whose worst case lowers accuracy by 0.1",
    reference=f"{JIANG}, eq. (52)",
    needs=("train_data",),
    cost="search",
    random=True,
)
def sharpness_flatness(run: Run, **options: Any) -> float:
    return 1.0 / sharpness_search(run, **options).alpha ** 2


@measure(
    "sharpness_mag_orig",
    description="¼Σ ln[(ε² + (α′² + 4ln2ω)‖w‖²/ω)/(ε² + α′²w_i²)] + ln(m/σ′) + 10",
    reference=f"{JIANG}, eq. (59), with w_i (not w_i − w⁰_i) in the denominator",
    needs=("train_data",),
    cost="search",
    random=True,
)
def sharpness_mag_orig(run: Run, **options: Any) -> float:
    search = sharpness_search(run, magnitude_aware=True, **options)
    w = parameters_of(run)
    return magnitude_aware_sharpness_bound(w, w, search.alpha, run.m, search.epsilon)


@measure(
    "sharpness_mag_init",
    description="¼Σ ln[(ε² + (α′² + 4ln2ω)‖w−w⁰‖²/ω)/(ε² + α′²(w_i−w⁰_i)²)] + ln(m/σ′) + 10",
    reference=f"{JIANG}, eq. (58)",
    needs=("init", "train_data"),
    cost="search",
    random=True,
)
def sharpness_mag_init(run: Run, **options: Any) -> float:
    distance = distance_from_init(run, "sharpness_mag_init")
    search = sharpness_search(run, magnitude_aware=True, **options)
    return magnitude_aware_sharpness_bound(distance, distance, search.alpha, run.m, search.epsilon)


@measure(
    "sharpness_mag_flatness",
    description="1/α′², α′ the largest box |u_i| ≤ α′|w_i| + ε whose worst case costs 0.1 accuracy",
    reference=f"{JIANG}, eq. (60)",
    needs=("train_data",),
    cost="search",
    random=True,
)
def sharpness_mag_flatness(run: Run, **options: Any) -> float:
    return 1.0 / sharpness_search(run, magnitude_aware=True, **options).alpha ** 2
