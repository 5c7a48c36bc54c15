"""Real second processes for fault injection: plain, killed, or on a read-only filesystem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120,
           prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter at the repository root; stdout and stderr as text."""
    return subprocess.run([*(prefix or []), sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def popen(code: str, **options: object) -> subprocess.Popen:
    """Start `code` in a fresh interpreter, stdout and stderr as text pipes (stdin too)."""
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, **options)  # type: ignore[arg-type]


def read_only(folder: Path, code: str, *, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `code` while `folder` cannot be written, for real: a read-only bind mount in a private
    mount namespace when running as root (root ignores permissions), else permissions."""
    if os.geteuid() == 0:
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode:
            pytest.skip("running as root without mount namespaces: no way to make a folder read-only here")
        mount = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
                 f"exec {sys.executable} -c \"$0\"")
        return subprocess.run(["unshare", "-m", "sh", "-c", mount, code], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
    for path in modes:
        path.chmod(modes[path] & ~0o222)
    try:
        return python(code, timeout=timeout)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
