"""Ranking statistics reported beside the checks: how well a measure orders networks.

Kendall τ-a (Jiang et al. 2020), the granulated Kendall coefficient Ψ over
hyperparameter axes, and Dziugaite et al.'s (2020) distribution of robust sign errors
over coupled interventions. numpy only; docs/method.md gives the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_fragility.errors import ConfigurationError
from pytest_fragility.files import plain

#: Rows per block in the O(n²) Kendall sum, so memory stays near 32 MB at any n.
_KENDALL_BLOCK_CELLS = 4_000_000


def kendall_tau_a(x: Any, y: Any) -> float:
    """Jiang et al.'s τ: mean of sgn(x_i − x_j)·sgn(y_i − y_j) over ordered distinct pairs.

    Ties count 0 and are not rescaled away (this is τ-a, not scipy's τ-b), so a constant
    input gives 0. Pairs with a non-finite value are dropped; fewer than 2 points give NaN.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ConfigurationError(
            f"x and y must be 1-D of the same length; got shapes {x.shape} and {y.shape}"
        )
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 2:
        return math.nan
    rows = max(1, _KENDALL_BLOCK_CELLS // n)
    total = 0.0
    for start in range(0, n, rows):
        block = slice(start, start + rows)
        x_order = np.sign(x[block, None] - x[None, :])
        y_order = np.sign(y[block, None] - y[None, :])
        total += float((x_order * y_order).sum())
    return total / (n * (n - 1))


def granulated_kendall(
    measure: Any, gap: Any, factors: Mapping[str, Sequence[Any]]
) -> dict[str, Any]:
    """Jiang et al.'s granulated Kendall coefficient over a grid of hyperparameters.

    ``factors`` maps each hyperparameter axis to its value for every model (same order as
    ``measure`` and ``gap``). For axis i, models are grouped by the values of all *other*
    axes; τ-a is computed within each group and averaged over groups: ψ_i. Ψ is the mean of
    ψ_i over axes. Groups with fewer than 2 models (with finite values) are skipped and
    counted; an axis with no usable group has ψ_i = NaN, and then Ψ is NaN too.

    Seed replicates not named in ``factors`` are extra points within a group; average them
    beforehand to treat them as one model.

    Returns ``{"psi": {axis: ψ_i}, "Psi": Ψ, "groups": {axis: used}, "skipped": {axis: n}}``.
    """
    mu = np.asarray(measure, dtype=float)
    g = np.asarray(gap, dtype=float)
    if mu.ndim != 1 or mu.shape != g.shape:
        raise ConfigurationError(
            f"measure and gap must be 1-D of the same length; got {mu.shape} and {g.shape}"
        )
    if not factors:
        raise ConfigurationError("factors must name at least one hyperparameter axis")
    columns = {name: list(values) for name, values in factors.items()}
    for name, values in columns.items():
        if len(values) != len(mu):
            raise ConfigurationError(
                f"factor {name!r} has {len(values)} values for {len(mu)} models"
            )

    psi: dict[str, float] = {}
    used: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for axis in columns:
        others = [columns[name] for name in columns if name != axis]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in range(len(mu)):
            groups.setdefault(tuple(values[i] for values in others), []).append(i)
        taus = [kendall_tau_a(mu[idx], g[idx]) for idx in groups.values()]
        taus = [t for t in taus if math.isfinite(t)]
        psi[axis] = float(np.mean(taus)) if taus else math.nan
        used[axis] = len(taus)
        skipped[axis] = len(groups) - len(taus)
    overall = float(np.mean(list(psi.values())))
    return {"psi": psi, "Psi": overall, "groups": used, "skipped": skipped}


@dataclass(frozen=True, eq=False)
class Environment:
    """One coupled intervention of Dziugaite et al.: one hyperparameter changed, all else fixed.

    Sample k is a pair of models, one on each side: measures ``c1[k]``, ``c2[k]``, generalization
    gaps ``g1[k]``, ``g2[k]``, each gap estimated on ``n_test`` test points (a number or one per
    sample). ``name`` labels the environment in reports (e.g. "lr 0.1→0.05").
    """

    c1: np.ndarray
    c2: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    n_test: np.ndarray | int
    name: str = ""

    def __post_init__(self) -> None:
        arrays = {
            key: np.atleast_1d(np.asarray(getattr(self, key), dtype=float))
            for key in ("c1", "c2", "g1", "g2")
        }
        shapes = {key: a.shape for key, a in arrays.items()}
        if len(set(shapes.values())) != 1 or arrays["c1"].ndim != 1:
            raise ConfigurationError(
                f"environment {self.name!r}: c1, c2, g1, g2 must be 1-D of one length; got {shapes}"
            )
        n_test = np.broadcast_to(np.asarray(self.n_test, dtype=float), arrays["c1"].shape)
        if not np.all(n_test > 0):
            raise ConfigurationError(
                f"environment {self.name!r}: n_test must be positive; got {self.n_test!r}"
            )
        for key, a in arrays.items():
            object.__setattr__(self, key, a)
        object.__setattr__(self, "n_test", n_test)


@dataclass(frozen=True)
class EnvironmentLoss:
    """Weighted sign error of one environment, its effective sample size and whether it was kept."""

    name: str
    loss: float
    ess: float
    kept: bool


@dataclass(frozen=True)
class RobustSignError:
    """Distribution of environment sign errors: mean, 90th percentile and max (the worst case)."""

    mean: float
    p90: float
    max: float
    n_kept: int
    n_dropped: int
    environments: tuple[EnvironmentLoss, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (NaN → None) for JSON reports."""
        return {
            "mean": plain(self.mean),
            "p90": plain(self.p90),
            "max": plain(self.max),
            "n_kept": self.n_kept,
            "n_dropped": self.n_dropped,
            "environments": [
                {"name": e.name, "loss": plain(e.loss), "ess": plain(e.ess), "kept": e.kept}
                for e in self.environments
            ],
        }


def hoeffding_weight(delta_gap: Any, n_test: Any) -> np.ndarray | float:
    """Dziugaite et al.'s confidence that two gaps measured on n test points truly differ.

    w = max(0, 1 − 2·exp(−2n(|Δg|/2)²))²: by Hoeffding each gap is within |Δg|/2 of its
    expectation with probability ≥ 1 − 2·exp(−2n(|Δg|/2)²); squared for the two independent
    estimates.
    """
    delta = np.abs(np.asarray(delta_gap, dtype=float))
    n = np.asarray(n_test, dtype=float)
    if not np.all(n > 0):
        raise ConfigurationError(f"n_test must be positive; got {n_test!r}")
    weight = np.maximum(0.0, 1.0 - 2.0 * np.exp(-2.0 * n * (delta / 2.0) ** 2)) ** 2
    return float(weight) if weight.ndim == 0 else weight


def robust_sign_error(
    environments: Sequence[Environment | Mapping[str, Any]],
    *,
    min_ess: float = 12.0,
    min_weight: float = 0.5,
    noise_filter: bool = True,
) -> RobustSignError:
    """Dziugaite et al.'s distribution of sign errors over coupled environments.

    Per sample: ℓ = (1 − sgn(c1 − c2)·sgn(g1 − g2))/2 (½ on a tie) and weight
    w = max(0, hoeffding_weight − ``min_weight``); with ``noise_filter=False`` every w = 1.
    Per environment: loss Σwℓ/Σw and ESS (Σw)²/Σw²; environments with ESS < ``min_ess`` (or
    no weight at all) are dropped. Samples with a non-finite value are ignored. Mean, 90th
    percentile and max are taken over the kept environments (NaN when none is kept).
    """
    results: list[EnvironmentLoss] = []
    for raw in environments:
        env = raw if isinstance(raw, Environment) else Environment(**raw)
        ok = np.isfinite(env.c1) & np.isfinite(env.c2) & np.isfinite(env.g1) & np.isfinite(env.g2)
        c1, c2, g1, g2, n = env.c1[ok], env.c2[ok], env.g1[ok], env.g2[ok], env.n_test[ok]
        loss = (1.0 - np.sign(c1 - c2) * np.sign(g1 - g2)) / 2.0
        if noise_filter:
            weight = np.maximum(0.0, hoeffding_weight(g1 - g2, n) - min_weight)
        else:
            weight = np.ones_like(loss)
        total = float(weight.sum())
        if total > 0:
            ess = total**2 / float((weight**2).sum())
            env_loss = float((weight * loss).sum() / total)
        else:
            ess, env_loss = 0.0, math.nan
        kept = total > 0 and (ess >= min_ess or math.isclose(ess, min_ess))
        results.append(EnvironmentLoss(name=env.name, loss=env_loss, ess=ess, kept=kept))

    losses = np.array([r.loss for r in results if r.kept])
    some = len(losses) > 0
    return RobustSignError(
        mean=float(losses.mean()) if some else math.nan,
        p90=float(np.percentile(losses, 90)) if some else math.nan,
        max=float(losses.max()) if some else math.nan,
        n_kept=len(losses),
        n_dropped=len(results) - len(losses),
        environments=tuple(results),
    )
