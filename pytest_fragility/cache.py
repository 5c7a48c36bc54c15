"""The content-addressed model cache.

One safetensors file per trained network, named by the hash of its recipe, m, seed
and trainer version, holding the initial and final weights and (in the header
metadata) the training record plus a checksum of the tensors. Files are written to a
temporary name and renamed, so a reader never sees half a file; a per-key file lock
makes concurrent processes (pytest-xdist workers) train each network once; an entry
that fails to load or to verify is reported, removed and retrained. Nothing is ever
unpickled. Computed measure values are cached beside the weights, as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from filelock import FileLock

from pytest_fragility.errors import CacheError

if TYPE_CHECKING:  # torch and safetensors load on first use: a toy-family session never needs them
    import torch

    from pytest_fragility.train.jobs import TrainedRun, TrainingJob

FORMAT_VERSION = "1"
LOCK_TIMEOUT_S = 6 * 3600


class CorruptCacheWarning(UserWarning):
    """A cache entry could not be read; it was removed and will be retrained."""


@dataclass(frozen=True, eq=False)
class CachedRun:
    """A cache entry: the training record and a way to read its weights."""

    key: str
    path: Path
    record: dict[str, Any]

    def load_states(self) -> tuple[dict[str, "torch.Tensor"], dict[str, "torch.Tensor"]]:
        """(initial, final) state dicts; raises CacheError if the file changed under us."""
        tensors = _read_tensors(self.path)
        init = {k[len("init/"):]: v for k, v in tensors.items() if k.startswith("init/")}
        final = {k[len("final/"):]: v for k, v in tensors.items() if k.startswith("final/")}
        return init, final


def _checksum(tensors: dict[str, "torch.Tensor"]) -> str:
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes()
                      if tensors[name].numel() else b"")
    return digest.hexdigest()


def _read_metadata(path: Path) -> dict[str, str]:
    """The header metadata; opening also checks the header and that the file is whole."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception as error:  # safetensors raises several types for damaged files
        raise CacheError(f"{path}: unreadable cache entry ({error})") from None


def _read_tensors(path: Path) -> dict[str, "torch.Tensor"]:
    """All tensors, verified against the checksum written with them."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:
        raise CacheError(f"{path}: unreadable cache entry ({error})") from None
    if meta.get("checksum") != _checksum(tensors):
        raise CacheError(f"{path}: checksum mismatch (the file was modified or damaged)")
    return tensors


def default_cache_dir(rootdir: Path | None = None) -> Path:
    """FRAGILITY_CACHE_DIR, else `.fragility/` under the pytest rootdir or the cwd."""
    env = os.environ.get("FRAGILITY_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return (rootdir or Path.cwd()) / ".fragility"


class ModelCache:
    """Trained networks and measure values on disk, addressed by content."""

    def __init__(self, root: Path | str, *, readonly: bool = False) -> None:
        self.root = Path(root)
        self.readonly = readonly
        self._values_read: dict[str, dict[str, float]] = {}  # value files read by this process

    def __repr__(self) -> str:
        return f"ModelCache({str(self.root)!r})"

    # -- layout ---------------------------------------------------------------
    def _entry(self, key: str) -> Path:
        return self.root / "runs" / key[:2] / f"{key}.safetensors"

    def _values(self, key: str) -> Path:
        return self.root / "values" / key[:2] / f"{key}.json"

    def _ensure_root(self) -> None:
        if self.readonly:
            raise CacheError(f"cache {self.root} is read-only")
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# created by pytest-fragility: trained models, not source\n*\n")

    def lock(self, key: str) -> FileLock:
        """The per-key lock; hold it while checking for and training a run."""
        self._ensure_root()
        path = self.root / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path), timeout=LOCK_TIMEOUT_S)

    # -- runs -----------------------------------------------------------------
    def get(self, job: TrainingJob) -> CachedRun | None:
        """The cached run, or None when absent; a damaged entry is removed with a warning.

        Only the header is read here (cheap); the weights' checksum is verified when
        they are loaded.
        """
        key = job.key()
        path = self._entry(key)
        if not path.exists():
            return None
        try:
            record = json.loads(_read_metadata(path)["record"])
        except (CacheError, KeyError, json.JSONDecodeError) as error:
            warnings.warn(
                f"corrupt cache entry for {job.recipe.dataset} m={job.m} seed={job.seed} "
                f"({error}); removed, it will be retrained", CorruptCacheWarning, stacklevel=2)
            if not self.readonly:
                path.unlink(missing_ok=True)
            return None
        return CachedRun(key, path, record)

    def put(self, trained: TrainedRun) -> CachedRun:
        """Store a trained run atomically (temporary file, then rename)."""
        self._ensure_root()
        key = trained.job.key()
        path = self._entry(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"init/{k}": v.detach().cpu().contiguous() for k, v in trained.init_state.items()}
        tensors.update({f"final/{k}": v.detach().cpu().contiguous()
                        for k, v in trained.final_state.items()})
        record = trained.record()
        metadata = {"format": FORMAT_VERSION, "record": json.dumps(record, sort_keys=True),
                    "checksum": _checksum(tensors)}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        from safetensors.torch import save_file

        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)
        return CachedRun(key, path, record)

    # -- measure values -----------------------------------------------------------
    def get_values(self, key: str, *, fresh: bool = False) -> dict[str, float]:
        """Measure values cached for `key` (read from disk once per process unless `fresh`)."""
        if not fresh and key in self._values_read:
            return self._values_read[key]
        path = self._values(key)
        try:
            values = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            values = {}  # missing, or damaged: that only costs a recomputation
        self._values_read[key] = values
        return values

    def put_values(self, key: str, values: dict[str, float]) -> None:
        """Merge measure values into the run's value file, under the run's lock."""
        if self.readonly or not values:
            return
        with self.lock(key):
            merged = {**self.get_values(key, fresh=True), **values}
            self._values_read[key] = merged
            path = self._values(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(merged, sort_keys=True))
            os.replace(tmp, path)

    # -- maintenance ------------------------------------------------------------------
    def entries(self) -> Iterator[Path]:
        runs = self.root / "runs"
        return iter(sorted(runs.glob("*/*.safetensors"))) if runs.exists() else iter(())

    def info(self) -> dict[str, Any]:
        files = [p for p in self.root.rglob("*") if p.is_file()] if self.root.exists() else []
        return {
            "path": str(self.root),
            "runs": sum(1 for _ in self.entries()),
            "bytes": sum(p.stat().st_size for p in files),
        }

    def clear(self) -> int:
        """Remove every entry; returns how many runs were removed."""
        count = sum(1 for _ in self.entries())
        for sub in ("runs", "values", "locks", "data"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        return count
