"""The HTML page of searches: `search.html` beside the audit report, a figure per search.

Per search: the statement (the falsifying perturbation, or "no counterexample within the
searched space at this budget"), the benign evidence and the measure's rows at the
counterexample, what each ray reached, every point tried, the power statement and the
figure (exponents against strength, the benign band, the break marked). Static: no script.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pytest_fragility.files import atomic_write
from pytest_fragility.report.html import estimate_text, interval_text

STATE_COLORS = {"counterexample": "#f6c6c6", "holds": "#d8f0d8", "not-benign": "#d5ecf5", "unresolved": "#fbeec1"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1300px; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } .meta { color: #555; font-size: 0.9em; } img { max-width: 100%; }
.found { color: #b00; font-weight: 600; } .nothing { color: #8a6d00; font-weight: 600; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _state(state: str) -> str:
    return f'<td style="background:{STATE_COLORS.get(state, "#fff")}">{_e(state)}</td>'


def _rows(point: dict[str, Any]) -> str:
    lines = ["<table><tr><th>check</th><th>verdict</th><th>reason</th></tr>"]
    for row in [point["benign"], *point["rows"]]:
        lines.append(f"<tr><td>{_e(row['check'])}</td><td>{_e(row['verdict'])}</td><td>{_e(row['reason'])}</td></tr>")
    return "\n".join(lines) + "</table>"


def _points(search: dict[str, Any]) -> str:
    lines = ["<table><tr><th>axis</th><th>perturbation</th><th>distance</th><th>state</th>"
             "<th>test-error Δβ</th><th>measure exponent</th><th>broken</th></tr>"]
    for point in sorted(search["points"], key=lambda p: (p["axis"], p["distance"])):
        trend = next((r for r in point["rows"] if r.get("measure_exponent") is not None), {})
        exponent = interval_text(trend.get("measure_exponent"), trend.get("measure_exponent_ci"))
        lines.append(f"<tr><td>{_e(point['axis'])}</td><td>{_e(point['name'])}</td><td>{point['distance']:.2f}</td>"
                     f"{_state(point['state'])}<td>{estimate_text(point['benign'].get('difference'))}</td>"
                     f"<td>{exponent}</td><td>{_e(', '.join(point['broken']))}</td></tr>")
    return "\n".join(lines) + "</table>"


def _rays(search: dict[str, Any]) -> str:
    lines = ["<table><tr><th>ray</th><th>stopped</th><th>counterexample</th><th>last held</th><th>tried</th></tr>"]
    for ray in search["rays"]:
        lines.append(f"<tr><td>{_e(ray['ray'])}</td><td>{_e(ray['stop'])}</td><td>{_e(ray['counterexample'] or '—')}"
                     f"</td><td>{_e(ray['holds'] or '—')}</td><td>{_e(', '.join(ray['points']))}</td></tr>")
    return "\n".join(lines) + "</table>"


def _section(search: dict[str, Any], figure: str) -> str:
    n = search["networks"]
    found = search["counterexample"]
    parts = [f"<h2>{_e(search['measure'])} on {_e(search['family'])}</h2>",
             f'<p class="{"found" if found else "nothing"}">{_e(search["statement"])}</p>',
             f'<p class="meta">{_e(search["budget"])} budget; {n["points"]} points, {n["used"]} networks looked at, '
             f'{n["trained"]} trained by this search; {search["seconds"]:.1f} s</p>']
    if found:
        parts += ["<h3>Falsifying perturbation</h3>", _rows(found)]
    else:
        parts.append(f"<p>Searched: {_e('; '.join(a['space'] for a in search['axes']))}</p>")
    parts += ["<h3>Rays</h3>", _rays(search), "<h3>Points tried</h3>", _points(search),
              f'<p class="meta">{_e(search["power"].get("text", ""))}</p>']
    if not found:
        parts.append(f"<p><strong>Not a proof of robustness:</strong> {_e(search['caveat'])}.</p>")
    parts.append(f'<img src="{_e(figure)}" alt="exponents against strength">')
    return "\n".join(parts)


def write_search_html(directory: Path, searches: list[dict[str, Any]], command: str = "") -> Path:
    """Write `search.html` and its figures into `directory`; returns the page's path."""
    from pytest_fragility.report.search_plots import search_figure

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sections = []
    for i, search in enumerate(searches):
        name = f"search-{i}.png"
        search_figure(search, directory / name)
        sections.append(_section(search, name))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>fragility search</title>"
            f"<style>{STYLE}</style></head><body><h1>Fragility search</h1>"
            + (f'<p class="meta"><code>{_e(command)}</code></p>' if command else "")
            + "\n".join(sections) + "</body></html>")
    path = directory / "search.html"
    atomic_write(path, page)
    return path
