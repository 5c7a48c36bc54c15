"""The measure registry: every built-in measure with what it needs and costs.

A measure is a `MeasureSpec`: a callable ``spec(run, form="raw", **options) -> float``
that also describes itself (reference, inputs, scale, cost, randomness). Built-in
measures register with the `measure` decorator; users and plugins call `register`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal

from pytest_fragility.errors import ConfigurationError, MeasureInputError, unknown
from pytest_fragility.spec.names import scale_name

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.run import Run

Scale = Literal["positive", "log"]
Cost = Literal["free", "forward", "search", "kernel"]
Form = Literal["raw", "bound"]
BoundRule = Literal["sqrt", "half-log", "identity"]
Where = Literal["driver", "cluster"]

NEEDS = frozenset({"init", "train_data", "test_data"})


@dataclass(frozen=True)
class MeasureSpec:
    """One measure and its metadata.

    ``compute(run, **options)`` returns the raw value. ``form="bound"`` applies the
    reference pipeline's m-normalization: √(x/m) for positive measures, ½(x − ln m)
    for log measures, nothing for measures that already are bounds. ``where`` says
    where a distributed executor computes it: beside the runs ("cluster", the default
    for search and kernel costs) or on the driver.
    """

    name: str
    compute: Callable[..., float] = field(repr=False)
    description: str
    reference: str
    needs: frozenset[str] = frozenset()
    scale: Scale = "positive"
    cost: Cost = "free"
    random: bool = False
    post_mortem: bool = True
    bound_rule: BoundRule | None = None
    version: int = 1
    where: Where | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", scale_name(self.scale))
        bad = set(self.needs) - NEEDS
        if bad:
            raise ConfigurationError(f"measure {self.name!r}: unknown needs {sorted(bad)}")
        if self.bound_rule is None:
            object.__setattr__(self, "bound_rule", "half-log" if self.scale == "log" else "sqrt")
        if self.where is None:  # with a distributed executor, costly measures run beside the runs
            object.__setattr__(self, "where", "cluster" if self.cost in ("search", "kernel") else "driver")
        if self.where not in ("driver", "cluster"):
            raise ConfigurationError(f"measure {self.name!r}: where must be 'driver' or 'cluster'")

    def __call__(self, run: "Run", form: Form = "raw", **options: object) -> float:
        if form not in ("raw", "bound"):
            raise ConfigurationError(f"form must be 'raw' or 'bound', got {form!r}")
        value = float(self.compute(run, **options))
        return self.to_bound(value, run.m) if form == "bound" else value

    def to_bound(self, raw: float, m: int) -> float:
        """The reference pipeline's bound form of a raw value at training-set size m."""
        if self.bound_rule == "identity":
            return raw
        if self.bound_rule == "half-log":
            return 0.5 * (raw - math.log(m))
        if raw < 0:
            raise MeasureInputError(
                f"{self.name}: raw value {raw!r} is negative, so its bound form sqrt(x/m) is undefined"
            )
        return math.sqrt(raw / m)


_REGISTRY: dict[str, MeasureSpec] = {}


def register(spec: MeasureSpec, *, replace: bool = False) -> MeasureSpec:
    """Add a measure to the registry (plugins use this through their hook)."""
    if spec.name in _REGISTRY and not replace:
        raise ConfigurationError(f"a measure named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def measure(
    name: str,
    *,
    description: str,
    reference: str,
    needs: tuple[str, ...] = (),
    scale: Scale = "positive",
    cost: Cost = "free",
    random: bool = False,
    post_mortem: bool = True,
    bound_rule: BoundRule | None = None,
    version: int = 1,
    where: Where | None = None,
) -> Callable[[Callable[..., float]], MeasureSpec]:
    """Decorator for built-in measures: turns ``fn(run, **options)`` into a registered spec."""

    def wrap(fn: Callable[..., float]) -> MeasureSpec:
        spec = MeasureSpec(
            name=name, compute=fn, description=description, reference=reference,
            needs=frozenset(needs), scale=scale, cost=cost, random=random,
            post_mortem=post_mortem, bound_rule=bound_rule, version=version, where=where,
        )
        return register(spec)

    return wrap


def get(name: str) -> MeasureSpec:
    """The registered measure called `name`; an unknown name lists the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown("measure", name, list(_REGISTRY)) from None


def available() -> list[str]:
    """Names of every registered measure, in registration order."""
    return list(_REGISTRY)
