"""A measure developer's repo in miniature: register a family built on your own data and model.

The data stands in for yours: 6,000 points of a 20-feature binary problem made by
scikit-learn (2,000 held out, so test error is measured precisely); the model is a small
two-layer MLP written as a plain nn.Module.
"""

import torch
from sklearn.datasets import make_classification
from torch import nn

import pytest_fragility as pf
from pytest_fragility.families import Budget, Dataset


def my_dataset() -> Dataset:
    x, y = make_classification(n_samples=6000, n_features=20, n_informative=8, class_sep=0.8,
                               flip_y=0.0, random_state=0)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    return Dataset("my-data", x[:4000], y[:4000], x[4000:], y[4000:], num_classes=2)


class TwoLayerMLP(nn.Module):
    def __init__(self, features: int, width: int, outputs: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(features, width)
        self.output = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(torch.relu(self.hidden(x.flatten(1))))


def two_layer_mlp(recipe: pf.Recipe, input_shape, outputs: int) -> nn.Module:
    return TwoLayerMLP(input_shape[-1], recipe.width, outputs)


pf.families.register(pf.Family(
    "mlp-my-data",
    pf.Recipe(dataset="my-data", arch="two-layer-mlp-v1", depth=1, width=64, lr=0.1, batch_size=32),
    model=two_layer_mlp,
    dataset=my_dataset(),
    budgets={
        "smoke": Budget("smoke", seeds=(0, 1, 2, 3), sizes=(100, 200, 400)),
        "quick": Budget("quick", seeds=tuple(range(8)), count=6, low=100, high=4000),
    },
    description="your own data and model: a two-layer MLP on a 20-feature binary problem",
), replace=True)
