"""The model store: one safetensors file per trained network, addressed by content.

An entry is named by the hash of the network's recipe, m, seed and trainer version and
holds the initial and final weights and (in the header metadata) the training record
plus a checksum of the tensors. Entries are written atomically; the cache folder's
per-key lock lets concurrent processes (pytest-xdist workers) train each network once;
an entry that fails to load or to verify is reported, removed and retrained. Nothing
is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from pytest_fragility.errors import CacheError
from pytest_fragility.files import atomic_write

if TYPE_CHECKING:  # torch and safetensors load on first use: a toy-family session never needs them
    import torch
    from filelock import FileLock

    from pytest_fragility.runs.cache import Cache
    from pytest_fragility.train.jobs import TrainedNetwork, TrainingJob

FORMAT_VERSION = "1"


class CorruptCacheWarning(UserWarning):
    """A cache entry could not be read; it was removed and will be retrained."""


@dataclass(frozen=True, eq=False)
class StoredNetwork:
    """A model-store entry: the training record and a way to read its weights."""

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


class ModelStore:
    """Trained networks in the cache folder, found by their training job."""

    def __init__(self, cache: "Cache") -> None:
        self.cache = cache
        self.folder = cache.root / "runs"

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.safetensors"

    def lock(self, key: str) -> "FileLock":
        return self.cache.lock(key)

    def get(self, job: "TrainingJob") -> StoredNetwork | None:
        """The stored network, or None when absent; a damaged entry is removed with a warning.

        Only the header is read here (cheap); the weights' checksum is verified when
        they are loaded.
        """
        key = job.key()
        path = self.path(key)
        if not path.exists():
            return None
        try:
            record = json.loads(_read_metadata(path)["record"])
        except (CacheError, KeyError, json.JSONDecodeError) as error:
            warnings.warn(
                f"corrupt cache entry for {job.recipe.dataset} m={job.m} seed={job.seed} "
                f"({error}); removed, it will be retrained", CorruptCacheWarning, stacklevel=2)
            if not self.cache.readonly:
                path.unlink(missing_ok=True)
            return None
        return StoredNetwork(key, path, record)

    def put(self, trained: "TrainedNetwork") -> StoredNetwork:
        """Store a trained network atomically."""
        from safetensors.torch import save

        self.cache.prepare()
        key = trained.job.key()
        tensors = {f"init/{k}": v.detach().cpu().contiguous() for k, v in trained.init_state.items()}
        tensors.update({f"final/{k}": v.detach().cpu().contiguous()
                        for k, v in trained.final_state.items()})
        record = trained.record()
        metadata = {"format": FORMAT_VERSION, "record": json.dumps(record, sort_keys=True),
                    "checksum": _checksum(tensors)}
        path = self.path(key)
        atomic_write(path, save(tensors, metadata=metadata))
        return StoredNetwork(key, path, record)

    def entries(self) -> Iterator[Path]:
        return iter(sorted(self.folder.glob("*/*.safetensors"))) if self.folder.exists() else iter(())
