"""Statistics behind the checks: exponents of learning curves, bootstrap intervals, rankings.

A *curve* is ``values[S, M]``: S seeds × M training-set sizes ``m`` (ascending), NaN for a
missing cell (a run that failed or did not converge). Seed s is the same seed id in every
variant of an audit, so two variants' curves can be compared seed by seed (*paired*).

Everything here is numpy only, so the checks import fast and each number can be
reproduced by hand; docs/method.md states the formulas and why they were chosen.
Every bootstrap takes an explicit ``seed``: the same inputs always give the same interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from pytest_fragility.errors import ConfigurationError, unknown

Scale = Literal["linear", "log"]
SCALES: tuple[str, ...] = ("linear", "log")

#: Rows per block in the O(n²) Kendall sum, so memory stays near 32 MB at any n.
_KENDALL_BLOCK_CELLS = 4_000_000


class NonPositiveValuesWarning(UserWarning):
    """A measure declared positive (scale "linear") had values ≤ 0; they were treated as missing."""


# --------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a bootstrap interval.

    ``value`` is computed on all the data, ``low``/``high`` bound the percentile interval at
    ``level`` (NaN when the data cannot support one). ``n_seeds`` is the fewest finite seeds
    at any size used, ``n_sizes`` the number of sizes that had data.
    """

    value: float
    low: float
    high: float
    level: float
    n_seeds: int
    n_sizes: int

    @property
    def resolved(self) -> bool:
        """True when the interval is finite and excludes zero: the sign is known."""
        return bool(
            math.isfinite(self.low) and math.isfinite(self.high) and (self.low > 0 or self.high < 0)
        )

    @property
    def sign(self) -> int:
        """+1 or −1 when resolved, 0 when the data do not settle the sign."""
        if not self.resolved:
            return 0
        return 1 if self.low > 0 else -1

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain Python numbers (NaN → None) for JSON reports and pytest-xdist transport."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Estimate:
        """Inverse of `to_dict` (None → NaN)."""

        def number(key: str) -> float:
            return math.nan if data[key] is None else float(data[key])

        return cls(
            value=number("value"),
            low=number("low"),
            high=number("high"),
            level=float(data["level"]),
            n_seeds=int(data["n_seeds"]),
            n_sizes=int(data["n_sizes"]),
        )


def _plain(x: float | int) -> float | int | None:
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------- curves


def infer_scale(values: Any) -> Scale:
    """Return "linear" when every finite value is positive (a power law fits), else "log".

    An array with no finite value at all counts as positive (nothing contradicts it).
    """
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    return "linear" if bool(np.all(finite > 0)) else "log"


def transform(values: Any, scale: Scale) -> np.ndarray:
    """Values on the analysis scale: ln μ for "linear", μ itself for "log".

    Non-finite cells become NaN (missing). Under "linear", values ≤ 0 have no logarithm:
    they become NaN too, with a `NonPositiveValuesWarning` naming how many.
    """
    _check_scale(scale)
    arr = np.asarray(values, dtype=float)
    out = np.where(np.isfinite(arr), arr, np.nan)
    if scale == "log":
        return out
    nonpositive = out <= 0
    if nonpositive.any():
        warnings.warn(
            f"{int(nonpositive.sum())} of {int(np.isfinite(out).sum())} values are ≤ 0 and have "
            "no logarithm; they are treated as missing. Use scale='log' for a measure that can "
            "be ≤ 0.",
            NonPositiveValuesWarning,
            stacklevel=2,
        )
        out = np.where(nonpositive, np.nan, out)
    return np.log(out)


def aggregate(values: Any, scale: Scale) -> np.ndarray:
    """Seed-aggregated curve[M]: mean over finite seeds of the transformed values.

    For a positive measure this is ln of the geometric mean, so its slope against ln m is
    the power-law exponent. A size with no finite seed gives NaN.
    """
    return _column_means(transform(_curve_array(values), scale))


def slope(m: Any, curve: Any) -> float:
    """Least-squares slope of ``curve`` against ln m over its finite points (NaN if < 2)."""
    y = np.asarray(curve, dtype=float)
    if y.ndim != 1:
        raise ConfigurationError(f"curve must be 1-D (one value per size); got shape {y.shape}")
    x = np.log(_sizes(m, len(y)))
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(_ols_slopes(x[ok], y[ok]))


