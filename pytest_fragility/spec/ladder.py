"""Data-ladder rungs (`pf.data`): changes to the data that SHOULD change generalization.

    pf.data.label_noise(0.2)      20% of training labels replaced by random labels
    pf.data.dataset("mnist1d")    the same task on another dataset
    pf.data.pixel_shuffle()       one fixed permutation of input features (train and test)
"""

from __future__ import annotations

from pytest_fragility.errors import ConfigurationError
from pytest_fragility.spec.variants import Variant

__all__ = ["label_noise", "dataset", "pixel_shuffle"]


def label_noise(p: float) -> Variant:
    """Replace a seeded fraction `p` of training labels by uniform random labels."""
    if not 0.0 < p <= 1.0:
        raise ConfigurationError(f"label noise must be in (0, 1], got {p!r}")
    return Variant(f"label-noise={p:g}", "rung", (("label_noise", p),))


def dataset(name: str) -> Variant:
    """Train and test on another dataset (same task, architecture and optimizer)."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"dataset needs a dataset name, got {name!r}")
    return Variant(f"dataset={name}", "rung", (("dataset", name),))


def pixel_shuffle() -> Variant:
    """Apply one fixed permutation to the input features of every example."""
    return Variant("pixel-shuffle", "rung", (("pixel_shuffle", True),))
