"""The table of many audits (the ``fragility`` command's summary), fitted to a width.

Every column wraps at spaces only and is at least as wide as its longest word, so a
name (``log_prod_of_fro_over_margin``) is never cut. When the names are too long for
a table at this width, each audit is shown as its name on one line and its cells on
the next: still whole, still one audit per block.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from pytest_fragility.report.terminal import check_counts, console, print_lines, rendered, verdict_text

GAP = 2  # columns are separated by rich's padding of one space on each side


def _longest_word(texts: list[str]) -> int:
    return max((len(word) for text in texts for word in text.split()), default=1)


def _runs(audit: dict[str, Any]) -> str:
    runs = audit["runs"]
    lost = runs["non_converged"]
    return f"{runs['total']}" + (f", {lost} not converged" if lost else "") + (
        f", {runs['measure_errors']} measure errors" if runs["measure_errors"] else "")


def audit_table(rows: list[dict[str, Any]], *, color: bool, width: int, label: str = "test") -> str:
    """One row per audit: name, (family,) verdict, counts of check verdicts, runs."""
    audits = [row["audit"] for row in rows]
    names = [row["test"] for row in rows]
    families = sorted({a["family"] for a in audits})
    columns: list[tuple[str, list[Any]]] = [(label, names)]
    if len(families) > 1:
        columns.append(("family", [a["family"] for a in audits]))
    columns += [("verdict", [verdict_text(a["verdict"]) for a in audits]),
                ("checks", [check_counts(a) for a in audits]),
                ("runs", [_runs(a) for a in audits])]
    minimum = {title: _longest_word([title, *(str(c) if not isinstance(c, Text) else c.plain for c in cells)])
               for title, cells in columns}
    if sum(minimum.values()) + GAP * (len(columns) - 1) > width:
        return _stacked(columns, color=color)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for title, _ in columns:
        table.add_column(title, min_width=minimum[title], justify="right" if title == "runs" else "left")
    for i in range(len(rows)):
        table.add_row(*(cells[i] for _, cells in columns))
    target = console(color, width)
    target.print(table)
    return rendered(target)


def _stacked(columns: list[tuple[str, list[Any]]], *, color: bool) -> str:
    """Names too long for a table: each on its own line, the other cells below it."""
    (_, names), rest = columns[0], columns[1:]
    lines = []
    for i, name in enumerate(names):
        lines.append(Text(name, style="bold"))
        cells = [cells[i] if isinstance(cells[i], Text) else Text(f"{title} {cells[i]}") for title, cells in rest]
        lines.append(Text("    ") + Text(" · ").join(cells))
    return print_lines(lines, color=color)
