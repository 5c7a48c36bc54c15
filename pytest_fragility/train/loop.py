"""What one epoch means, shared by both trainers: loss, evaluation and the stopping rule."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pytest_fragility.families.recipe import Recipe


def loss_per_example(out: torch.Tensor, y: torch.Tensor, binary: bool) -> torch.Tensor:
    """BCE on the single logit (binary) or cross-entropy (K classes), per example.

    `out` is (..., B, 1) or (..., B, K); `y` is (..., B) class indices.
    """
    if binary:
        return F.binary_cross_entropy_with_logits(out.squeeze(-1), y.to(out.dtype), reduction="none")
    return F.cross_entropy(out.flatten(0, -2), y.flatten(), reduction="none").view(y.shape)


def correct(out: torch.Tensor, y: torch.Tensor, binary: bool) -> torch.Tensor:
    predicted = (out.squeeze(-1) > 0).long() if binary else out.argmax(-1)
    return predicted == y


def is_fit(recipe: Recipe, train_accuracy: float, train_loss: float) -> bool:
    """The stopping rule: 100% training accuracy (default) or training loss below a threshold."""
    if recipe.stop == "train-accuracy":
        return train_accuracy >= recipe.stop_threshold
    return train_loss < recipe.stop_threshold
