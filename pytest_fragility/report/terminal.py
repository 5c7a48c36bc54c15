"""Terminal rendering with rich: the per-test failure diff and the session's verdict lines.

Output is rendered to a string with colour decided by the caller (pytest's terminal
writer knows --color, NO_COLOR and PY_COLORS), then written through pytest, so the
plugin never owns the terminal. Lines are never broken by us (rich's soft wrap): a
long reason stays one line in a CI log, and a terminal wraps it for display.
"""

from __future__ import annotations

import io
import math
from statistics import median
from typing import Any, Iterable

from rich.console import Console
from rich.text import Text

from pytest_fragility.auditing.rules.bands import ratio
from pytest_fragility.report import convergence

VERDICT_STYLE = {"stable": "green", "fragile": "bold red", "inconclusive": "yellow",
                 "not-benign": "cyan", "error": "bold magenta"}
OUTCOME_STYLE = {"passed": "green", "failed": "bold red", "xfailed": "yellow", "xpassed": "bold yellow"}
INDENT = " " * 8


def console(color: bool, width: int = 120) -> Console:
    """A console that renders into a string; `width` only matters for tables."""
    return Console(file=io.StringIO(), force_terminal=color, color_system="standard" if color else None,
                   width=width, no_color=not color, highlight=False, emoji=False)


def rendered(target: Console) -> str:
    return target.file.getvalue().rstrip()  # type: ignore[attr-defined]


def verdict_text(verdict: str) -> Text:
    return Text(verdict.upper() if verdict in ("fragile", "error") else verdict,
                style=VERDICT_STYLE.get(verdict, ""))


def row_line(check: dict[str, Any], indent: str, width: int = 10) -> Text:
    """One row: its check name, its verdict and its reason, aligned (audits and searches)."""
    reason = Text(check["reason"])
    if check["reason"].startswith("sign flipped"):
        reason.stylize("bold red", 0, len("sign flipped"))
    return Text.assemble(indent, (f"{check['check']:<{width}}", "bold"), verdict_text(check["verdict"]),
                         " " * max(1, 13 - len(check["verdict"])), reason)


def audit_lines(audit: dict[str, Any]) -> list[Text]:
    """The diff of one audit, grouped by variant: the benign gate first, then each check."""
    lines = [audit_heading(audit), *convergence_lines(audit, "")]
    order = list(dict.fromkeys(c["variant"] for c in audit["checks"]))
    for variant in order:
        group = [c for c in audit["checks"] if c["variant"] == variant]
        gate = next((c for c in group if c["check"] == "benign"), None)
        if gate is not None and gate["verdict"] == "not-benign":
            lines.append(Text.assemble((f"{variant}: ", "bold"), verdict_text("not-benign"), " — ", gate["reason"]))
            continue
        header = Text(variant, style="bold")
        if gate is not None:
            header.append(f"  ({gate['reason']})", style="dim")
        lines.append(header)
        lines += [row_line(c, "  ") for c in group if c["check"] != "benign"]
    for error in (audit.get("errors") or [])[:5]:
        lines.append(Text(f"  measure error: {error}", style="magenta"))
    if len(audit.get("errors") or []) > 5:
        lines.append(Text(f"  … and {len(audit['errors']) - 5} more measure errors", style="magenta"))
    return lines


def audit_heading(audit: dict[str, Any]) -> Text:
    runs = audit["runs"]
    seeds = max((len(c["seeds"]) for c in audit["curves"].values()), default=0)
    sizes = max((len(c["m"]) for c in audit["curves"].values()), default=0)
    trend = "exponent β of μ vs m" if audit["scale"] == "positive" else "slope of μ vs ln m"
    return Text.assemble(
        ("fragility audit of ", ""), (audit["measure"], "bold"), f" on {audit['family']}: ",
        verdict_text(audit["verdict"]),
        f"\n{audit['budget']} budget, {sizes} sizes × {seeds} seeds, {audit['form']} form, trend = {trend}; "
        f"{runs['total']} runs ({runs['trained']} trained, {runs['cached']} cached, "
        f"{runs['non_converged']} not converged, {runs['measure_errors']} measure errors"
        + (f", {runs['failed_training']} failed to train and missing" if runs.get("failed_training") else "") + ")",
        *_power_line(audit))


def _power_line(audit: dict[str, Any]) -> list[Any]:
    """What the audit could detect (and a warning when it is a dry run)."""
    text = (audit.get("power") or {}).get("text")
    if not text:
        return []
    dry = (audit.get("power") or {}).get("dry_run")
    return ["\n", (text[0].upper() + text[1:] + ".", "yellow" if dry else "dim")]


