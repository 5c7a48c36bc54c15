"""Write the parts of the documentation that state the code's numbers, from the code.

The built-in families' recipes, the budgets' grids and the recipe changes each budget makes
live between markers in the Markdown files::

    <!-- generated: NAME (python docs/generate.py) -->
    ...
    <!-- end generated -->

Run ``python docs/generate.py`` after changing a family, a recipe or a budget; the test
``tests/test_docs.py`` regenerates every part and fails when a committed one is stale.
Count-based budgets list their sizes for the offline datasets (loaded once, cached under
``--cache``); a local dataset's sizes depend on the files the user has.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Callable

import pytest_fragility as pf
from pytest_fragility.auditing.convergence import WARN_FRACTION
from pytest_fragility.families.datasets import LOCAL_DATASETS, load_dataset

DOCS = Path(__file__).resolve().parent
BUDGETS = ("smoke", "quick", "standard", "paper")
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) \(python docs/generate.py\) -->\n)(?P<body>.*?)"
                   r"(<!-- end generated -->)", re.S)


def _families() -> list[str]:
    return [name for name in pf.families.available() if name in pf.families.BUILTIN_FAMILIES]


def _pool(family: pf.Family, cache: Path | None) -> int | None:
    dataset = family.recipe.dataset
    return None if dataset in LOCAL_DATASETS else load_dataset(dataset, cache).pool_size


def family_recipes(cache: Path | None) -> str:
    """One row per built-in family: data, network, optimizer, stopping rule."""
    rows = ["| family | data (train pool) | network | optimizer | stopping rule |", "|---|---|---|---|---|"]
    for name in _families():
        family = pf.families.get(name)
        r = family.recipe
        pool = _pool(family, cache)
        data = f"{r.dataset} ({pool:,})" if pool else f"{r.dataset} (your local copy)"
        hidden = "channels" if r.arch == "cnn" else "hidden units"
        network = f"{r.arch.upper()}, {r.depth} hidden layers of {r.width} {hidden}, {r.init} (std × {r.init_scale:g})"
        optimizer = f"{r.optimizer}, lr {r.lr:g}, batch {r.batch_size}" + (
            f", momentum {r.momentum:g}" if r.momentum else "") + (
            f", weight decay {r.weight_decay:g}" if r.weight_decay else "")
        stop = f"{r.stop_threshold:.0%} training accuracy, at most {r.max_epochs:,} epochs"
        rows.append(f"| `{name}` | {data} | {network} | {optimizer} | {stop} |")
    return "\n".join(rows)


def budget_tables(cache: Path | None) -> str:
    """Per budget: each built-in family's sizes and seeds and the recipe changes the budget makes."""
    parts = []
    for budget in BUDGETS:
        parts += [f"**{budget}**", "", "| family | grid | recipe changes |", "|---|---|---|"]
        for name in _families():
            family = pf.families.get(name)
            grid = family.budget(budget).describe_grid(_pool(family, cache))
            changes = ", ".join(f"{field} {old} → {new}" for field, old, new, _ in family.budget_changes(budget)
                                if old != new) or "none"
            parts.append(f"| `{name}` | {grid} | {changes} |")
        parts.append("")
    return "\n".join(parts).rstrip()


def budget_summary(cache: Path | None) -> str:
    """The guide's short table: each budget's grid and recipe changes for the default family."""
    family = pf.families.get("fcn-mnist5k")
    rows = ["| budget | grid (`fcn-mnist5k`) | recipe changes |", "|---|---|---|"]
    for budget in BUDGETS:
        changes = ", ".join(f"{field} {new}" for field, old, new, _ in family.budget_changes(budget)
                            if old != new) or "none"
        rows.append(f"| `{budget}` | {family.budget(budget).describe_grid(_pool(family, cache))} | {changes} |")
    return "\n".join(rows)


def convergence_warning(cache: Path | None) -> str:
    return (f"A variant that loses more than {WARN_FRACTION:.0%} of its runs to the stopping rule gets a "
            "warning (a `NonConvergenceWarning` under pytest) that names the fix.")


GENERATORS: dict[str, Callable[[Path | None], str]] = {
    "family-recipes": family_recipes,
    "budget-tables": budget_tables,
    "budget-summary": budget_summary,
    "convergence-warning": convergence_warning,
}


def regenerate(text: str, cache: Path | None) -> str:
    """`text` with every generated block rewritten; an unknown block name is an error."""
    def body(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise KeyError(f"no generator for block {name!r}; known: {', '.join(GENERATORS)}")
        return f"{match.group(1)}{GENERATORS[name](cache)}\n{match.group(4)}"

    return BLOCK.sub(body, text)


def documents() -> list[Path]:
    return sorted(path for path in DOCS.glob("*.md") if BLOCK.search(path.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="where the offline datasets are cached")
    args = parser.parse_args()
    for path in documents():
        text = path.read_text()
        new = regenerate(text, args.cache)
        if new != text:
            path.write_text(new)
            print(f"updated {path.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