def trend(
    m: Any, values: Any, scale: Scale, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> Estimate:
    """Slope of the aggregated curve against ln m (the exponent β for a "linear" measure).

    The interval is a percentile bootstrap over seeds, resampled within each m independently.
    It needs ≥ 2 sizes with data for a value and ≥ 2 finite seeds at every such size for an
    interval; otherwise the missing parts are NaN and the trend is unresolved.
    """
    cells = transform(_curve_array(values), scale)
    x = np.log(_sizes(m, cells.shape[1]))
    return _bootstrap(
        cells, _slope_statistic(x), min_sizes=2, level=level, n_boot=n_boot, seed=seed
    )


def trend_kendall(m: Any, values: Any, scale: Scale) -> float:
    """Kendall τ-a of the aggregated curve against m: a trend that assumes no functional form."""
    curve = aggregate(values, scale)
    return kendall_tau_a(_sizes(m, len(curve)), curve)


# --------------------------------------------------------------------------- paired comparisons


def trend_difference(
    m: Any,
    base: Any,
    other: Any,
    scale: Scale,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Estimate:
    """slope(other) − slope(base), with a bootstrap paired by seed.

    Pairing uses the cells where both variants have data: a seed missing in either at some m
    is left out of both there, so the difference compares like with like.
    """
    diffs = _paired_differences(base, other, scale)
    x = np.log(_sizes(m, diffs.shape[1]))
    return _bootstrap(
        diffs, _slope_statistic(x), min_sizes=2, level=level, n_boot=n_boot, seed=seed
    )


def level_difference(
    base: Any, other: Any, scale: Scale, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> Estimate:
    """Mean over m of aggregate(other) − aggregate(base), with a bootstrap paired by seed.

    For a "linear" measure this is the mean log-ratio of the geometric means: whether two
    variants (e.g. two rungs of a data ladder) sit at different heights.
    """
    diffs = _paired_differences(base, other, scale)
    return _bootstrap(diffs, _mean_statistic, min_sizes=1, level=level, n_boot=n_boot, seed=seed)


def median_abs_log_ratio(
    base: Any, other: Any, scale: Scale, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> Estimate:
    """Median over m of |ln(μ_other / μ_base)| on the aggregated curves (|difference| for "log").

    The quantity is never negative, so compare its interval with a threshold, not with zero.
    """
    diffs = _paired_differences(base, other, scale)
    return _bootstrap(
        diffs, _median_abs_statistic, min_sizes=1, level=level, n_boot=n_boot, seed=seed
    )


# --------------------------------------------------------------------------- ranking


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


# --------------------------------------------------------------------------- robust sign error


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
            "mean": _plain(self.mean),
            "p90": _plain(self.p90),
            "max": _plain(self.max),
            "n_kept": self.n_kept,
            "n_dropped": self.n_dropped,
            "environments": [
                {"name": e.name, "loss": _plain(e.loss), "ess": _plain(e.ess), "kept": e.kept}
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


# --------------------------------------------------------------------------- internals


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise unknown("scale", scale, SCALES)


def _curve_array(values: Any, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ConfigurationError(
            f"{name} must be a 2-D array [seeds, sizes]; got shape {arr.shape} "
            "(wrap a single seed's curve as values[None, :])"
        )
    return arr


def _sizes(m: Any, n_sizes: int) -> np.ndarray:
    sizes = np.asarray(m, dtype=float)
    if sizes.ndim != 1 or len(sizes) != n_sizes:
        raise ConfigurationError(
            f"m must be 1-D with one entry per size ({n_sizes}); got shape {sizes.shape}"
        )
    if not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise ConfigurationError(
            f"training-set sizes m must be positive and finite; got {sizes.tolist()}"
        )
    if np.any(np.diff(sizes) <= 0):
        raise ConfigurationError(
            f"training-set sizes m must be strictly ascending; got {sizes.tolist()}"
        )
    return sizes


def _paired_differences(base: Any, other: Any, scale: Scale) -> np.ndarray:
    """Per-seed differences other − base on the analysis scale; NaN where either is missing."""
    b = transform(_curve_array(base, "base"), scale)
    o = transform(_curve_array(other, "other"), scale)
    if b.shape != o.shape:
        raise ConfigurationError(
            f"base and other must have the same [seeds, sizes] shape to be paired by seed; "
            f"got {b.shape} and {o.shape}"
        )
    return o - b


def _column_means(cells: np.ndarray) -> np.ndarray:
    finite = np.isfinite(cells)
    counts = finite.sum(axis=0)
    sums = np.where(finite, cells, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _ols_slopes(x: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """Least-squares slope of each row of curves[..., n] against x[n]: Σ(x − x̄)·y / Σ(x − x̄)²."""
    centred = x - x.mean()
    return curves @ centred / (centred @ centred)


Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _slope_statistic(x: np.ndarray) -> Statistic:
    return lambda curves, used: _ols_slopes(x[used], curves)


def _mean_statistic(curves: np.ndarray, used: np.ndarray) -> np.ndarray:
    return curves.mean(axis=-1)


def _median_abs_statistic(curves: np.ndarray, used: np.ndarray) -> np.ndarray:
    return np.median(np.abs(curves), axis=-1)


def _bootstrap(
    cells: np.ndarray, statistic: Statistic, *, min_sizes: int, level: float, n_boot: int, seed: int
) -> Estimate:
    """Point estimate and percentile interval of ``statistic`` of the seed-mean curve.

    ``cells[S, M]`` are on the analysis scale (NaN = missing). ``statistic(curves, used)``
    maps curves[..., M'] over the M' sizes with data (mask ``used``) to one number per curve.
    Seeds are resampled within each size independently; each resampled mean is moved away
    from the sample mean by √(n/(n−1)), so its spread matches the usual standard error
    s/√n instead of the plain bootstrap's smaller √((n−1)/n)·s/√n.
    """
    if not 0 < level < 1:
        raise ConfigurationError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ConfigurationError(f"n_boot must be a positive integer; got {n_boot!r}")
    finite = np.isfinite(cells)
    counts = finite.sum(axis=0)
    used = counts > 0
    n_sizes = int(used.sum())
    n_seeds = int(counts[used].min()) if n_sizes else 0
    if n_sizes < min_sizes:
        return Estimate(math.nan, math.nan, math.nan, level, n_seeds, n_sizes)
    value = float(statistic(_column_means(cells)[used], used))
    if n_seeds < 2:
        return Estimate(value, math.nan, math.nan, level, n_seeds, n_sizes)

    rng = np.random.default_rng(seed)
    curves = np.empty((int(n_boot), n_sizes))
    for j, column in enumerate(np.flatnonzero(used)):
        sample = cells[finite[:, column], column]
        n = len(sample)
        means = sample[rng.integers(0, n, size=(int(n_boot), n))].mean(axis=1)
        centre = sample.mean()
        curves[:, j] = centre + math.sqrt(n / (n - 1)) * (means - centre)
    low, high = np.quantile(statistic(curves, used), [(1 - level) / 2, (1 + level) / 2])
    return Estimate(value, float(low), float(high), level, n_seeds, n_sizes)
