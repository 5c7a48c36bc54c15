"""The HTML report: a verdict table, then per audit its checks and learning-curve figure.

A static page (`index.html`) with PNG figures beside it; no script, no network. Figures
are content-addressed: a figure whose audit data did not change is copied from the
figure cache instead of being drawn again, which keeps a warm `fragility audit` fast.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
from pathlib import Path
from typing import Any

from pytest_fragility.files import atomic_write
from pytest_fragility.report import convergence
from pytest_fragility.report.baseline import SEVERITY

VERDICT_COLORS = {"stable": "#d8f0d8", "fragile": "#f6c6c6", "inconclusive": "#fbeec1",
                  "not-benign": "#d5ecf5", "error": "#ecd0f0"}
CHECK_ORDER = ("trend", "scaling", "value", "data", "tracking", "invariance", "predictive", "measure")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1300px; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } .meta { color: #555; font-size: 0.9em; }
.verdict { font-weight: 600; } img { max-width: 100%; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 1px 4px; } .warn { color: #8a5a00; font-weight: 600; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(verdict: str | None, title: str = "") -> str:
    if verdict is None:
        return "<td>—</td>"
    color = VERDICT_COLORS.get(verdict, "#fff")
    return f'<td class="verdict" style="background:{color}" title="{_e(title)}">{_e(verdict)}</td>'


def interval_text(value: Any, ci: Any) -> str:
    """A value with its interval, like +0.123 [+0.10, +0.15], or "—" (the search page uses it too)."""
    if value is None:
        return "—"
    text = f"{value:+.3f}"
    if ci:
        text += f" [{ci[0]:+.2f}, {ci[1]:+.2f}]"
    return text


def estimate_text(e: dict[str, Any] | None) -> str:
    """An `Estimate.to_dict()` as `interval_text` writes it."""
    if not e or e.get("value") is None:
        return "—"
    ci = [e["low"], e["high"]] if e.get("low") is not None and e.get("high") is not None else None
    return interval_text(e["value"], ci)


def figure_key(audit: dict[str, Any]) -> str:
    """Hash of what the figure draws (not of run counts, which differ cold vs warm)."""
    from pytest_fragility.report.plots import VERSION

    drawn = {k: audit[k] for k in ("measure", "family", "verdict", "form", "scale", "curves")}
    drawn["plot_version"] = VERSION
    return hashlib.sha256(json.dumps(drawn, sort_keys=True).encode()).hexdigest()[:24]


def _figure(audit: dict[str, Any], directory: Path, name: str, cache: Path | None) -> str:
    from pytest_fragility.report.plots import audit_figure

    target = directory / name
    cached = None if cache is None else cache / f"{figure_key(audit)}.png"
    if cached is not None and cached.exists():
        shutil.copyfile(cached, target)
    else:
        audit_figure(audit, target)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, cached)
    return name


def _summary_table(audits: list[dict[str, Any]]) -> str:
    present = [c for c in CHECK_ORDER if any(ch["check"] == c for a in audits for ch in a["checks"])]
    head = "".join(f"<th>{_e(c)}</th>" for c in present)
    rows = []
    for i, audit in enumerate(audits):
        cells = []
        for check in present:
            mine = [c for c in audit["checks"] if c["check"] == check]
            if not mine:
                cells.append(_cell(None))
                continue
            worst = max(mine, key=lambda c: SEVERITY.get(c["verdict"], 3))["verdict"]
            title = "\n".join(f"{c['variant']}: {c['verdict']} — {c['reason']}" for c in mine)
            cells.append(_cell(worst, title))
        rows.append(f'<tr><td><a href="#audit-{i}">{_e(audit["measure"])}</a></td>'
                    f'<td>{_e(audit["family"])}</td>{_cell(audit["verdict"])}{"".join(cells)}</tr>')
    return (f"<table><tr><th>measure</th><th>family</th><th>verdict</th>{head}</tr>"
            + "".join(rows) + "</table>")


def audit_fragment(audit: dict[str, Any]) -> str:
    """One audit as an HTML fragment without its figure (a notebook's rich display)."""
    return _audit_section(0, audit, None)


def _audit_section(i: int, audit: dict[str, Any], figure: str | None) -> str:
    runs = audit["runs"]
    rows = "".join(
        f"<tr><td>{_e(c['check'])}</td><td>{_e(c['variant'])}</td>{_cell(c['verdict'])}"
        f"<td>{_e(interval_text(c['measure_exponent'], c['measure_exponent_ci']))}</td>"
        f"<td>{_e(estimate_text(c.get('base_measure_exponent')))}</td>"
        f"<td>{_e(interval_text(c['error_exponent'], c['error_exponent_ci']))}</td>"
        f"<td>{_e(c['reason'])}</td></tr>" for c in audit["checks"])
    trend = "exponent β (slope of ln μ vs ln m)" if audit["scale"] == "positive" else "slope of μ vs ln m"
    pred = audit.get("predictiveness") or {}
    tau = pred.get("kendall_tau")
    sign = (pred.get("sign_error") or {}).get("max")
    errors = "".join(f"<li>{_e(e)}</li>" for e in (audit.get("errors") or [])[:20])
    missing = f", {runs['failed_training']} failed to train and missing" if runs.get("failed_training") else ""
    lost = convergence.lost(audit)
    notes = "".join(f'<p class="warn">warning: {_e(w)}</p>' for w in convergence.warnings(audit))
    lost_html = f'<p class="meta">{_e(lost)}</p>{notes}' if lost else ""
    declared = audit.get("expect_verdict")
    if declared:
        found = ", ".join(f"{d['target']}={'|'.join(d['verdicts'])} found {d['found']}"
                          f" ({'holds' if d['held'] else 'broken'})" for d in declared["declared"])
        lost_html += f'<p class="{"meta" if declared["held"] else "warn"}">expect_verdict: {_e(found)}</p>'
    power = (audit.get("power") or {}).get("text", "")
    power = power[:1].upper() + power[1:] + ("." if power else "")
    return f"""
<h2 id="audit-{i}">{_e(audit['measure'])} on {_e(audit['family'])}:
  <span style="background:{VERDICT_COLORS.get(audit['verdict'], '#fff')}">{_e(audit['verdict'])}</span></h2>
<p class="meta">{_e(power)}</p>
<p class="meta">{_e(audit['budget'])} budget, {_e(audit['form'])} form, trend = {_e(trend)};
  {runs['total']} runs ({runs['trained']} trained, {runs['cached']} cached, {runs['non_converged']} not converged,
  {runs['measure_errors']} measure errors{missing}). Kendall τ(μ, gap) = {'—' if tau is None else f'{tau:+.3f}'};
  worst-case robust sign error = {'—' if sign is None else f'{sign:.3f}'}.</p>
{lost_html}
<table><tr><th>check</th><th>variant</th><th>verdict</th><th>measure trend</th><th>base trend</th>
<th>test-error β</th><th>reason</th></tr>{rows}</table>
{f'<ul>{errors}</ul>' if errors else ''}
{'' if figure is None else f'<img src="{_e(figure)}" alt="learning curves of {_e(audit["measure"])}">'}
"""


def write_html(directory: Path, report: dict[str, Any], *, command: str, figure_cache: Path | None = None) -> Path:
    """Write `index.html` and one PNG per audit into `directory`; returns the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    audits = report["audits"]
    sections = []
    for i, audit in enumerate(audits):
        name = f"audit-{i:02d}-{''.join(ch if ch.isalnum() else '-' for ch in audit['measure'])}.png"
        sections.append(_audit_section(i, audit, _figure(audit, directory, name, figure_cache)))
    env = report.get("environment", {})
    versions = ", ".join(f"{k} {v}" for k, v in env.items() if v)
    networks = report.get("networks")
    if networks:  # one grid shared by every audit (the fragility command)
        counts = (f"Networks: {networks['total']} ({networks['trained']} trained, {networks['cached']} loaded "
                  f"from cache, {networks['non_converged']} not converged and excluded from curves, "
                  f"{networks['failed']} failed to train).")
    else:  # several tests may share networks: only the trained count adds up
        counts = (f"Networks trained in this run: {sum(a['runs'].get('trained', 0) for a in audits)}; "
                  "each audit below gives its own counts.")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pytest-fragility report</title>
<style>{STYLE}</style></head><body>
<h1>pytest-fragility report</h1>
<p class="meta">Created {_e(report.get('created', ''))}. Command: <code>{_e(command)}</code><br>
{_e(versions)}<br>
{_e(counts)}</p>
<h2>Verdicts</h2>
<p class="meta">Worst verdict per check over the variants; hover a cell for each variant's reason.</p>
{_summary_table(audits)}
{''.join(sections)}
</body></html>
"""
    index = directory / "index.html"
    atomic_write(index, page)
    return index
