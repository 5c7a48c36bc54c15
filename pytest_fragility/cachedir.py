"""The cache folder's identity and writability, shared by every layer that writes into it.

A cache folder is marked when it is created: a ``CACHEDIR.TAG`` (the Cache Directory
Tagging convention, so backup tools skip it too) and a ``.gitignore`` of ``*``. Nothing
is written into, or deleted from, a folder that is neither a cache nor new and empty, so
pointing ``--fragility-cache`` at a project folder can never cost a file. A cache that
cannot be written (a read-only mount, another user's folder) is still read; what must be
computed is kept in memory, and one warning per folder and process says so.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from pytest_fragility.errors import CacheError
from pytest_fragility.files import atomic_write, is_temporary

MARKER = "CACHEDIR.TAG"
SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
MARKER_TEXT = (f"{SIGNATURE}\n# This file is a cache directory tag created by pytest-fragility.\n"
               "# For information about cache directory tags, see https://bford.info/cachedir/\n")
IGNORE_TEXT = "# created by pytest-fragility: trained models, not source\n*\n"
LEGACY_IGNORE = "# created by pytest-fragility"  # folders made before the marker existed
SETTING = "--fragility-cache or FRAGILITY_CACHE_DIR"

_read_only: dict[Path, str] = {}  # cache folders found unwritable in this process → why
_prepared: set[Path] = set()  # cache folders marked and found writable in this process


class ReadOnlyCacheWarning(UserWarning):
    """The cache folder cannot be written: it is read, and new results stay in memory."""


def is_cache(root: Path) -> bool:
    """Whether `root` carries the marker (or the .gitignore of a cache made before it)."""
    return _starts(root / MARKER, SIGNATURE) or _starts(root / ".gitignore", LEGACY_IGNORE)


def check_root(root: Path) -> None:
    """Raise CacheError when `root` cannot be a cache folder: a file, below a file, or an
    existing folder with other content and no marker."""
    root = Path(root)
    for folder in (root, *root.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                what = "is a file" if folder == root else f"cannot be created: {folder} is a file"
                raise CacheError(f"cache folder {root} {what}, not a folder; point {SETTING} at a folder")
            break
    if root.is_dir() and not is_cache(root) and _has_content(root):
        raise CacheError(
            f"{root} is not a pytest-fragility cache (no {MARKER}) and is not empty, so nothing is "
            f"written there; point {SETTING} at a new or empty folder")


def prepare(root: Path) -> bool:
    """Make `root` a marked cache folder before a write. False (after one warning per folder)
    when it cannot be written: callers then keep what they computed in memory."""
    root = Path(root)
    if root in _prepared and (root / MARKER).exists():
        return True
    if root in _read_only:
        return False
    check_root(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / MARKER).exists():  # atomic: a process preparing the same folder sees no half tag
            atomic_write(root / MARKER, MARKER_TEXT)
        if not (root / ".gitignore").exists():
            atomic_write(root / ".gitignore", IGNORE_TEXT)
        with tempfile.TemporaryFile(dir=root):  # the marker may exist in a folder we cannot write
            pass
    except OSError as error:
        read_only(root, error)
        return False
    _prepared.add(root)
    return True


def read_only(root: Path, error: OSError) -> None:
    """Record that `root` cannot be written (warned once per folder and process)."""
    root = Path(root)
    _prepared.discard(root)
    if root in _read_only:
        return
    _read_only[root] = f"{type(error).__name__}: {error.strerror or error}"
    warnings.warn(ReadOnlyCacheWarning(
        f"cache folder {root} cannot be written ({_read_only[root]}): reading what it holds; networks "
        f"and values computed now are kept in memory for this process only. Make it writable or point "
        f"{SETTING} at a writable folder to keep them"), stacklevel=3)


def writable(root: Path) -> bool:
    """Whether writes into `root` are still attempted in this process."""
    return Path(root) not in _read_only


def _has_content(root: Path) -> bool:
    """Anything but a temporary file (another process may be tagging the folder right now)."""
    try:
        return any(not is_temporary(path) for path in root.iterdir())
    except OSError:
        return False


def _starts(path: Path, text: str) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(len(text)) == text
    except OSError:
        return False
