"""A measure developer's repo in miniature: a family built on your own data and model.

The family is declared by name through the `pytest_fragility_families` hook and built on
first use: collecting the tests imports neither torch nor scikit-learn, so a plain
`pytest` run (fragility tests skipped) stays fast. The data stands in for yours: 6,000
points of a 20-feature binary problem made by scikit-learn (2,000 held out, so test error
is measured precisely); the model is a small two-layer MLP.
"""

import pytest_fragility as pf


def my_dataset():
    import torch
    from sklearn.datasets import make_classification

    from pytest_fragility.families import Dataset

    x, y = make_classification(n_samples=6000, n_features=20, n_informative=8, class_sep=0.8,
                               flip_y=0.0, random_state=0)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    return Dataset("my-data", x[:4000], y[:4000], x[4000:], y[4000:], num_classes=2)


def two_layer_mlp(recipe, input_shape, outputs):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[-1], recipe.width), nn.ReLU(),
                         nn.Linear(recipe.width, outputs))


def my_family():
    from pytest_fragility.families import Budget

    return pf.Family(
        "mlp-my-data",
        pf.Recipe(dataset="my-data", arch="two-layer-mlp-v2", depth=1, width=64, lr=0.1, batch_size=32),
        model=two_layer_mlp,
        dataset=my_dataset(),
        budgets={
            "smoke": Budget("smoke", seeds=(0, 1, 2, 3), sizes=(100, 200, 400)),
            "quick": Budget("quick", seeds=tuple(range(8)), count=6, low=100, high=4000),
        },
        description="your own data and model: a two-layer MLP on a 20-feature binary problem",
    )


def pytest_fragility_families(config):
    return {"mlp-my-data": my_family}  # a name and how to build it: built when a test needs it
