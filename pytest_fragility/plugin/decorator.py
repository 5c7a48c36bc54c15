"""`@fragility_check`: declare a fragility audit as a pytest test.

The decorator validates its arguments when the test module is imported (a typo is a
collection error naming the valid choices, before any training), attaches a
`fragility` mark carrying a `CheckSpec` and an `xdist_group` mark per family, and
returns the function itself. The test body is the measure: the plugin calls it once
per run with ``run=`` plus any fixtures it asks for. To keep pytest from looking for
a fixture called ``run``, the function's ``__signature__`` omits that parameter;
calling the function directly still works.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TypeVar

import pytest

from pytest_fragility import families
from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.plugin import expectations
from pytest_fragility.plugin.expectations import Expectation
from pytest_fragility.spec.names import BUILTIN_MEASURES, DEFAULT_CHECKS, choice, scale_name, validate_checks
from pytest_fragility.spec.tolerances import resolve_tolerances
from pytest_fragility.spec.variants import Variant, check_variants

F = TypeVar("F", bound=Callable[..., Any])
RUN_ARGUMENT = "run"


@dataclass(frozen=True)
class CheckSpec:
    """Everything a fragility test declared, validated."""

    family: str
    perturbations: tuple[Variant, ...] = ()
    data: tuple[Variant, ...] = ()
    checks: tuple[str, ...] = DEFAULT_CHECKS
    tolerance: Mapping[str, Any] = field(default_factory=dict)
    budget: str | None = None
    scale: str | None = None
    expect: str | None = None
    measure: str | None = None
    form: str | None = None
    expect_verdict: tuple[Expectation, ...] = ()
    search: Any = None  # None: as the run says (--fragility-search); False: never; a tuple of axes: always


def _known_measures() -> list[str]:
    import sys

    registry = sys.modules.get("pytest_fragility.measures.registry")
    return registry.available() if registry is not None and registry.available() else list(BUILTIN_MEASURES)


def fragility_check(
    family: str = "fcn-mnist5k",
    perturbations: Sequence[Variant] = (),
    data: Sequence[Variant] = (),
    checks: Sequence[str] = DEFAULT_CHECKS,
    tolerance: Mapping[str, Any] | None = None,
    budget: str | None = None,
    scale: str | None = None,
    expect: str | None = None,
    measure: str | None = None,
    form: str | None = None,
    expect_verdict: str | Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    search: bool | Sequence[Any] | None = None,
) -> Callable[[F], F]:
    """Mark a test as a fragility audit of the measure its body computes from ``run``.

    With ``measure="path_norm"`` (a built-in name) the built-in measure is audited instead
    and the body, which then takes no ``run``, is not called per run. `expect_verdict`
    accepts a known verdict (``"fragile"``, ``{"data": "fragile"}``) without switching
    the gate off: see `pytest_fragility.plugin.expectations`.
    and the body, which then takes no ``run``, is not called per run. ``search=True`` (or a
    list of axes: names or ``pf.Axis``) also searches for the nearest benign training change
    that breaks the measure; ``False`` never does; by default the run decides
    (``--fragility-search``).
    """
    if callable(family):  # @fragility_check on its own: the test function arrived as `family`
        raise ConfigurationError(
            f"@fragility_check needs parentheses: write @pf.fragility_check(family=...) above "
            f"{getattr(family, '__name__', 'the test')} (or @pf.fragility_check() for the default family)")
    if family not in families.available():
        raise unknown("family", family, families.available())
    chosen_perturbations = check_variants(perturbations, "perturbation", "perturbations")
    chosen_checks = validate_checks(checks)
    spec = CheckSpec(
        family=family,
        perturbations=chosen_perturbations,
        data=check_variants(data, "rung", "data"),
        checks=chosen_checks,
        tolerance=dict(tolerance or {}),
        budget=budget,
        scale=scale_name(scale),
        expect=choice("expect value", expect, ("decreasing", "increasing")),
        measure=measure,
        form=choice("form", form, ("raw", "bound")),
        expect_verdict=expectations.parse(expect_verdict, (*chosen_checks, *(("tracking",) if expect else ())),
                                          [p.name for p in chosen_perturbations]),
        search=_search_axes(search),
    )
    resolve_tolerances(spec.tolerance)
    if measure is not None and measure not in _known_measures():
        raise unknown("measure", measure, _known_measures())
    if form is not None and measure is None:
        raise ConfigurationError("form= applies with measure=; a test body is audited as it returns")

    def decorate(fn: F) -> F:
        if inspect.isclass(fn) or not callable(fn):
            raise ConfigurationError("@fragility_check decorates a test function")
        signature = inspect.signature(fn)
        if measure is None:
            if RUN_ARGUMENT not in signature.parameters:
                raise ConfigurationError(
                    f"{fn.__name__}: the test body is the measure, so it needs a `run` argument "
                    "(def test_x(run): return my_measure(run.model, ...)), or pass measure='<name>'"
                )
            fn.__signature__ = signature.replace(  # type: ignore[attr-defined]
                parameters=[p for p in signature.parameters.values() if p.name != RUN_ARGUMENT])
        pytest.mark.fragility(spec)(fn)
        pytest.mark.xdist_group(f"fragility-{family}")(fn)
        return fn

    return decorate


def _search_axes(search: Any) -> Any:
    """None, False, or the axes to search (True: the default ones), validated without torch."""
    from pytest_fragility.searching import axes

    if search is None or search is False:
        return search
    return axes.resolve(axes.DEFAULT_AXES if search is True else search)
