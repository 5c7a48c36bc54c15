"""The subject of an audit: the measure, in the form audited, and how to read its values.

Every call of the measure is guarded (`runs/guard.py`): one that changes its run, or calls
pytest.skip() or sys.exit(), becomes an error naming the measure, not a poisoned run or a
lost audit.

A built-in measure (a registry name or spec) is audited in the reference pipeline's
bound form unless ``form="raw"``; any callable ``Run -> float`` is audited as it
returns. `as_scalar` turns whatever a measure returned into a finite float, or says
what it was instead.
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from pytest_fragility.errors import ConfigurationError
from pytest_fragility.runs.guard import guarded
from pytest_fragility.runs.run import Run


@dataclass
class Subject:
    """The callable being audited with what the report needs to know about it."""

    name: str
    raw: Callable[[Run], Any]
    form: str
    scale: str | None
    bound: Callable[[float, int], float] | None = None  # raw value and m → audited value (built-ins)
    cache_id: str | None = None
    data_only: bool = False  # not post-mortem: the value depends on data and architecture only
    spec: Any = None  # the registered MeasureSpec, for built-in measures
    options: dict[str, Any] = field(default_factory=dict)

    def audited(self, raw: float, m: int) -> float:
        """The value the checks see: the bound form of a built-in measure, else the raw value."""
        return raw if self.bound is None else self.bound(raw, m)


def resolve_subject(measure: Any, form: str | None, scale: str | None, options: dict[str, Any]) -> Subject:
    """A registered name or spec (audited in bound form by default) or any callable Run → float."""
    if isinstance(measure, str):
        from pytest_fragility import measures

        measure = measures.get(measure)
    # a spec can only exist if the registry was imported: a plain callable never loads torch here
    registry = sys.modules.get("pytest_fragility.measures.registry")
    if registry is not None and isinstance(measure, registry.MeasureSpec):
        return _builtin(measure, form or "bound", scale, options)
    if not callable(measure):
        raise ConfigurationError(f"measure must be a callable Run -> float or a measure name, got {measure!r}")
    if form not in (None, "as-returned"):
        raise ConfigurationError("form= applies to built-in measures; a custom measure is audited as returned")
    if options:
        raise ConfigurationError("measure_options= applies to built-in measures only")
    name = getattr(measure, "__name__", type(measure).__name__)
    return Subject(name=name, raw=guarded(measure, name), form="as-returned", scale=scale)


def _builtin(spec: Any, form: str, scale: str | None, options: dict[str, Any]) -> Subject:
    if form not in ("raw", "bound"):
        raise ConfigurationError(f"form must be 'raw' or 'bound', got {form!r}")
    option_text = ",".join(f"{k}={v!r}" for k, v in sorted(options.items()))

    def compute(run: Run) -> float:
        return spec.compute(run, **options)

    return Subject(name=spec.name, raw=guarded(compute, spec.name), form=form, scale=scale or spec.scale,
                   bound=spec.to_bound if form == "bound" else None,
                   cache_id=f"{spec.name}@v{spec.version}|{option_text}", data_only=not spec.post_mortem,
                   spec=spec, options=options)


def as_scalar(value: Any) -> float:
    """A finite float from a measure's return value, or a ValueError saying what it was."""
    if isinstance(value, bool):
        raise ValueError("returned a bool, not a number")
    if isinstance(value, numbers.Real):
        number = float(value)
    elif hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        item = value.item()
        if isinstance(item, bool):
            raise ValueError(f"returned a boolean {type(value).__name__}, not a number")
        number = float(item)
    else:
        shape = getattr(value, "shape", None)
        raise ValueError(f"returned {type(value).__name__}{'' if shape is None else f' of shape {tuple(shape)}'}"
                         ", not a scalar number")
    if not math.isfinite(number):
        raise ValueError(f"returned {number}")
    return number
