"""Network outputs on a run's data: logits, signed margins and accuracy.

A model with one output is a binary classifier (logit > 0 predicts class 1);
a model with K > 1 outputs is a K-class classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from pytest_fragility.errors import MeasureInputError, NegativeMarginError
from pytest_fragility.runs.run import Run

EVAL_BATCH = 8192


def _device_of(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def check_inputs(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, what: str) -> None:
    """Empty data and mismatched devices give errors that say what to change."""
    if len(x) == 0:
        raise MeasureInputError(f"{what} is empty: a measure needs at least one example")
    if y is not None and len(y) != len(x):
        raise MeasureInputError(f"{what}: {len(x)} inputs but {len(y)} labels")
    device = _device_of(model)
    if x.device != device:
        raise MeasureInputError(
            f"the model is on {device} but {what} is on {x.device}; "
            "move both to one device (run.model.to(...), x.to(...))"
        )


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Outputs of `model` in eval mode, in chunks: (N,) for binary, (N, K) otherwise."""
    was_training = model.training
    model.eval()
    try:
        out = torch.cat([model(chunk) for chunk in x.split(EVAL_BATCH)])
    finally:
        model.train(was_training)
    return out.reshape(len(x)) if out[0].numel() == 1 else out.reshape(len(x), -1)


def signed_margins(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example margin, negative when misclassified.

    Binary: (2y − 1)·f(x). K classes: correct logit minus the largest other logit.
    """
    y = y.to(out.device).long()
    if out.dim() == 1:
        return (2 * y - 1).to(out.dtype) * out
    correct = out.gather(1, y[:, None]).squeeze(1)
    others = out.scatter(1, y[:, None], float("-inf"))
    return correct - others.max(dim=1).values


def predictions(out: torch.Tensor) -> torch.Tensor:
    return (out > 0).long() if out.dim() == 1 else out.argmax(dim=1)


def accuracy(out: torch.Tensor, y: torch.Tensor) -> float:
    return (predictions(out) == y.to(out.device).long()).double().mean().item()


def margin(run: Run, quantile: float = 0.1) -> float:
    """γ: the k-th smallest training margin with k = max(1, ⌊quantile·m⌋), signed.

    A non-positive γ is returned as is (never abs-ed); callers that divide by it
    use `positive_margin`.
    """
    x, y = run.x_train, run.y_train
    check_inputs(run.model, x, y, "x_train")
    values = signed_margins(logits(run.model, x), y)
    k = max(1, int(quantile * len(values)))
    return values.kthvalue(k).values.item()


def positive_margin(run: Run, measure: str) -> float:
    """γ for margin-normalized measures; a non-positive γ is an error, not a value."""
    gamma = margin(run)
    if not gamma > 0:
        raise NegativeMarginError(
            f"{measure}: the 10th-percentile training margin of run {run.describe()} is "
            f"{gamma:.4g} (more than 10% of training points misclassified or on the boundary), "
            "so a measure divided by the margin is undefined"
        )
    return gamma
