"""The one progress bar: rich, transient, over a known number of steps (or silent).

A bar is drawn only on a terminal: piped into a file or a CI log, a transient bar would
leave blank lines behind, so it is not drawn at all.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator


def on_terminal() -> bool:
    """Whether standard output is a terminal (where a bar can redraw itself)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; draws a bar named `label` only when `enabled`, there is work
    and standard output is a terminal."""
    if not enabled or total <= 0 or not on_terminal():
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
