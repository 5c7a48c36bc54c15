"""The cache folder: trained networks, measure values, locks and dataset files.

    <root>/runs/     the model store (safetensors)     <root>/values/   the value store (JSON)
    <root>/locks/    one lock file per network key      <root>/data/     generated datasets (.npz)
    <root>/figures/  learning-curve figures of reports  <root>/CACHEDIR.TAG  the marker

The folder is marked when it is created (`pytest_fragility.cachedir`): nothing is written
into or removed from a folder without the marker, and a folder that cannot be written is
read while new results stay in memory. `FRAGILITY_CACHE_DIR` or `--fragility-cache` moves it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from pytest_fragility import cachedir
from pytest_fragility.errors import CacheError
from pytest_fragility.files import atomic_write, is_temporary
from pytest_fragility.runs.locks import RunLock, UnsharedLock
from pytest_fragility.runs.model_store import ModelStore
from pytest_fragility.runs.value_store import ValueStore

SUBFOLDERS = ("runs", "values", "locks", "data", "figures")


def default_cache_dir(rootdir: Path | None = None) -> Path:
    """FRAGILITY_CACHE_DIR, else `.fragility/` under the pytest rootdir or the cwd."""
    env = os.environ.get("FRAGILITY_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return (rootdir or Path.cwd()) / ".fragility"


class Cache:
    """The cache folder: `models` (trained networks) and `values` (measure values)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.models = ModelStore(self)
        self.values = ValueStore(self)

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def check(self) -> None:
        """CacheError if the root is a file, lies below one, or is a foreign non-empty folder."""
        cachedir.check_root(self.root)

    def writable(self) -> bool:
        """Mark the folder before a write; False when it cannot be written (warned once)."""
        return cachedir.prepare(self.root)

    def read_only(self) -> bool:
        """Whether this process found the folder unwritable (asks nothing of the disk)."""
        return not cachedir.writable(self.root)

    def write(self, path: Path, data: bytes | str) -> bool:
        """Write one file atomically; False (the caller keeps it in memory) if the cache is read-only."""
        if not self.writable():
            return False
        try:
            atomic_write(path, data)
        except OSError as error:
            cachedir.read_only(self.root, error)
            return False
        return True

    def remove(self, path: Path) -> None:
        """Delete one damaged entry, only inside a marked folder we can write."""
        if cachedir.writable(self.root) and cachedir.is_cache(self.root):
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                cachedir.read_only(self.root, error)

    def lock(self, key: str) -> RunLock | UnsharedLock:
        """The per-key lock; hold it while checking for and training a network."""
        if not self.writable():
            return UnsharedLock()
        folder = self.root / "locks"
        folder.mkdir(exist_ok=True)
        return RunLock(folder / f"{key}.lock")

    def info(self) -> dict[str, Any]:
        """Runs, bytes and orphan temporaries (left by a killed writer; `clear` removes them)."""
        self._require_marker("inspect")
        files = [p for p in self.root.rglob("*") if p.is_file()] if self.root.exists() else []
        orphans = [p for p in files if is_temporary(p)]
        return {
            "path": str(self.root),
            "runs": sum(1 for _ in self.models.entries()),
            "bytes": sum(p.stat().st_size for p in files if not is_temporary(p)),
            "orphans": len(orphans),
        }

    def clear(self) -> int:
        """Remove every entry, figure and orphan temporary; returns how many networks were removed.
        The marker and .gitignore stay, so the folder is still recognized as a cache."""
        self._require_marker("clear")
        if not self.root.exists():
            return 0
        count = sum(1 for _ in self.models.entries())
        for sub in SUBFOLDERS:
            shutil.rmtree(self.root / sub, ignore_errors=True)
        for orphan in [p for p in self.root.glob(".*") if is_temporary(p)]:
            orphan.unlink(missing_ok=True)
        return count

    def _require_marker(self, action: str) -> None:
        """Only a marked folder is inspected or cleared (a missing one holds nothing)."""
        if not self.root.exists():
            return
        if not self.root.is_dir():
            self.check()  # raises: names the file
        if not cachedir.is_cache(self.root):
            raise CacheError(f"{self.root} is not a pytest-fragility cache (no {cachedir.MARKER}), so nothing "
                             f"was {'removed' if action == 'clear' else 'read'}; check {cachedir.SETTING}")
