"""The value store: computed measure values per network, as small JSON files.

A value file maps a measure's identity (name, version, options) to its raw value on one
network. Values are read once per process and merged under the network's lock, so
parallel workers computing different measures never lose each other's values. A missing
or damaged file only costs a recomputation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_fragility.files import write_json

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.cache import Cache


class ValueStore:
    """Measure values in the cache folder, keyed like the networks they were computed on."""

    def __init__(self, cache: "Cache") -> None:
        self.cache = cache
        self.folder = cache.root / "values"
        self._read: dict[str, dict[str, float]] = {}  # value files read by this process

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str, *, fresh: bool = False) -> dict[str, float]:
        """Values cached for `key` (read from disk once per process unless `fresh`)."""
        if not fresh and key in self._read:
            return self._read[key]
        try:
            values = json.loads(self.path(key).read_text())
        except (OSError, json.JSONDecodeError):
            values = {}  # missing, or damaged: that only costs a recomputation
        self._read[key] = values
        return values

    def put(self, key: str, values: dict[str, float]) -> None:
        """Merge values into the file for `key`, under that key's lock."""
        if self.cache.readonly or not values:
            return
        with self.cache.lock(key):
            merged = {**self.get(key, fresh=True), **values}
            self._read[key] = merged
            write_json(self.path(key), merged)
