"""The example database: counterexamples found, saved to be replayed first next time.

Plain JSON in the cache folder, one file per (measure, family) under `<cache>/examples/`,
holding the nearest counterexample found on each axis: its variant (as `Variant.to_dict`,
so it is rebuilt exactly, whatever the axis was), strength, distance and the checks it
broke. A later run replays them before anything else (a CI run catches a regression in
seconds, without searching again), and an example that no longer breaks the measure is
removed: a fixed measure clears its entry. `fragility cache clear` removes trained
networks and measure values, not this folder.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fragility.files import dumps, read_json
from pytest_fragility.runs.cache import Cache
from pytest_fragility.spec.variants import Variant

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.searching.points import Point

FOLDER = "examples"


class ExampleDatabase:
    """Saved counterexamples, keyed by measure (a measure name, or a test id) and family."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.root = Path(cache.root) / FOLDER

    def path(self, measure: str, family: str) -> Path:
        """A readable, collision-free file name: <family>--<measure>-<hash>.json."""
        digest = hashlib.sha256(f"{measure}\0{family}".encode()).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{family}--{measure}")[-80:]
        return self.root / f"{slug}-{digest}.json"

    def load(self, measure: str, family: str) -> list[dict[str, Any]]:
        """The saved examples (empty when there are none or the file is unreadable)."""
        path = self.path(measure, family)
        if not path.exists():
            return []
        try:
            examples = read_json(path).get("examples", [])
            for example in examples:
                Variant.from_dict(example["variant"])
            return list(examples)
        except Exception:  # a damaged file loses its examples, never the run: it is rewritten on save
            return []

    def variants(self, measure: str, family: str) -> list[tuple[dict[str, Any], Variant]]:
        return [(example, Variant.from_dict(example["variant"])) for example in self.load(measure, family)]

    def save(self, measure: str, family: str, found: list["Point"], budget: str, searched: set[str]) -> None:
        """Keep one example per axis: the nearest in `found` (this search's counterexamples and
        the replayed ones that still break); saved examples of axes not `searched` and not in
        `found` stay. With nothing left the file is removed."""
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        nearest: dict[str, "Point"] = {}
        for point in found:
            if point.axis not in nearest or point.distance < nearest[point.axis].distance:
                nearest[point.axis] = point
        kept = [e for e in self.load(measure, family) if e["axis"] not in searched and e["axis"] not in nearest]
        kept += [{"axis": p.axis, "strength": p.strength, "distance": p.distance, "variant": p.variant.to_dict(),
                  "broken": [row["check"] for row in p.broken], "budget": budget, "found": now}
                 for p in nearest.values()]
        self._write(measure, family, kept)

    def remove(self, measure: str, family: str, names: set[str]) -> None:
        """Drop the examples whose variants no longer break the measure."""
        examples = self.load(measure, family)
        kept = [e for e in examples if e["variant"]["name"] not in names]
        if len(kept) != len(examples):
            self._write(measure, family, kept)

    def _write(self, measure: str, family: str, examples: list[dict[str, Any]]) -> None:
        path = self.path(measure, family)
        if not examples:
            self.cache.remove(path)
            return
        # through the cache folder: marked (kept out of commits and backups), read-only caches warn once
        self.cache.write(path, dumps({"measure": measure, "family": family, "examples": examples}) + "\n")
