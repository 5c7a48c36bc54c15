"""The value store: computed measure values per network, as small JSON files.

A value file maps a measure's identity (name, version, options) to its raw value on one
network. Values are read once per process and merged under the network's lock, so
parallel workers computing different measures never lose each other's values. A file
that is not such a map (unreadable, not JSON, or JSON of another shape) is reported with
a warning naming it and its values are recomputed; the next write replaces it. A cache
that cannot be written keeps new values in memory.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fragility.errors import CorruptCacheWarning
from pytest_fragility.files import dumps

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.cache import Cache


class ValueStore:
    """Measure values in the cache folder, keyed like the networks they were computed on."""

    def __init__(self, cache: "Cache") -> None:
        self.cache = cache
        self.folder = cache.root / "values"
        self._read: dict[str, dict[str, float]] = {}  # value files read (or computed) by this process
        self._warned: set[Path] = set()  # damaged files already reported

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str, *, fresh: bool = False) -> dict[str, float]:
        """Values cached for `key` (read from disk once per process unless `fresh`)."""
        if not fresh and key in self._read:
            return self._read[key]
        path = self.path(key)
        try:
            values = _values(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            values = {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
            if path not in self._warned:
                self._warned.add(path)
                warnings.warn(CorruptCacheWarning(
                    f"damaged value file {path} ({error}); its values will be recomputed"), stacklevel=2)
            values = {}
        if self.cache.read_only():  # values computed here only live in memory: keep them
            values = {**values, **self._read.get(key, {})}
        self._read[key] = values
        return values

    def put(self, key: str, values: dict[str, float]) -> None:
        """Merge values into the file for `key`, under that key's lock (in memory if read-only)."""
        if not values:
            return
        with self.cache.lock(key):
            merged = {**self.get(key, fresh=True), **values}
            self._read[key] = merged
            self.cache.write(self.path(key), dumps(merged) + "\n")


def _values(document: Any) -> dict[str, float]:
    """The document as {measure identity: finite number}; ValueError says what it was instead."""
    if not isinstance(document, dict):
        raise ValueError(f"a JSON {type(document).__name__}, not an object of measure values")
    for name, value in document.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"value of {name!r} is {value!r}, not a finite number")
    return {name: float(value) for name, value in document.items()}
