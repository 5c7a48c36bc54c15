"""Committed baselines: the verdicts and exponents of an audit, compared two-sided.

A baseline is a small, human-diffable JSON file (sorted keys, floats rounded to a
few significant digits, an environment fingerprint) written by
``--fragility-update`` and compared by ``--fragility-compare``; the same comparison
powers ``fragility compare A.json B.json``. Comparison is two-sided: a measure that
became *less* fragile also differs, so the baseline gets refreshed on purpose.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fragility.report.json_report import SCHEMA_VERSION, check_audit, read_document

SIGNIFICANT = 4
DEFAULT_ATOL = 0.05
SEVERITY = {"stable": 0, "not-benign": 1, "inconclusive": 2, "fragile": 3, "error": 3}
FINGERPRINT = ("torch", "numpy", "pytest-fragility", "python")


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return value if not math.isfinite(value) or value == 0 else float(f"{value:.{SIGNIFICANT}g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def summarize(audit: dict[str, Any], environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """The part of an audit a baseline keeps: verdicts and exponents, per check and variant."""
    checks = []
    for check in audit["checks"]:
        difference = check.get("difference") or {}
        checks.append({
            "check": check["check"], "variant": check["variant"], "verdict": check["verdict"],
            "measure_exponent": check.get("measure_exponent"),
            "error_exponent": check.get("error_exponent"),
            "difference": difference.get("value"),
        })
    summary = {
        "schema_version": SCHEMA_VERSION, "measure": audit["measure"], "family": audit["family"],
        "budget": audit["budget"], "form": audit["form"], "scale": audit.get("scale"), "verdict": audit["verdict"],
        "checks": checks,
    }
    if environment is not None:
        summary["environment"] = {k: environment.get(k) for k in FINGERPRINT}
    return rounded(summary)


# What a check's `difference` is, and how the audit writes it ("ratio": a log ratio, shown ×e^x
# on the positive scale). Checks not listed have no difference.
DIFFERENCES = {"scaling": ("Δ exponent", "exponent"), "value": ("mean ratio", "ratio"),
               "benign": ("test-error Δβ", "exponent")}


@dataclass(frozen=True)
class Difference:
    """One way a new audit differs from the old one (each changed number once)."""

    where: str
    field: str
    old: Any
    new: Any
    regression: bool
    unit: str = "text"     # how to write old and new: text, exponent, ratio or difference
    note: str | None = None  # replaces "worse"/"changed" where neither says it

    def describe(self) -> str:
        note = self.note or ("worse" if self.regression else "changed")
        return f"{self.where}: {self.field} {self._show(self.old)} → {self._show(self.new)} ({note})"

    def _show(self, value: Any) -> str:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "none" if value is None else str(value)
        if self.unit == "ratio":
            return f"×{math.exp(value):.3g}" if math.isfinite(value) else str(value)
        if self.unit == "difference":
            return f"Δ{value:+.3g}"
        return f"{value:+.3f}" if self.unit == "exponent" else f"{value:g}"


def compare(old: dict[str, Any], new: dict[str, Any], atol: float = DEFAULT_ATOL) -> list[Difference]:
    """Differences between two summaries: what was audited (family, budget, form), verdicts
    (worse is a regression), and numbers beyond `atol` either way (a regression too: the
    measure moved). A variant's measure exponent is shared by its checks: reported once."""
    diffs: list[Difference] = []
    for field in ("family", "budget", "form"):
        if field in old and field in new and old[field] != new[field]:
            diffs.append(Difference("audit", field, old[field], new[field], True,
                                    note="not comparable: refresh the baseline to change it"))
    if old.get("verdict") != new.get("verdict"):
        diffs.append(Difference("audit", "verdict", old.get("verdict"), new.get("verdict"),
                                SEVERITY.get(new.get("verdict"), 3) > SEVERITY.get(old.get("verdict"), 3)))
    before, after = _by_row(old), _by_row(new)
    exponents: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(before) | set(after)):
        where = f"{key[0]} [{key[1]}]"
        if key not in after:
            diffs.append(Difference(where, "check", "present", "missing", True))
            continue
        if key not in before:
            diffs.append(Difference(where, "check", "missing", "present", False))
            continue
        a, b = before[key], after[key]
        if a["verdict"] != b["verdict"]:
            diffs.append(Difference(where, "verdict", a["verdict"], b["verdict"],
                                    SEVERITY.get(b["verdict"], 3) > SEVERITY.get(a["verdict"], 3)))
        if a.get("measure_exponent") is not None or b.get("measure_exponent") is not None:
            exponents.setdefault(key[1], (a.get("measure_exponent"), b.get("measure_exponent")))
        label, unit = DIFFERENCES.get(key[0], ("difference", "exponent"))
        if unit == "ratio" and new.get("scale", old.get("scale")) != "positive":
            label, unit = "mean difference", "difference"
        if _moved(a.get("difference"), b.get("difference"), atol):
            diffs.append(Difference(where, label, a.get("difference"), b.get("difference"), True, unit))
    for variant, (x, y) in exponents.items():
        if _moved(x, y, atol):
            diffs.append(Difference(variant, "measure exponent", x, y, True, "exponent"))
    return diffs


def _moved(x: Any, y: Any, atol: float) -> bool:
    if x is None and y is None:
        return False
    return x is None or y is None or abs(x - y) > atol


def read_baseline(path: Path) -> dict[str, Any]:
    """A committed baseline; ReportError names the file when it is damaged or of another schema."""
    summary = read_document(path, "fragility baseline")
    check_audit(summary, f"fragility baseline {path}")
    return summary


def environment_mismatch(old: dict[str, Any], new_environment: dict[str, Any]) -> list[str]:
    """Fingerprint keys that differ (reported as a warning, not a failure)."""
    recorded = old.get("environment") or {}
    return [f"{k}: {recorded.get(k)} → {new_environment.get(k)}"
            for k in FINGERPRINT if recorded.get(k) != new_environment.get(k)]


def baseline_path(directory: Path, test_file: str, test_name: str) -> Path:
    """__fragility__/<module>/<test>.json beside the tests: one file per test, few merge conflicts."""
    module = Path(test_file).stem
    safe = re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", test_name)
    return directory / module / f"{safe}.json"


def _by_row(summary: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["check"], c["variant"]): c for c in summary.get("checks", [])}
