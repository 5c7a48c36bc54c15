"""`Estimate`: a point estimate with its interval, and what the interval settles."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pytest_fragility.files import plain


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
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}

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
