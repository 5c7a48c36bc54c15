"""`Estimate`: a mean of per-seed statistics with its Student-t interval.

The seed is the experimental unit (it fixes the initialization and the nested training
subset for every m and variant), so every estimate is the mean of one statistic per
seed (a slope, a level, a paired difference) and its interval is
mean ± t(level, n − 1) · sd / √n over the n seeds that have one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pytest_fragility.files import plain


@dataclass(frozen=True)
class Estimate:
    """``value`` is the mean over ``n_seeds`` per-seed statistics, ``se`` its standard error
    and ``low``/``high`` the two-sided interval at ``level`` (NaN with fewer than 2 seeds).
    ``n_sizes`` is the number of training-set sizes that had data."""

    value: float
    low: float
    high: float
    level: float
    n_seeds: int
    n_sizes: int
    se: float = math.nan

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def resolved(self) -> bool:
        """True when the interval excludes zero: the sign is known."""
        return self.has_interval and (self.low > 0 or self.high < 0)

    @property
    def sign(self) -> int:
        """+1 or −1 when resolved, 0 when the data do not settle the sign."""
        if not self.resolved:
            return 0
        return 1 if self.low > 0 else -1

    def within(self, tolerance: float) -> bool:
        """The interval lies inside ±tolerance: equivalence is shown."""
        return self.has_interval and -tolerance <= self.low and self.high <= tolerance

    def beyond(self, tolerance: float) -> bool:
        """The interval lies entirely outside ±tolerance: an effect is shown."""
        return self.has_interval and (self.low > tolerance or self.high < -tolerance)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2 if self.has_interval else math.inf

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain Python numbers (NaN → None) for JSON reports and pytest-xdist transport."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Estimate:
        """Inverse of `to_dict` (None → NaN)."""

        def number(key: str) -> float:
            return math.nan if data.get(key) is None else float(data[key])

        return cls(value=number("value"), low=number("low"), high=number("high"), level=float(data["level"]),
                   n_seeds=int(data["n_seeds"]), n_sizes=int(data["n_sizes"]), se=number("se"))
