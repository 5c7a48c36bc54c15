"""`AuditResult`: everything one audit found, in forms for people, pandas and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_fragility.auditing import convergence
from pytest_fragility.auditing.curves import Curve
from pytest_fragility.auditing.measuring import Measurement
from pytest_fragility.auditing.verdict import ERROR, FRAGILE, INCONCLUSIVE, CheckResult
from pytest_fragility.files import dumps, plain


@dataclass(repr=False)
class AuditResult:
    """Everything one audit found: verdict, checks, curves and the measurements behind them."""

    measure: str
    family: str
    budget: str
    form: str
    scale: str
    verdict: str
    checks: list[CheckResult]
    curves: dict[str, Curve]
    measurements: list[Measurement]
    predictiveness: dict[str, Any]
    runs: dict[str, int]
    tolerances: dict[str, Any]
    variants: list[dict[str, Any]] = field(default_factory=list)
    scale_source: str = "declared"
    power: dict[str, Any] = field(default_factory=dict)

    @property
    def convergence(self) -> dict[str, dict[str, Any]]:
        """Per variant: runs, how many did not converge and why (`auditing.convergence`)."""
        return convergence.by_variant(self.curves)

    @property
    def errors(self) -> list[str]:
        return [c.error for c in self.measurements if c.error]

    def passed(self, strict: bool = False) -> bool:
        """Whether a test built on this audit passes (`strict` also fails on inconclusive)."""
        failing = {FRAGILE, ERROR} | ({INCONCLUSIVE} if strict else set())
        return self.verdict not in failing

    def to_frame(self) -> Any:
        """One row per run: variant, m, seed, measure value (audited and raw), errors."""
        import pandas as pd

        return pd.DataFrame([{
            "measure": self.measure, "family": self.family, "variant": c.variant, "kind": c.kind,
            "m": c.m, "seed": c.seed, "value": c.value, "raw": c.raw, "test_error": c.test_error,
            "train_error": c.train_error, "converged": c.converged, "stop": c.stop, "error": c.error,
        } for c in self.measurements])

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (JSON-ready and safe to send between pytest-xdist workers)."""
        return plain({
            "measure": self.measure, "family": self.family, "budget": self.budget, "form": self.form,
            "scale": self.scale, "scale_source": self.scale_source, "verdict": self.verdict,
            "power": self.power,
            "checks": [c.to_dict() for c in self.checks],
            "curves": {name: curve.to_dict() for name, curve in self.curves.items()},
            "predictiveness": self.predictiveness, "runs": self.runs, "convergence": self.convergence,
            "errors": self.errors,
            "tolerances": self.tolerances, "variants": self.variants,
        })

    def to_json(self, indent: int | None = 2) -> str:
        return dumps(self.to_dict(), indent=indent, sort_keys=False)

    def plot(self, path: str | Path | None = None) -> Any:
        """Learning curves of every variant (measure and test error) as a matplotlib figure."""
        from pytest_fragility.report.plots import audit_figure  # rendering lives in the report layer

        return audit_figure(self.to_dict(), path)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for check in self.checks:
            if check.check != "benign":
                counts[check.verdict] = counts.get(check.verdict, 0) + 1
        rows = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        lost = self.runs.get("non_converged", 0)
        return (f"<AuditResult {self.measure} on {self.family} ({self.budget}): {self.verdict}; {rows}; "
                f"{self.runs.get('total', 0)} runs" + (f", {lost} not converged" if lost else "") + ">")

    def _repr_html_(self) -> str:
        """The audit's verdict, counts and rows as HTML (Jupyter shows it for a result)."""
        from pytest_fragility.report.html import audit_fragment  # rendering lives in the report layer

        return audit_fragment(self.to_dict())

    def summary(self) -> str:
        """The plain-text failure diff (the plugin shows it coloured)."""
        from pytest_fragility.report.terminal import render_audit  # rendering lives in the report layer

        return render_audit(self.to_dict(), color=False)
