"""The cache folder: trained networks, measure values, locks and dataset files.

    <root>/runs/     the model store (safetensors)     <root>/values/   the value store (JSON)
    <root>/locks/    one lock file per network key      <root>/data/     generated datasets (.npz)

The folder is created on first write with a `.gitignore`, so it never ends up in a
commit; `FRAGILITY_CACHE_DIR` or `--fragility-cache` moves it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fragility.errors import CacheError
from pytest_fragility.runs.model_store import ModelStore
from pytest_fragility.runs.value_store import ValueStore

if TYPE_CHECKING:  # pragma: no cover
    from filelock import FileLock

LOCK_TIMEOUT_S = 6 * 3600
SUBFOLDERS = ("runs", "values", "locks", "data")


def default_cache_dir(rootdir: Path | None = None) -> Path:
    """FRAGILITY_CACHE_DIR, else `.fragility/` under the pytest rootdir or the cwd."""
    env = os.environ.get("FRAGILITY_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return (rootdir or Path.cwd()) / ".fragility"


class Cache:
    """The cache folder: `models` (trained networks) and `values` (measure values)."""

    def __init__(self, root: Path | str, *, readonly: bool = False) -> None:
        self.root = Path(root)
        self.readonly = readonly
        self.models = ModelStore(self)
        self.values = ValueStore(self)

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def prepare(self) -> None:
        """Create the folder (with its .gitignore) before a write."""
        if self.readonly:
            raise CacheError(f"cache {self.root} is read-only")
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# created by pytest-fragility: trained models, not source\n*\n")

    def lock(self, key: str) -> "FileLock":
        """The per-key lock; hold it while checking for and training a network."""
        from filelock import FileLock

        self.prepare()
        path = self.root / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path), timeout=LOCK_TIMEOUT_S)

    def info(self) -> dict[str, Any]:
        files = [p for p in self.root.rglob("*") if p.is_file()] if self.root.exists() else []
        return {
            "path": str(self.root),
            "runs": sum(1 for _ in self.models.entries()),
            "bytes": sum(p.stat().st_size for p in files),
        }

    def clear(self) -> int:
        """Remove every entry; returns how many networks were removed."""
        count = sum(1 for _ in self.models.entries())
        for sub in SUBFOLDERS:
            shutil.rmtree(self.root / sub, ignore_errors=True)
        return count
