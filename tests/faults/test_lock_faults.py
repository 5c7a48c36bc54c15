"""A run's lock held by another, real process: stopped (SIGSTOP, SIGCONT), or gone.

A waiting process says which run it waits for and which process holds it, every few
seconds; it never trains a network twice while the holder lives, and takes over a lock
whose holder is gone.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import threading
import time

from tests.faults.processes import popen

SETUP = """
import sys
from tests.helpers import toy_family
from pytest_fragility.runs.cache import Cache
from pytest_fragility.runs.grid import grid
family, cache = toy_family(), Cache({cache!r})
job = grid(family, "tiny")[0].job
"""

HOLDER = SETUP + """
lock = cache.lock(job.key())
lock.acquire(timeout=30)
print("locked", flush=True)
sys.stdin.readline()  # the test stops us here, continues us, then lets us finish
import torch
from pytest_fragility.families.datasets import task_view
from pytest_fragility.train.reference import train_reference
cache.models.put(train_reference(job, task_view(family.dataset, "binary", False), family.model, family.init,
                                 torch.device("cpu")))
lock.release()
print("stored", flush=True)
"""

WAITER = """
import pytest_fragility.runs.locks as locks
from tests.helpers import toy_family
locks.WAIT_NOTICE_S = 0.5
runs = toy_family().runs("tiny", cache={cache!r}, progress=False)
print("counts", runs.training.trained, runs.training.cached, flush=True)
"""

ORPHANED = SETUP + """
import fcntl, json, os, socket, time
from pytest_fragility.files import atomic_write
lock = cache.lock(job.key())
fd = os.open(lock.path, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
atomic_write(lock.note, json.dumps({{"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}}))
child = os.fork()
if child == 0:  # keeps the descriptor, and with it the lock, after its parent is gone
    time.sleep(120)
    os._exit(0)
print("child", child, flush=True)
os._exit(0)
"""


def _lines(stream) -> "queue.Queue[str]":
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def _until(lines: "queue.Queue[str]", pattern: str, timeout: float = 120) -> list[str]:
    """Lines read until one matches `pattern` (fails the test after `timeout` seconds)."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            continue
        if re.search(pattern, seen[-1]):
            return seen
    raise AssertionError(f"no line matching {pattern!r} in {timeout:.0f} s; saw {seen}")


def test_a_stopped_holder_is_named_while_others_wait_and_nothing_trains_twice(tmp_path):
    cache = str(tmp_path / "cache")
    holder = popen(HOLDER.format(cache=cache))
    waiter = None
    try:
        assert holder.stdout.readline().strip() == "locked"
        os.kill(holder.pid, signal.SIGSTOP)
        waiter = popen(WAITER.format(cache=cache))
        notices = _lines(waiter.stderr)
        host = re.escape(socket.gethostname())
        pattern = (rf"fragility: waiting for run toy-data fcn sgd lr=0\.1 noise=0 m=40 seed=0 \(key [0-9a-f]{{12}}\), "
                   rf"locked by pid {holder.pid} on {host} for \d+ s")
        seen = _until(notices, pattern)
        seen += _until(notices, pattern)  # and again a moment later
        assert len([line for line in seen if re.search(pattern, line)]) == 2
        os.kill(holder.pid, signal.SIGCONT)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "stored"
        out, _ = waiter.communicate(timeout=120)
        assert "counts 3 1" in out  # the held network came from its holder, not trained twice
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
                process.wait()


def test_a_lock_whose_holder_is_gone_is_taken_over(tmp_path):
    cache = str(tmp_path / "cache")
    holder = popen(ORPHANED.format(cache=cache))
    child = int(holder.stdout.readline().split()[1])
    holder.wait(timeout=60)  # the holder exits; its child still holds the lock's descriptor
    try:
        waiter = popen(WAITER.format(cache=cache))
        out, err = waiter.communicate(timeout=180)
        assert re.search(rf"fragility: run toy-data .* m=40 seed=0 \(key [0-9a-f]{{12}}\): its lock is held for "
                         rf"pid {holder.pid} on .*, which no longer exists; taking the lock over", err), err
        assert "counts 4 0" in out
    finally:
        os.kill(child, signal.SIGKILL)
