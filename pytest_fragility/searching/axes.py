"""Perturbation axes: a kind of training change with a strength, a base point and a distance.

A search walks each axis away from the family's base recipe, looking for the nearest
strength that breaks the measure. An axis knows

- how to build the perturbation at a strength (`build(strength) -> Variant`, a `pf.perturb` builder),
- its base point: the strength of the unchanged recipe, given or read from a recipe field,
- the strengths it spans: a continuous range (`low`..`high`) or a grid (batch sizes), and
  whether they are ordered at all (an optimizer switch is `categorical`: every option is tried),
- the coordinate distance and bisection are measured in: `log` (ln s, for factors), `linear`
  (s) or `effective-step` (ln 1/(1 − s): the factor momentum s puts on SGD's effective step),
- its precision: the bracket width, in that coordinate, at which bisection stops.

Every axis splits into rays from its base point (up and down for lr, up only for momentum).
Distances are reported as a fraction of the ray (0 at the base, 1 at the searched edge), so
counterexamples on different axes can be compared. Importing this module loads no torch:
`@fragility_check(search=[...])` validates axis names at import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec import perturb
from pytest_fragility.spec.names import OPTIMIZERS
from pytest_fragility.spec.variants import Variant

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.families.recipe import Recipe

__all__ = ["Axis", "Ray", "lr", "momentum", "optimizer", "batch_size", "weight_decay", "width", "init_scale",
           "train_after_fit", "get", "available", "register", "resolve", "DEFAULT_AXES"]

FACTOR_PRECISION = math.log(1.1)  # bisect a factor until the bracket is within ×1.1
DIGITS = 3                        # strengths tried are rounded to 3 significant digits (readable, cache-stable)


def _effective_step(s: float) -> float:
    return -math.log1p(-s)


def _from_effective_step(c: float) -> float:
    return -math.expm1(-c)


COORDINATES: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "log": (math.log, math.exp),
    "linear": (float, float),
    "effective-step": (_effective_step, _from_effective_step),
}


def _rounded(strength: float, scale: str) -> float:
    """`strength` to DIGITS significant digits (of 1 − s for effective-step, where the digits that matter are)."""
    if scale == "effective-step":
        return 1 - float(f"{1 - strength:.{DIGITS}g}")
    return float(f"{strength:.{DIGITS}g}")


@dataclass(frozen=True)
class Axis:
    """A training change with a strength. Give either `low`/`high` (continuous) or `grid`
    (ordered strengths, or options when `categorical`); `base` is the strength of the unchanged
    recipe, or None to read it from the recipe's `field` when the search starts."""

    name: str
    build: Callable[[Any], Variant]
    low: float | None = None
    high: float | None = None
    base: Any = None
    field: str | None = None
    scale: str = "log"
    grid: tuple[Any, ...] = ()
    categorical: bool = False
    precision: float = FACTOR_PRECISION
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "," in self.name:
            raise ConfigurationError(f"axis name must be a non-empty string without commas, got {self.name!r}")
        if not callable(self.build):
            raise ConfigurationError(f"axis {self.name!r}: build must be a function strength -> pf.perturb variant")
        if self.scale not in COORDINATES:
            raise unknown(f"axis {self.name!r} scale", self.scale, list(COORDINATES))
        if bool(self.grid) == (self.high is not None or self.low is not None):
            raise ConfigurationError(f"axis {self.name!r}: give either low/high (continuous) or grid, not both")
        if self.categorical and not self.grid:
            raise ConfigurationError(f"axis {self.name!r}: a categorical axis needs its options as grid")
        if self.base is None and self.field is None:
            raise ConfigurationError(f"axis {self.name!r}: give its base strength or the recipe field holding it")
        if not (isinstance(self.precision, (int, float)) and self.precision > 0):
            raise ConfigurationError(f"axis {self.name!r}: precision must be > 0, got {self.precision!r}")

    @property
    def continuous(self) -> bool:
        return not self.grid

    def at(self, recipe: "Recipe | None") -> "Axis":
        """This axis with its base point settled from `recipe` (the family's base recipe at
        the search's budget), and the base placed on an ordered grid that lacks it."""
        base = self.base
        if base is None:
            if recipe is None:
                raise ConfigurationError(f"axis {self.name!r} reads its base from the recipe field {self.field!r}, "
                                         "and this family has no recipe; give the axis a base")
            base = getattr(recipe, self.field)  # type: ignore[arg-type]
        axis = replace(self, base=base)
        if self.continuous:
            low = base if self.low is None else self.low
            high = base if self.high is None else self.high
            if not low <= base <= high:
                raise ConfigurationError(f"axis {self.name!r}: the base strength {base!r} lies outside "
                                         f"the searched range {low!r}..{high!r}")
            return replace(axis, low=low, high=high)
        if not self.categorical and base not in self.grid:
            return replace(axis, grid=tuple(sorted({*self.grid, base})))
        return axis

    def rays(self) -> list["Ray"]:
        """The directions searched from the base point (call on a settled axis, see `at`)."""
        if self.categorical:
            options = [option for option in self.grid if option != self.base]
            return [Ray(self, 0, float(len(options)))] if options else []
        if self.grid:
            index = self.grid.index(self.base)
            up, down = len(self.grid) - 1 - index, index
        else:
            to, _ = COORDINATES[self.scale]
            centre = to(self.base)
            up = to(self.high) - centre if self.high > self.base else 0  # type: ignore[operator]
            down = centre - to(self.low) if self.low < self.base else 0  # type: ignore[operator]
        return [Ray(self, direction, float(extent)) for direction, extent in ((1, up), (-1, down)) if extent > 0]

    def describe(self) -> str:
        """The space searched, e.g. "lr 0.125..8 (base 1, log scale, precision 0.0953)"."""
        if self.categorical:
            return f"{self.name} {{{', '.join(str(o) for o in self.grid if o != self.base)}}} (base {self.base})"
        if self.grid:
            return f"{self.name} {', '.join(f'{s:g}' for s in self.grid)} (base {self.base:g})"
        return (f"{self.name} {self.low:g}..{self.high:g} (base {self.base:g}, {self.scale} scale, "
                f"precision {self.precision:.3g})")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "low": self.low, "high": self.high, "grid": list(self.grid),
                "categorical": self.categorical, "scale": self.scale, "precision": self.precision,
                "description": self.description, "space": self.describe()}


