"""The falsifying-perturbation block of a search, for the terminal (rich, rendered to a string).

Found: the perturbation nearest the base that is benign and breaks the measure — its axis
and strength, the bracket around the break, the benign evidence (test error's exponent and
level change with intervals), the measure's rows with the broken ones highlighted, and what
the search cost. Nothing found: "no counterexample within the searched space at this budget",
what each ray reached, the smallest effects the budget could detect, and that this is not a
proof of robustness. Renders the plain-dict form (`SearchResult.to_dict()`); like the audit's
diff (`terminal`), lines are never broken here: a log keeps each one whole.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from pytest_fragility.report.terminal import print_lines, row_line

STATE_STYLE = {"counterexample": "bold red", "holds": "green", "not-benign": "cyan", "unresolved": "yellow"}


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def _cost(search: dict[str, Any]) -> str:
    n = search["networks"]
    return (f"{n['points']} points, {n['used']} networks looked at ({n['trained']} trained by this search; "
            f"base {n['base']}, {n['per_point']} per point"
            + (f", cap {n['max']}" if n.get("max") else "") + f"), {_duration(search['seconds'])}")


def _heading(search: dict[str, Any]) -> Text:
    found = search["counterexample"] is not None
    verdict = Text("COUNTEREXAMPLE", style="bold red") if found else Text(
        "no counterexample within the searched space at this budget", style="yellow")
    return Text.assemble("fragility search of ", (search["measure"], "bold"), f" on {search['family']}: ", verdict,
                         f"\n{search['budget']} budget, {search['form']} form; {_cost(search)}")


def _state(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def _ray(ray: dict[str, Any], points: dict[str, dict[str, Any]]) -> Text:
    tried = Text("" if ray["points"] else "nothing")
    for i, name in enumerate(ray["points"]):
        tried.append(", " if i else "")
        tried.append(name)
        tried.append(" ")
        tried.append_text(_state(points[name]["state"]))
    ending = {
        "precision": f"breaks at {ray['counterexample']}" + (f" (last held: {ray['holds']})" if ray["holds"] else ""),
        "benign band ended": f"the benign band ends before any break: {ray['limit']} is "
                             f"{points[ray['limit']]['state'] if ray['limit'] else '?'}"
                             + (f", {ray['holds']} last held" if ray["holds"] else ""),
        "end of range": "nothing broke up to the edge of the range",
        "network budget": "stopped: network budget spent",
        "all tried": "every option tried" + (f"; {ray['counterexample']} breaks" if ray["counterexample"] else ""),
    }[ray["stop"]]
    if ray["stop"] == "network budget" and ray["counterexample"]:
        ending += f" (breaks at {ray['counterexample']}, bracket not narrowed to the precision)"
    return Text.assemble(("  " + f"{ray['ray']:<16}", "bold"), ending, "\n" + " " * 18, ("tried: ", "dim"), tried)


def point_lines(point: dict[str, Any]) -> list[Text]:
    """A counterexample: the perturbation, the benign evidence, the measure's rows."""
    lines = [Text.assemble(("Falsifying perturbation: ", "bold"), (point["name"], "bold red"),
                           f"  (axis {point['axis']}, {point['distance']:.2f} of its searched range"
                           + (", replayed from the example database" if point["replayed"] else "") + ")")]
    return lines + [row_line(row, "  ", width=9) for row in [point["benign"], *point["rows"]]]


def render_replay(measure: str, family: str, points: list[dict[str, Any]], *, color: bool) -> str:
    """Saved counterexamples that still break the measure (a replay before any audit or search)."""
    lines = [Text.assemble("fragility replay of ", (measure, "bold"), f" on {family}: ",
                           Text("COUNTEREXAMPLE", style="bold red"),
                           " (saved by an earlier search; no search was needed)")]
    for point in points:
        lines += point_lines(point)
    lines.append(Text("Fix the measure, or remove the example from the database; an example that no longer "
                      "breaks it is removed on the next run.", style="dim"))
    return print_lines(lines, color=color)


def search_lines(search: dict[str, Any]) -> list[Text]:
    """The block, line by line."""
    lines = [_heading(search)]
    points = {p["name"]: p for p in search["points"]}
    point = search["counterexample"]
    if point is not None:
        lines += point_lines(point)
        others = [name for name in search["counterexamples"] if name != point["name"]]
        if others:
            lines.append(Text(f"Also breaks it: {', '.join(others)}", style="dim"))
    else:
        lines.append(Text("Searched: " + "; ".join(axis["space"] for axis in search["axes"]), style="bold"))
    lines += [_ray(ray, points) for ray in search["rays"]]
    replayed = [name for name in search.get("replayed", []) if name in points]
    if replayed:
        lines.append(Text("Replayed from the example database: " + ", ".join(
            f"{name} ({points[name]['state']})" for name in replayed), style="dim"))
    power = search.get("power", {}).get("text")
    if power:
        lines.append(Text(power[0].upper() + power[1:] + ".", style="dim"))
    if point is None:
        lines.append(Text("Not a proof of robustness: " + search["caveat"] + ".", style="yellow"))
    return lines


def render_search(search: dict[str, Any], *, color: bool) -> str:
    """The block as text, coloured or not."""
    return print_lines(search_lines(search), color=color)
