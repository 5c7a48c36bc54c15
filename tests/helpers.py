"""Small synthetic datasets and families that train in well under a second."""

from __future__ import annotations

import torch

from pytest_fragility.families.budgets import Budget
from pytest_fragility.families.datasets import Dataset
from pytest_fragility.families.family import Family
from pytest_fragility.families.recipe import Recipe


def blobs(name: str = "blobs", n_train: int = 400, n_test: int = 200, features: int = 6,
          classes: int = 10, seed: int = 0) -> Dataset:
    """Gaussian class clusters: linearly separable enough to reach 100% train accuracy fast."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, features, generator=g) * 2.0

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(classes, (n,), generator=g)
        return centers[y] + 0.5 * torch.randn(n, features, generator=g), y

    x_train, y_train = sample(n_train)
    x_test, y_test = sample(n_test)
    return Dataset(name, x_train[:, None, :], y_train, x_test[:, None, :], y_test, classes)


TINY = Budget("tiny", seeds=(0, 1), sizes=(40, 80))


def toy_family(name: str = "toy", **recipe: object) -> Family:
    dataset = blobs(f"{name}-data")
    base = Recipe(dataset=dataset.name, width=16, lr=0.1, batch_size=16, max_epochs=60)
    return Family(name, base.replace(**recipe), dataset=dataset, budgets={"tiny": TINY})