def power_summary(audits: list[dict[str, Any]]) -> Text | None:
    """One line for many audits of one grid: what they could detect, as the median over the
    audits with the range beside it (each audit's own sentence is in the reports)."""
    found = [a["power"] for a in audits if a.get("power")]
    if not found:
        return None

    def spread(key: str, show: Any) -> str | None:
        values = sorted(f[key] for f in found if math.isfinite(f.get(key, math.nan)))
        if not values:
            return None
        return f"{show(median(values))} [{show(values[0])}–{show(values[-1])}]"

    parts = [f"{name} {text}" for name, text in (
        ("an exponent change ≥", spread("exponent_change", lambda v: f"{v:.2f}")),
        ("a value change ≥", spread("value_log_ratio", ratio)),
        ("the sign of a trend once |trend| ≥", spread("trend_slope", lambda v: f"{v:.3f}"))) if text]
    seeds = max(f["n_seeds"] for f in found)
    text = (f"with {seeds} seeds these {len(found)} audits detect, with {found[0]['power']:.0%} power (median "
            f"[range] over measures): {', '.join(parts) if parts else 'nothing'}; each audit's own in the report")
    if any(f.get("dry_run") for f in found):
        return Text(f"A dry run of the machinery, not a verdict: {text}; use the quick budget to decide",
                    style="yellow")
    return Text(text[0].upper() + text[1:], style="dim")


def convergence_lines(audit: dict[str, Any], indent: str) -> list[Text]:
    """Which variants lost runs and why, and a warning with the fix where too many were lost."""
    lost = convergence.lost(audit)
    lines = [Text(indent + lost, style="yellow")] if lost else []
    return lines + [Text(f"{indent}warning: {w}", style="bold yellow") for w in convergence.warnings(audit)]


def print_lines(lines: Iterable[Text], *, color: bool) -> str:
    """Lines as text, each on one line however long (no hard wraps inside a value)."""
    target = console(color)
    for line in lines:
        target.print(line, soft_wrap=True)
    return rendered(target)


def render_audit(audit: dict[str, Any], *, color: bool) -> str:
    """The readable diff of one audit, as shown under a FAILED test."""
    return print_lines(audit_lines(audit), color=color)


def deciding_row(audit: dict[str, Any]) -> dict[str, Any] | None:
    """The row behind the audit's verdict: the first row with that verdict (for an audit in
    which nothing was judged, the benign gate that excluded the first perturbation)."""
    rows = [c for c in audit["checks"] if c["check"] != "benign"]
    row = next((c for c in rows if c["verdict"] == audit["verdict"]), rows[0] if rows else None)
    if row is not None and row["verdict"] == "not-benign":
        gate = next((c for c in audit["checks"] if c["check"] == "benign" and c["variant"] == row["variant"]), None)
        return gate or row
    return row


def check_counts(audit: dict[str, Any]) -> str:
    """'1 fragile, 3 stable': the verdicts of the rows that judge the measure."""
    counts: dict[str, int] = {}
    for check in audit["checks"]:
        if check["check"] != "benign":
            counts[check["verdict"]] = counts.get(check["verdict"], 0) + 1
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))


def verdict_lines(audit: dict[str, Any], outcome: str | None = None, *, verbose: bool = False) -> list[Text]:
    """One audit at a glance: outcome, verdict and test, then the row that decided it.

    ``PASSED  stable        test_m.py::test_x  fcn-mnist5k · quick · 40 runs · 4 stable``
    ``        trend [lr×0.5]: same sign: measure trend +0.031 [+0.01, +0.05] vs base …``
    """
    head = Text()
    if outcome is not None:
        head.append(f"{outcome.upper():<8}", style=OUTCOME_STYLE.get(outcome, ""))
    verdict = verdict_text(audit["verdict"])
    head.append_text(verdict)
    head.append(" " * max(1, 13 - len(verdict.plain)))
    head.append(audit.get("test") or audit["measure"], style="bold")
    head.append(f"  {audit['family']} · {audit['budget']} · {audit['runs']['total']} runs · {check_counts(audit)}",
                style="dim")
    lines = [head]
    indent = INDENT if outcome is not None else " " * 13
    row = deciding_row(audit)
    if row is not None:
        lines.append(Text.assemble(indent, (f"{row['check']} [{row['variant']}]", "bold"), ": ", row["reason"]))
    declared = audit.get("expect_verdict")
    if declared:
        found = [f"{d['target']}={'|'.join(d['verdicts'])} found {d['found']} ({'holds' if d['held'] else 'broken'})"
                 for d in declared["declared"]]
        text = f"{indent}expect_verdict {', '.join(found)}" + (
            f"; undeclared rows: {declared['undeclared']}" if declared["undeclared"] else "")
        lines.append(Text(text, style="green" if declared["held"] else "bold red"))
    lines += convergence_lines(audit, indent)
    if verbose:
        lines += [Text(indent) + line for line in _indented(audit_lines(audit))]
    return lines


def _indented(lines: list[Text]) -> list[Text]:
    """Multi-line Text split into lines (the heading holds a newline)."""
    return [part for line in lines for part in line.split("\n")]


def render_session(entries: Iterable[tuple[dict[str, Any], str | None]], *, color: bool,
                   verbose: bool = False) -> str:
    """The verdict lines of every audit of a pytest session (`entries`: audit, outcome)."""
    return print_lines([line for audit, outcome in entries for line in verdict_lines(audit, outcome, verbose=verbose)],
                       color=color)


def render_summary(rows: Iterable[dict[str, Any]], *, color: bool, width: int = 120, label: str = "test") -> str:
    """The table of many audits (one row each), fitted to `width` with names kept whole."""
    from pytest_fragility.report.table import audit_table

    return audit_table(list(rows), color=color, width=width, label=label)
