"""The model store: one safetensors file per trained network, addressed by content.

An entry is named by the hash of the network's recipe, data, m, seed and trainer version
and holds the initial and final weights and, in the header metadata, the training record.
One checksum covers both: it hashes the record with the digest of the weights, so a
damaged record is caught when the entry is served (header only, cheap) and damaged weights
when they are loaded. An entry that is unreadable, fails its checksum or does not match
its job is removed with a warning naming the file and is retrained. Entries are written
atomically; the cache folder's per-key lock lets concurrent processes (pytest-xdist
workers) train each network once. A cache that cannot be written keeps new networks in
memory. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from pytest_fragility.errors import CacheError, CorruptCacheWarning

if TYPE_CHECKING:  # torch and safetensors load on first use: a toy-family session never needs them
    import torch

    from pytest_fragility.runs.cache import Cache
    from pytest_fragility.runs.locks import RunLock, UnsharedLock
    from pytest_fragility.train.jobs import TrainedNetwork, TrainingJob

__all__ = ["CorruptCacheWarning", "ModelStore", "StoredNetwork"]

FORMAT_VERSION = "2"  # 2: one checksum over record and weights; keys cover the data's content
RECORD_NUMBERS = ("train_error", "test_error", "train_loss", "train_seconds")


@dataclass(frozen=True, eq=False)
class StoredNetwork:
    """A model-store entry: the training record and a way to read its weights (from the file,
    or from memory when the cache could not be written)."""

    key: str
    path: Path
    record: dict[str, Any]
    tensors: "dict[str, torch.Tensor] | None" = None

    def load_states(self) -> tuple[dict[str, "torch.Tensor"], dict[str, "torch.Tensor"]]:
        """(initial, final) state dicts; CacheError if the file fails its checksum."""
        tensors = self.tensors if self.tensors is not None else _read_tensors(self.path)
        init = {k[len("init/"):]: v for k, v in tensors.items() if k.startswith("init/")}
        final = {k[len("final/"):]: v for k, v in tensors.items() if k.startswith("final/")}
        return init, final


def _weights_digest(tensors: dict[str, "torch.Tensor"]) -> str:
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes()
                      if tensors[name].numel() else b"")
    return digest.hexdigest()


def _checksum(record_text: str, weights: str) -> str:
    """The one checksum of an entry: its record and (through their digest) its weights."""
    return hashlib.sha256(f"{FORMAT_VERSION}\n{record_text}\n{weights}".encode()).hexdigest()


def _read_metadata(path: Path) -> dict[str, str]:
    """The header metadata, verified; opening also checks the header and that the file is whole."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except Exception as error:  # safetensors raises several types for damaged files
        raise CacheError(f"unreadable ({error})") from None
    if meta.get("format") != FORMAT_VERSION:
        raise CacheError(f"format {meta.get('format')!r}, expected {FORMAT_VERSION!r}")
    if meta.get("checksum") != _checksum(meta.get("record", ""), meta.get("weights", "")):
        raise CacheError("checksum mismatch in the training record (the file was modified or damaged)")
    return meta


def _read_tensors(path: Path) -> dict[str, "torch.Tensor"]:
    """All tensors, verified against the digest the checksum covers."""
    from safetensors import safe_open

    try:
        meta = _read_metadata(path)
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except CacheError as error:
        raise CacheError(f"{path}: {error}") from None
    except Exception as error:
        raise CacheError(f"{path}: unreadable ({error})") from None
    if meta["weights"] != _weights_digest(tensors):
        raise CacheError(f"{path}: checksum mismatch in the weights (the file was modified or damaged)")
    return tensors


def _check_record(record: Any, job: "TrainingJob") -> None:
    """CacheError unless the record is whole and belongs to `job` (not a copied or renamed file)."""
    if not isinstance(record, dict):
        raise CacheError("the training record is not a JSON object")
    for name in RECORD_NUMBERS:
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):  # NaN: a diverged run
            raise CacheError(f"training record field {name!r} is {value!r}, not a number")
    if not isinstance(record.get("converged"), bool) or not isinstance(record.get("epochs"), int):
        raise CacheError("training record fields 'converged' and 'epochs' are missing or of the wrong type")
    expected = {"m": job.m, "seed": job.seed, "recipe": job.recipe.as_dict(), "data": job.data}
    wrong = [name for name, value in expected.items() if record.get(name) != value]
    if wrong:
        raise CacheError(f"the training record's {', '.join(wrong)} do not match the network asked for")


class ModelStore:
    """Trained networks in the cache folder, found by their training job."""

    def __init__(self, cache: "Cache") -> None:
        self.cache = cache
        self.folder = cache.root / "runs"
        self._memory: dict[str, StoredNetwork] = {}  # trained here, not written (read-only cache)
        self._damaged: set[Path] = set()  # found damaged in this process (kept if it cannot be removed)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.safetensors"

    def lock(self, key: str) -> "RunLock | UnsharedLock":
        return self.cache.lock(key)

    def get(self, job: "TrainingJob") -> StoredNetwork | None:
        """The stored network, or None when absent; a damaged entry is removed with a warning.

        Only the header is read here (cheap): it verifies the record; the weights are
        verified against it when they are loaded.
        """
        key = job.key()
        if key in self._memory:
            return self._memory[key]
        path = self.path(key)
        if path in self._damaged or not path.exists():
            return None
        try:
            record = json.loads(_read_metadata(path)["record"])
            _check_record(record, job)
        except (CacheError, json.JSONDecodeError) as error:
            self.discard(path, job, str(error))
            return None
        return StoredNetwork(key, path, record)

    def discard(self, path: Path, job: "TrainingJob", why: str) -> None:
        """Remove a damaged entry, saying which file and why; the job is then retrained."""
        warnings.warn(CorruptCacheWarning(
            f"corrupt cache entry {path} ({job.recipe.dataset} m={job.m} seed={job.seed}): {why}; "
            "removed, it will be retrained"), stacklevel=3)
        self._damaged.add(path)
        self.cache.remove(path)

    def put(self, trained: "TrainedNetwork") -> StoredNetwork:
        """Store a trained network atomically (in memory if the cache cannot be written)."""
        from safetensors.torch import save

        key = trained.job.key()
        tensors = {f"init/{k}": v.detach().cpu().contiguous() for k, v in trained.init_state.items()}
        tensors.update({f"final/{k}": v.detach().cpu().contiguous()
                        for k, v in trained.final_state.items()})
        record = trained.record()
        record_text = json.dumps(record, sort_keys=True)
        weights = _weights_digest(tensors)
        metadata = {"format": FORMAT_VERSION, "record": record_text, "weights": weights,
                    "checksum": _checksum(record_text, weights)}
        path = self.path(key)
        if self.cache.write(path, save(tensors, metadata=metadata)):
            self._damaged.discard(path)
            return StoredNetwork(key, path, record)
        self._memory[key] = StoredNetwork(key, path, record, tensors)
        return self._memory[key]

    def entries(self) -> Iterator[Path]:
        return iter(sorted(self.folder.glob("*/*.safetensors"))) if self.folder.exists() else iter(())
