"""Variants of a family's recipe: perturbations and data-ladder rungs.

Small frozen value objects with readable names (they become column names and report
labels) and one method, `apply(recipe) -> recipe`. `pf.perturb` and `pf.data` build
them; this module imports nothing heavy so decorators can validate them at import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_fragility.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.families.recipe import Recipe


@dataclass(frozen=True)
class Variant:
    """A named change to a recipe. `kind` is "perturbation" (should leave generalization
    nearly unchanged), "rung" (a data-ladder rung that should change it) or "base"."""

    name: str
    kind: str
    changes: tuple[tuple[str, Any], ...] = ()
    optimizer: str | None = field(default=None, compare=True)
    lr_factor: float | None = None

    def apply(self, recipe: "Recipe") -> "Recipe":
        if self.lr_factor is not None:
            recipe = recipe.replace(lr=recipe.lr * self.lr_factor)
        if self.optimizer is not None:
            lr = dict(self.changes).get("lr")
            recipe = recipe.with_optimizer(self.optimizer, lr=lr)
            return recipe.replace(**{k: v for k, v in self.changes if k != "lr"})
        return recipe.replace(**dict(self.changes)) if self.changes else recipe

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "changes": dict(self.changes)}
        if self.optimizer is not None:
            data["optimizer"] = self.optimizer
        if self.lr_factor is not None:
            data["lr_factor"] = self.lr_factor
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Variant":
        """Inverse of `to_dict` (the example database stores variants this way)."""
        return cls(data["name"], data["kind"], tuple(data.get("changes", {}).items()), data.get("optimizer"),
                   data.get("lr_factor"))

    def __str__(self) -> str:
        return self.name


BASE = Variant("base", "base")
ASCII_TIMES = re.compile(r"^(lr|init)\s*[*xX]\s*(?=[0-9.])")


def canonical_name(text: str) -> str:
    """A variant's report name from an ASCII spelling: lr*0.5 and lrx0.5 are lr×0.5, init*2
    and initx2 are init×2 (for command lines and keys typed on keyboards without ×)."""
    return ASCII_TIMES.sub(lambda match: f"{match[1]}×", text.strip())


def require_positive(name: str, value: float) -> float:
    """`value` if it is a finite number > 0; else an error naming `name`."""
    if not _finite_number(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def require_non_negative(name: str, value: float) -> float:
    """`value` if it is a finite number ≥ 0; else an error naming `name`."""
    if not _finite_number(value) or value < 0:
        raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def require_count(name: str, value: int) -> int:
    """`value` if it is a whole number ≥ 1; else an error naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def _finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_variants(values: object, kind: str, argument: str) -> tuple[Variant, ...]:
    """Validate a decorator argument: a sequence of variants of the right kind."""
    if values is None:
        return ()
    if isinstance(values, Variant):
        values = (values,)
    what = "perturbation" if kind == "perturbation" else "data-ladder rung"
    if isinstance(values, str):
        raise ConfigurationError(f"{argument}: {values!r} is a string, not a {what}; {_builders(kind)}")
    try:
        items = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigurationError(f"{argument} must be a list of {what}s; {_builders(kind)}") from None
    for item in items:
        if not isinstance(item, Variant) or item.kind != kind:
            raise ConfigurationError(f"{argument}: {item!r} is not a {what}; {_builders(kind)}")
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"{argument}: duplicate variants {duplicates}")
    return items


def _builders(kind: str) -> str:
    """'build one with pf.perturb.lr, ...': the valid ways to make a variant of this kind."""
    import importlib

    module, public = ("perturb", "perturb") if kind == "perturbation" else ("ladder", "data")
    names = importlib.import_module(f"pytest_fragility.spec.{module}").__all__
    return "build one with " + ", ".join(f"pf.{public}.{name}(...)" for name in names)
