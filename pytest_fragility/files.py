"""Files the tool writes: atomically, and JSON with NaN and infinities as null.

Every file pytest-fragility writes (cache entries, value files, reports, baselines)
goes through `atomic_write`: the bytes go to a temporary file in the same folder,
which is then renamed over the target, so a reader never sees half a file and a
killed process leaves at most an orphan temporary (named by `is_temporary`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from pytest_fragility.errors import ConfigurationError

TEMPORARY_SUFFIX = ".tmp"


def temporary_path(path: Path) -> Path:
    """Where `atomic_write` stages `path`: hidden, per process, beside the target."""
    return path.with_name(f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")


def is_temporary(path: Path) -> bool:
    """Whether `path` is a staging file of `atomic_write` (an orphan if its writer died)."""
    return path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_path(path)
    try:
        if isinstance(data, str):
            staging.write_text(data, encoding="utf-8")
        else:
            staging.write_bytes(data)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def check_output(path: Path, *, folder: bool, option: str) -> None:
    """ConfigurationError naming `option` and `path` unless a file (or, with `folder`, a folder
    of files) can be written there: checked before any work, by writing and deleting a probe."""
    path = Path(path)
    what = "folder" if folder else "file"
    if path.is_dir() and not folder:
        raise ConfigurationError(f"{option} {path}: is a folder; give the path of a file, e.g. {path / 'report.json'}")
    if path.exists() and not path.is_dir() and folder:
        raise ConfigurationError(f"{option} {path}: is a file; give the path of a folder")
    start = path if folder else path.parent
    existing = next(p for p in (start, *start.parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        raise ConfigurationError(f"{option} {path}: the {what} cannot be created, {existing} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ConfigurationError(f"{option} {path}: {existing} cannot be written ({error.strerror or error}); "
                                 f"choose a writable {what}") from None


def plain(value: Any) -> Any:
    """`value` as plain JSON types: numpy numbers become Python numbers, NaN and ±inf
    become None, tuples become lists (recursively through dicts and lists)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy or torch scalar
        return plain(value.item())
    if hasattr(value, "tolist"):  # numpy array
        return plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def dumps(data: Any, *, indent: int | None = 2, sort_keys: bool = True) -> str:
    """JSON text of `plain(data)`; never writes NaN or Infinity."""
    return json.dumps(plain(data), indent=indent, sort_keys=sort_keys, allow_nan=False)


def write_json(path: Path, data: Any, *, sort_keys: bool = True) -> None:
    """`data` as indented JSON, written atomically."""
    atomic_write(Path(path), dumps(data, sort_keys=sort_keys) + "\n")


def read_json(path: Path) -> Any:
    """The JSON document at `path` (errors are the caller's to name)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
