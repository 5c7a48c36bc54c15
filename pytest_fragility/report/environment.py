"""The environment an audit ran in: versions and machine, for reports and baselines."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
from typing import Any

PACKAGES = ("pytest-fragility", "torch", "numpy", "scipy")


def environment() -> dict[str, Any]:
    """Python, platform and the versions of the packages that decide the numbers."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), **versions}
