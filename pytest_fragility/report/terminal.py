"""Terminal rendering with rich: the per-test failure diff and the session summary.

Output is rendered to a string with colour decided by the caller (pytest's terminal
writer knows --color, NO_COLOR and PY_COLORS), then written through pytest, so the
plugin never owns the terminal.
"""

from __future__ import annotations

import io
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"stable": "green", "fragile": "bold red", "inconclusive": "yellow",
                 "not-benign": "cyan", "error": "bold magenta"}


def _console(color: bool, width: int) -> Console:
    return Console(file=io.StringIO(), force_terminal=color, color_system="standard" if color else None,
                   width=width, no_color=not color, highlight=False, emoji=False)


def _verdict(verdict: str) -> Text:
    return Text(verdict.upper() if verdict in ("fragile", "error") else verdict,
                style=VERDICT_STYLE.get(verdict, ""))


def _line(check: dict[str, Any], indent: str) -> Text:
    reason = Text(check["reason"])
    if check["reason"].startswith("sign flipped"):
        reason.stylize("bold red", 0, len("sign flipped"))
    return Text.assemble(indent, (f"{check['check']:<10}", "bold"), _verdict(check["verdict"]),
                         " " * max(1, 13 - len(check["verdict"])), reason)


def audit_lines(audit: dict[str, Any]) -> list[Text]:
    """The diff of one audit, grouped by variant: the benign gate first, then each check."""
    lines = [audit_heading(audit)]
    order = list(dict.fromkeys(c["variant"] for c in audit["checks"]))
    for variant in order:
        group = [c for c in audit["checks"] if c["variant"] == variant]
        gate = next((c for c in group if c["check"] == "benign"), None)
        if gate is not None and gate["verdict"] == "not-benign":
            lines.append(Text.assemble((f"{variant}: ", "bold"), _verdict("not-benign"), " — ", gate["reason"]))
            continue
        header = Text(variant, style="bold")
        if gate is not None:
            header.append(f"  ({gate['reason']})", style="dim")
        lines.append(header)
        lines += [_line(c, "  ") for c in group if c["check"] != "benign"]
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
        _verdict(audit["verdict"]),
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


def render_audit(audit: dict[str, Any], *, color: bool, width: int = 120) -> str:
    """The readable diff of one audit, as shown under a FAILED test."""
    console = _console(color, width)
    for line in audit_lines(audit):
        console.print(line)
    return console.file.getvalue().rstrip()  # type: ignore[attr-defined]


def render_summary(rows: Iterable[dict[str, Any]], *, color: bool, width: int = 120, label: str = "test") -> str:
    """The session table: one row per audit with its verdict and counts of check verdicts."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(label, overflow="fold", ratio=3)
    table.add_column("family", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("checks", overflow="fold", ratio=2)
    table.add_column("runs", no_wrap=True)
    for row in rows:
        audit = row["audit"]
        counts: dict[str, int] = {}
        for check in audit["checks"]:
            counts[check["verdict"]] = counts.get(check["verdict"], 0) + 1
        summary = " · ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        runs = audit["runs"]
        excluded = runs["non_converged"] + runs["measure_errors"]
        table.add_row(row["test"], audit["family"], _verdict(audit["verdict"]), summary,
                      f"{runs['total']}" + (f" ({excluded} excluded)" if excluded else ""))
    console = _console(color, width)
    console.print(table)
    return console.file.getvalue().rstrip()  # type: ignore[attr-defined]