@dataclass(frozen=True)
class Ray:
    """One direction from an axis's base point. Positions t run over (0, extent]: coordinate
    distance on a continuous axis, grid steps on a grid, option number on a categorical axis."""

    axis: Axis
    direction: int  # +1 toward high, −1 toward low, 0 categorical
    extent: float

    @property
    def label(self) -> str:
        return self.axis.name + {1: " up", -1: " down", 0: ""}[self.direction]

    @property
    def discrete(self) -> bool:
        return not self.axis.continuous

    @property
    def precision(self) -> float:
        return self.axis.precision if self.axis.continuous else 1.0

    def strength(self, t: float) -> Any:
        axis = self.axis
        if axis.categorical:
            return [o for o in axis.grid if o != axis.base][int(t) - 1]
        if axis.grid:
            return axis.grid[axis.grid.index(axis.base) + self.direction * int(t)]
        to, back = COORDINATES[axis.scale]
        return _rounded(back(to(axis.base) + self.direction * t), axis.scale)

    def variant(self, t: float) -> Variant:
        return self.axis.build(self.strength(t))

    def distance(self, t: float) -> float:
        """How far along the ray: 0 at the base, 1 at the searched edge (every option of a
        categorical axis is a whole switch: 1)."""
        return 1.0 if self.axis.categorical else t / self.extent

    def probes(self) -> list[float]:
        """Where the outward scan looks before bisecting: a quarter, half and all of the way
        (every option of a categorical axis)."""
        if self.axis.categorical:
            return [float(i) for i in range(1, int(self.extent) + 1)]
        if self.discrete:
            return sorted({float(max(1, math.ceil(self.extent * f))) for f in (0.25, 0.5, 1.0)})
        return [self.extent * f for f in (0.25, 0.5, 1.0)]

    def midpoint(self, low: float, high: float) -> float | None:
        """The next position to try between two, or None when nothing tries anything new
        (adjacent grid steps, or strengths that round to the same number)."""
        if self.discrete:
            middle = float((int(low) + int(high)) // 2)
            return None if middle in (low, high) else middle
        middle = (low + high) / 2
        strengths = {self.strength(x) if x > 0 else self.axis.base for x in (low, high)}
        return None if self.strength(middle) in strengths else middle

    def closed(self, low: float, high: float) -> bool:
        """The bracket (low, high] is as narrow as the axis's precision asks."""
        return high - low <= self.precision + 1e-12


# ------------------------------------------------------------------------------ built-in axes


def lr(low: float = 1 / 8, high: float = 8.0, precision: float = FACTOR_PRECISION) -> Axis:
    """The learning rate × a factor, on a log scale (default ×1/8 .. ×8, to within ×1.1)."""
    return Axis("lr", perturb.lr, low, high, base=1.0, scale="log", precision=precision,
                description="learning rate × factor")


def momentum(high: float = 0.99, precision: float = 0.1) -> Axis:
    """SGD momentum from the recipe's (0 for plain SGD) up to `high`, at the same effective step
    (`pf.perturb.momentum`): measured on ln 1/(1 − μ), to within ×1.1 of 1/(1 − μ). For
    families trained with plain SGD."""
    return Axis("momentum", perturb.momentum, high=high, field="momentum", scale="effective-step",
                precision=precision, description="SGD momentum at the same effective step")


def optimizer(options: Sequence[str] = OPTIMIZERS) -> Axis:
    """Switch to each other optimizer at its own standard learning rate (`pf.perturb.optimizer`)."""
    return Axis("optimizer", perturb.optimizer, field="optimizer", grid=tuple(options), categorical=True,
                description="optimizer switch, each at its standard learning rate")


def batch_size(sizes: Sequence[int] = (16, 32, 64, 128, 256, 512, 1024)) -> Axis:
    """Minibatch sizes (powers of 2 by default), from the recipe's outward."""
    return Axis("batch", perturb.batch_size, field="batch_size", grid=tuple(sizes), description="minibatch size")


def weight_decay(values: Sequence[float] = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)) -> Axis:
    """L2 weight decay, from the recipe's (0) upward."""
    return Axis("wd", perturb.weight_decay, field="weight_decay", grid=tuple(values), scale="linear",
                description="L2 weight decay")


