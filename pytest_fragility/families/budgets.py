"""Budgets: how big a family's grid is (sizes m, seeds, and a few recipe overrides).

    smoke     a dry run: tiny nets and sizes, for tests of the tool itself (a cold audit of a
              few measures takes under a minute on 2 CPU cores; docs/quickstart.md has figures)
    quick     the default: minutes on a laptop CPU; 6 seeds, the fewest that give the checks
              80% power for the calibration targets (docs/method.md); width 128 for FCNs
    standard  more sizes and seeds (8): a longer CPU run or a small GPU (width 256)
    paper     the reference protocol: 21 log-spaced sizes from 100, 8 seeds, width 1,024
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pytest_fragility.errors import ConfigurationError, unknown

PAPER_SEEDS = (0, 16, 32, 64, 128, 256, 512, 1024)
PAPER_MAX_SIZE = 10_000


def log_spaced(low: int, high: int, count: int) -> tuple[int, ...]:
    """`count` sizes from `low` to `high`, evenly spaced in log m, rounded, distinct."""
    if count == 1 or high <= low:
        return (min(low, high),)
    ratio = (high / low) ** (1 / (count - 1))
    sizes = sorted({int(round(low * ratio ** i)) for i in range(count)})
    return tuple(sizes)


@dataclass(frozen=True)
class Budget:
    """A grid size. Sizes are explicit, or `count` log-spaced ones from `low` up to
    min(`high`, the training pool); `overrides` change the family's recipe."""

    name: str
    seeds: tuple[int, ...]
    sizes: tuple[int, ...] | None = None
    count: int = 5
    low: int = 100
    high: int | None = None
    overrides: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigurationError(f"budget {self.name!r} needs at least one seed")
        if self.sizes is not None and any(m < 1 for m in self.sizes):
            raise ConfigurationError(f"budget {self.name!r}: sizes must be positive")

    def resolve_sizes(self, pool: int) -> tuple[int, ...]:
        """Training-set sizes for a dataset whose train pool holds `pool` examples."""
        if self.sizes is not None:
            return tuple(sorted(m for m in self.sizes if m <= pool)) or (pool,)
        high = min(pool, self.high or pool)
        return log_spaced(min(self.low, high), high, self.count)

    def describe_grid(self, pool: int | None = None) -> str:
        """'sizes 32, 64, 128; seeds 0, 1' (count-based sizes need the training `pool` to
        be listed; without it, the rule is given)."""
        if self.sizes is not None or pool is not None:
            sizes = "sizes " + ", ".join(f"{m:,}" for m in self.resolve_sizes(pool or max(self.sizes or (1,))))
        else:
            top = f"{self.high:,}, at most the training pool" if self.high else "the training pool"
            sizes = f"{self.count} log-spaced sizes from {self.low:,} to {top}"
        seeds = "seeds " + ", ".join(map(str, self.seeds)) if len(self.seeds) <= 8 else f"{len(self.seeds)} seeds"
        return f"{sizes}; {seeds}"


FCN_WIDTHS = {"smoke": 32, "quick": 128, "standard": 256, "paper": 1024}


def standard_budgets(widths: dict[str, int] = FCN_WIDTHS) -> dict[str, Budget]:
    """The four named budgets of the built-in families, with the width each one trains."""
    return {
        "smoke": Budget("smoke", seeds=(0, 1), sizes=(32, 64, 128),
                        overrides=(("width", widths["smoke"]), ("batch_size", 32))),
        "quick": Budget("quick", seeds=tuple(range(6)), count=5, low=100, high=1600,
                        overrides=(("width", widths["quick"]),)),
        "standard": Budget("standard", seeds=tuple(range(8)), count=8, low=100, high=4000,
                           overrides=(("width", widths["standard"]),)),
        "paper": Budget("paper", seeds=PAPER_SEEDS, count=21, low=100, high=PAPER_MAX_SIZE,
                        overrides=(("width", widths["paper"]),)),
    }


def pick(budgets: Mapping[str, Budget], name: str | Budget) -> Budget:
    if isinstance(name, Budget):
        return name
    if name not in budgets:
        raise unknown("budget", name, list(budgets))
    return budgets[name]
