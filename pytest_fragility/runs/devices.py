"""Device selection: `cpu` by default, `cuda` when asked, `auto` picks CUDA if present."""

from __future__ import annotations

import os

import torch

from pytest_fragility.errors import ConfigurationError


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """A torch device from a name, FRAGILITY_DEVICE, or "cpu"; a clear error if CUDA is missing."""
    if isinstance(name, torch.device):
        return name
    name = name or os.environ.get("FRAGILITY_DEVICE") or "cpu"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigurationError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(
            f"device {name!r} was asked for but torch {torch.__version__} sees no CUDA device; "
            "use --fragility-device cpu (or auto)"
        )
    return device
