"""Words for runs that did not count: which variants lost runs, why, and what fixes it.

Renders the ``convergence`` field of an audit's plain-dict form (per variant: runs,
not_converged, epoch_cap, diverged, max_epochs, warning) for the terminal, the HTML
report and the ``fragility`` command alike.
"""

from __future__ import annotations

from typing import Any

from pytest_fragility.auditing.convergence import WARN_FRACTION


def why(entry: dict[str, Any]) -> str:
    """'5 at the epoch cap (1000), 1 diverged'."""
    parts = []
    if entry["epoch_cap"]:
        cap = f" ({entry['max_epochs']})" if entry.get("max_epochs") else ""
        parts.append(f"{entry['epoch_cap']} at the epoch cap{cap}")
    if entry["diverged"]:
        parts.append(f"{entry['diverged']} diverged")
    return ", ".join(parts)


def lost(audit: dict[str, Any]) -> str | None:
    """'not converged: lr×0.5 5/6 (5 at the epoch cap (100)); …', or None when every run counted."""
    entries = [(v, e) for v, e in (audit.get("convergence") or {}).items() if e["not_converged"]]
    if not entries:
        return None
    return "not converged (left out of the curves): " + "; ".join(
        f"{variant} {e['not_converged']}/{e['runs']} ({why(e)})" for variant, e in entries)


def fix(entry: dict[str, Any], family: str) -> str:
    """What makes the variant's runs converge."""
    fixes = []
    if entry["epoch_cap"]:
        cap = entry.get("max_epochs")
        raised = f"pf.families.get({family!r}, max_epochs={2 * cap})" if cap else "a larger max_epochs"
        fixes.append(f"raise the epoch cap ({raised}) or the variant's learning rate")
    if entry["diverged"]:
        fixes.append("lower the variant's learning rate")
    return " or ".join(fixes)


def warnings(audit: dict[str, Any]) -> list[str]:
    """One sentence per variant that lost more than WARN_FRACTION of its runs."""
    return [f"{variant} lost {e['not_converged']} of {e['runs']} runs ({why(e)}; more than "
            f"{WARN_FRACTION:.0%} of a variant), so it is judged on fewer seeds: {fix(e, audit['family'])}"
            for variant, e in (audit.get("convergence") or {}).items() if e.get("warning")]
