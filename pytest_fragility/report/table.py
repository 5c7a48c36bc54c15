"""The table of many audits (the ``fragility`` command's summary), fitted to a width.

Names and verdicts keep their full width; the count columns wrap at spaces and are at
least as wide as their longest word, so a name (``log_prod_of_fro_over_margin``) or a
word is never cut. When the names are too long for
a table at this width, each audit is shown as its name on one line and its cells on
the next: still whole, still one audit per block.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from pytest_fragility.report.terminal import check_counts, console, print_lines, rendered, verdict_text

GAP = 2  # columns are separated by rich's padding of one space on each side
WRAPPED = ("checks", "runs")  # the columns that may wrap (at spaces); names and verdicts never do


def _longest_word(texts: list[str]) -> int:
    return max((len(word) for text in texts for word in text.split()), default=1)


def _widths(columns: list[tuple[str, list[str]]], width: int) -> list[int] | None:
    """Column widths that fit `width`: names and verdicts whole on one line, the other columns
    wrapped at spaces, never narrower than their longest word; None when that cannot fit."""
    natural = [max(len(text) for text in [title, *cells]) for title, cells in columns]
    room = width - GAP * (len(columns) - 1)
    if sum(natural) <= room:
        return natural
    fixed = {i for i, (title, _) in enumerate(columns) if title not in WRAPPED}
    least = [natural[i] if i in fixed else _longest_word([title, *cells]) for i, (title, cells) in enumerate(columns)]
    if sum(least) > room:
        return None
    spare = room - sum(least)
    flexible = [i for i in range(len(columns)) if i not in fixed]
    wanted = sum(natural[i] - least[i] for i in flexible) or 1
    widths = list(least)
    for i in flexible:
        widths[i] += min(natural[i] - least[i], spare * (natural[i] - least[i]) // wanted)
    return widths


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
    plain = [(title, [c.plain if isinstance(c, Text) else str(c) for c in cells]) for title, cells in columns]
    widths = _widths(plain, width)
    if widths is None:
        return _stacked(columns, color=color)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for (title, _), size in zip(columns, widths):
        table.add_column(title, width=size, justify="right" if title == "runs" else "left")
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
