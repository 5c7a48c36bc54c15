"""Learning-curve statistics behind the checks: exponents, paired differences, intervals.

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
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.ranking import kendall_tau_a
from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.names import SCALES

Scale = Literal["positive", "log"]


class NonPositiveValuesWarning(UserWarning):
    """A measure declared positive (scale "positive") had values ≤ 0; they were treated as missing."""


# --------------------------------------------------------------------------- curves


def infer_scale(values: Any) -> Scale:
    """Return "positive" when every finite value is positive (a power law fits), else "log".

    An array with no finite value at all counts as positive (nothing contradicts it).
    """
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    return "positive" if bool(np.all(finite > 0)) else "log"


def transform(values: Any, scale: Scale) -> np.ndarray:
    """Values on the analysis scale: ln μ for "positive", μ itself for "log".

    Non-finite cells become NaN (missing). Under "positive", values ≤ 0 have no logarithm:
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
    """Slope of the aggregated curve against ln m (the exponent β for a "positive" measure).

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

    For a "positive" measure this is the mean log-ratio of the geometric means: whether two
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
