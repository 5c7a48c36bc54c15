"""`ToyFamily`: runs with closed-form learning curves and no training.

Test error follows a power law per variant, with seeded log-normal noise, so the
audit engine, the checks and the plugin can be tested in milliseconds and with
known answers. A toy measure reads `run.toy` (the variant's parameters and a
standard-normal draw per run) and returns a closed-form value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from pytest_fragility.families.budgets import Budget, pick
from pytest_fragility.run import Run
from pytest_fragility.variants import BASE, Variant


@dataclass(frozen=True)
class PowerLaw:
    """e(m) = scale · m^exponent."""

    scale: float = 2.0
    exponent: float = -0.5

    def __call__(self, m: float) -> float:
        return self.scale * m ** self.exponent


class _ToyModel:
    """Placeholder model: toy runs are measured by closed forms, not weights."""


@dataclass(frozen=True, eq=False)
class ToyFamily:
    """A family whose runs are synthetic. `errors` maps variant names to power laws of
    test error (unlisted variants use `base`); `noise` is the std of ln(error) per run."""

    name: str
    base: PowerLaw = PowerLaw()
    errors: Mapping[str, PowerLaw] = field(default_factory=dict)
    noise: float = 0.02
    sizes: Sequence[int] = (100, 200, 400, 800, 1600)
    seeds: Sequence[int] = (0, 1, 2, 3)
    description: str = "closed-form toy learning curves"

    @property
    def budgets(self) -> dict[str, Budget]:
        budget = Budget("toy", seeds=tuple(self.seeds), sizes=tuple(self.sizes))
        return {name: budget for name in ("smoke", "quick", "standard", "paper", "toy")}

    def budget(self, name: str | Budget) -> Budget:
        return pick(self.budgets, name)

    def runs(self, budget: str | Budget = "quick", variants: Sequence[Variant] = (),
             **_: Any) -> list[Run]:
        chosen = self.budget(budget)
        runs = []
        for variant in (BASE, *variants):
            law = self.errors.get(variant.name, self.base)
            for m in chosen.resolve_sizes(max(chosen.sizes or self.sizes)):
                for seed in chosen.seeds:
                    z = _standard_normal(variant.name, m, seed)
                    error = min(1.0, law(m) * math.exp(self.noise * z))
                    run = Run(model=_ToyModel(), m=m, seed=seed, variant=variant.name,  # type: ignore[arg-type]
                              family=self.name, test_error=error, train_error=0.0, converged=True,
                              epochs=0, key=None)
                    run.toy = {"z": z, "error": error, "variant": variant.name, "kind": variant.kind}  # type: ignore[attr-defined]
                    runs.append(run)
        return runs


def _standard_normal(*parts: object) -> float:
    """A deterministic N(0, 1) draw from its parts (Box–Muller on a hash)."""
    import hashlib

    digest = hashlib.sha256(repr(parts).encode()).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / (2 ** 64 + 2)
    u2 = int.from_bytes(digest[8:16], "big") / 2 ** 64
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