def width(widths: Sequence[int] = (16, 32, 64, 128, 256, 512, 1024)) -> Axis:
    """Hidden width, from the recipe's (the budget's) outward."""
    return Axis("width", perturb.width, field="width", grid=tuple(widths), description="hidden width")


def init_scale(low: float = 0.25, high: float = 4.0, precision: float = FACTOR_PRECISION) -> Axis:
    """He-normal initialization std × a factor, on a log scale."""
    return Axis("init", perturb.init_scale, low, high, field="init_scale", scale="log", precision=precision,
                description="initialization std × factor")


def train_after_fit(epochs: Sequence[int] = (0, 5, 10, 20, 50, 100)) -> Axis:
    """Epochs trained on after 100% training accuracy."""
    return Axis("train-after-fit", perturb.train_after_fit, field="epochs_after_fit", grid=tuple(epochs),
                scale="linear", description="epochs trained after the stopping rule is met")


BUILTIN: dict[str, Callable[[], Axis]] = {
    "lr": lr, "momentum": momentum, "optimizer": optimizer, "batch": batch_size, "wd": weight_decay,
    "width": width, "init": init_scale, "train-after-fit": train_after_fit,
}
DEFAULT_AXES = ("lr", "momentum", "optimizer", "batch")
_registered: dict[str, Axis] = {}


def register(axis: Axis, replace: bool = False) -> Axis:
    """Make a user's axis available by name (`--axes NAME`, ``search=["NAME"]``)."""
    if not isinstance(axis, Axis):
        raise ConfigurationError(f"register an Axis, got {axis!r}")
    if not replace and (axis.name in BUILTIN or axis.name in _registered):
        raise ConfigurationError(f"an axis named {axis.name!r} exists; pass replace=True to replace it")
    _registered[axis.name] = axis
    return axis


def available() -> list[str]:
    return [*BUILTIN, *(name for name in _registered if name not in BUILTIN)]


def get(name: str) -> Axis:
    if name in _registered:
        return _registered[name]
    if name in BUILTIN:
        return BUILTIN[name]()
    raise unknown("search axis", name, available())


def resolve(axes: Sequence[str | Axis] | str | Axis) -> tuple[Axis, ...]:
    """Axes from names or Axis objects, validated, without duplicates."""
    if isinstance(axes, (str, Axis)):
        axes = (axes,)
    try:
        items = tuple(axes)
    except TypeError:
        raise ConfigurationError(f"axes must be a list of axis names or pf.Axis objects, got {axes!r}") from None
    chosen = []
    for item in items:
        if isinstance(item, Axis):
            chosen.append(item)
        elif isinstance(item, str):
            chosen.append(get(item.strip()))
        else:
            raise ConfigurationError(f"axes: {item!r} is neither an axis name ({', '.join(available())}) nor a pf.Axis")
    names = [a.name for a in chosen]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"axes: duplicate axes {duplicates}")
    if not chosen:
        raise ConfigurationError(f"axes: name at least one axis ({', '.join(available())})")
    return tuple(chosen)


def register_from_hooks(returned: Sequence[Sequence[Axis] | None]) -> None:
    """Register the axes that `pytest_fragility_search_axes` implementations returned."""
    for axes in returned:
        for axis in axes or []:
            register(axis, replace=True)
