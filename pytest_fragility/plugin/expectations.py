"""Declared verdicts (``expect_verdict=``): accept a known verdict and keep the gate.

A test that knows its measure is fragile on one check declares it::

    @pf.fragility_check(..., expect_verdict={"data": "fragile"})

It then passes while that check stays fragile, the rows it did not declare gate as
usual (a new fragile row fails it), and ``--fragility-compare`` still compares its
baseline. Unlike ``xfail``, which turns any failure into an expected one, a declared
verdict that no longer holds (the measure got fixed, or worse) fails with a message
saying which declaration broke and what the audit found instead.

Targets are the audit (``expect_verdict="fragile"``), a check (``{"data": "fragile"}``:
the check's verdict over its rows) or one row (``{"trend[optimizer=adam]": "fragile"}``);
a value is a verdict or a tuple of accepted verdicts. This module imports no numpy:
declarations are validated when the test module is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.variants import canonical_name

VERDICTS = ("stable", "fragile", "inconclusive", "not-benign", "error")
AUDIT = "audit"
PER_VARIANT = ("benign", "trend", "scaling", "value")  # checks with one row per perturbation
ROW = re.compile(r"(?P<check>[\w-]+)\s*\[(?P<variant>[^\]]+)\]")


@dataclass(frozen=True)
class Expectation:
    """One declaration: the verdicts accepted for the audit, a check, or one row."""

    check: str                 # "audit" or a check name
    variant: str | None        # one row's variant, or None for every row of the check
    verdicts: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.check if self.variant is None else f"{self.check} [{self.variant}]"

    def covers(self, row: Mapping[str, Any]) -> bool:
        if self.check == AUDIT:
            return True
        return row["check"] == self.check and (self.variant is None or row["variant"] == self.variant)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "verdicts": list(self.verdicts)}


@dataclass(frozen=True)
class Judgement:
    """What the audit found for each declaration, and whether the test passes."""

    found: tuple[tuple[Expectation, str], ...]   # (declaration, verdict found)
    undeclared: str | None                        # combined verdict of the rows no declaration covers
    problems: tuple[str, ...]

    @property
    def held(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.held, "problems": list(self.problems),
                "declared": [{**e.to_dict(), "found": found, "held": found in e.verdicts} for e, found in self.found],
                "undeclared": self.undeclared}


def parse(value: Any, checks: Sequence[str], perturbations: Iterable[str]) -> tuple[Expectation, ...]:
    """Validate an ``expect_verdict=`` argument against the test's checks and perturbations."""
    if value is None:
        return ()
    if isinstance(value, str) or _is_verdict_collection(value):
        return (Expectation(AUDIT, None, _verdicts(AUDIT, value)),)
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(
            "expect_verdict must be a verdict ('fragile'), or a dict of checks or rows to verdicts "
            "({'data': 'fragile'}, {'trend[optimizer=adam]': 'fragile'})")
    names = set(perturbations)
    parsed = []
    for key, verdicts in value.items():
        check, variant = _target(str(key))
        if check not in checks:
            raise ConfigurationError(f"expect_verdict names check {check!r}, which this test does not run; "
                                     f"its checks: {', '.join(checks)}")
        if variant is not None and check in PER_VARIANT and variant not in names:
            raise unknown(f"perturbation in expect_verdict key {key!r}", variant, sorted(names))
        parsed.append(Expectation(check, variant, _verdicts(str(key), verdicts)))
    return tuple(parsed)


def judge(expectations: Sequence[Expectation], audit: Mapping[str, Any], *, strict: bool) -> Judgement:
    """Compare the audit's plain-dict payload with the declarations.

    Each declaration must find one of its verdicts; the rows no declaration covers must
    pass on their own, as an audit without declarations would (fragile and error fail,
    inconclusive too when `strict`).
    """
    rows = list(audit["checks"])
    found, problems = [], []
    for expectation in expectations:
        if expectation.check == AUDIT:
            verdict = audit["verdict"]
        else:
            mine = [r["verdict"] for r in rows if expectation.covers(r)]
            if not mine:
                problems.append(f"{expectation.target}: expected {_either(expectation.verdicts)}, "
                                "but the audit has no such row")
                continue
            verdict = mine[0] if expectation.variant is not None else combined(mine)
        found.append((expectation, verdict))
        if verdict not in expectation.verdicts:
            problems.append(f"{expectation.target}: expected {_either(expectation.verdicts)}, got {verdict}"
                            f" — {_hint(expectation.verdicts, verdict)}")
    rest = [r for r in rows if r["check"] != "benign" and not any(e.covers(r) for e in expectations)]
    undeclared = combined([r["verdict"] for r in rest]) if rest else None
    failing = {"fragile", "error"} | ({"inconclusive"} if strict else set())
    for row in rest:
        if row["verdict"] in failing:
            problems.append(f"{row['check']} [{row['variant']}]: {row['verdict']}, not declared — {row['reason']}")
    return Judgement(tuple(found), undeclared, tuple(problems))


def combined(verdicts: Sequence[str]) -> str:
    """A check's verdict over its rows: fragile > error > inconclusive > stable, rows not
    judged (not-benign) left out; not-benign when no row was judged."""
    judged = set(verdicts) - {"not-benign"}
    for verdict in ("fragile", "error", "inconclusive"):
        if verdict in judged:
            return verdict
    return "stable" if judged else "not-benign"


def describe(expectations: Sequence[Expectation]) -> str:
    """`data=fragile, trend [lr×2]=fragile|inconclusive`: the declarations in one line."""
    return ", ".join(f"{e.target}={'|'.join(e.verdicts)}" for e in expectations)


def _target(key: str) -> tuple[str, str | None]:
    match = ROW.fullmatch(key.strip())
    if match:
        return match["check"], canonical_name(match["variant"])
    return key.strip(), None


def _is_verdict_collection(value: Any) -> bool:
    return isinstance(value, (tuple, list, set, frozenset)) and all(isinstance(v, str) for v in value)


def _verdicts(key: str, value: Any) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value) if _is_verdict_collection(value) else None
    if not items:
        raise ConfigurationError(f"expect_verdict[{key!r}] must be a verdict or a tuple of verdicts, got {value!r}")
    for verdict in items:
        if verdict not in VERDICTS:
            raise unknown(f"verdict in expect_verdict[{key!r}]", verdict, VERDICTS)
    return tuple(dict.fromkeys(items))


def _either(verdicts: Sequence[str]) -> str:
    return " or ".join(verdicts)


def _hint(expected: Sequence[str], got: str) -> str:
    severity = {"stable": 0, "not-benign": 1, "inconclusive": 2, "fragile": 3, "error": 3}
    if severity.get(got, 3) < min(severity[v] for v in expected):
        return ("less than declared: if the measure was fixed, update or remove expect_verdict "
                "(a smaller budget resolves less: accept both with a tuple)")
    return "worse than declared"
