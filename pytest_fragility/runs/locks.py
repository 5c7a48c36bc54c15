"""Per-network locks that say who holds them.

A lock is a file lock (flock: the kernel frees it when its holder dies) plus a note beside
it naming the holding process and host. A process that must wait for a network says every
few seconds which run it waits for and who holds it, so a stopped holder (Ctrl-Z, a paused
job) is never a silent hang. A lock still held after its holder is gone (a child process
inherited the descriptor and outlived it) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pytest_fragility.errors import CacheError
from pytest_fragility.files import atomic_write

WAIT_NOTICE_S = 5.0  # how often a waiting process says what it waits for
LOCK_TIMEOUT_S = 6 * 3600

Notify = Callable[[str], None]


def notify_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Holder:
    """The process a lock's note names."""

    pid: int
    host: str
    since: float

    def gone(self) -> bool:
        """True only when the holder ran on this host and no longer exists."""
        if self.host != socket.gethostname():
            return False  # another machine's process: it cannot be checked from here
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


class RunLock:
    """The lock of one network in the cache folder's ``locks/``."""

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        self.path = path
        self.note = path.with_name(path.name + ".owner")
        self._lock = FileLock(str(path))

    def acquire(self, timeout: float) -> None:
        """Take the lock within `timeout` seconds (filelock.Timeout otherwise) and sign it."""
        self._lock.acquire(timeout=timeout)
        note = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        try:
            atomic_write(self.note, json.dumps(note))
        except OSError:  # the note only informs waiters; the lock itself is held
            pass

    def release(self) -> None:
        self.note.unlink(missing_ok=True)
        self._lock.release()

    def holder(self) -> Holder | None:
        try:
            note = json.loads(self.note.read_text())
            return Holder(int(note["pid"]), str(note["host"]), float(note["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def wait(self, what: str, notify: Notify = notify_stderr) -> None:
        """Acquire, saying every WAIT_NOTICE_S seconds which run waits for whom; take over a
        lock whose holder is gone (seen gone twice, so a new holder can sign it first)."""
        from filelock import Timeout

        started = time.monotonic()
        suspect: Holder | None = None
        while True:
            try:
                self.acquire(timeout=WAIT_NOTICE_S)
                return
            except Timeout:
                pass
            holder = self.holder()
            waited = time.monotonic() - started
            if holder is not None and holder.gone():
                if holder == suspect:
                    notify(f"fragility: {what}: its lock is held for {holder}, which no longer exists; "
                           f"taking the lock over")
                    self._take_over()
                    continue
                suspect = holder
            if waited > LOCK_TIMEOUT_S:
                raise CacheError(f"gave up after {waited:.0f} s waiting for {what}, locked by "
                                 f"{holder or 'an unknown process'}; if no process holds it, delete {self.path}")
            notify(f"fragility: waiting for {what}, locked by {holder or 'an unknown process'} "
                   f"for {waited:.0f} s")

    def _take_over(self) -> None:
        """A new lock file: the stale holder keeps the old inode, waiters open the new one."""
        self.path.unlink(missing_ok=True)
        self.note.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        self.wait(f"cache entry {self.path.stem}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class UnsharedLock:
    """The lock of a cache that cannot be written: nothing is shared, so nothing to wait for."""

    def acquire(self, timeout: float) -> None:
        pass

    def release(self) -> None:
        pass

    def wait(self, what: str, notify: Notify = notify_stderr) -> None:
        pass

    def __enter__(self) -> "UnsharedLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass
