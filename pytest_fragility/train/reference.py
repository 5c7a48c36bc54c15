"""The per-model reference trainer: the same algorithm as the batched one, one network
at a time, with a plain `nn.Module` and `torch.optim`.

It is the baseline of the training benchmark, the oracle of the batched trainer's
tests, and the fallback for models that `torch.func.vmap` cannot batch.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from pytest_fragility.families.datasets import TaskView
from pytest_fragility.families.family import Initializer, ModelFactory
from pytest_fragility.families.models import output_units
from pytest_fragility.train.jobs import (
    TrainedNetwork,
    TrainingJob,
    batch_order,
    initial_state,
    member_data,
)
from pytest_fragility.train.loop import correct, is_fit, loss_per_example
from pytest_fragility.train.optimizers import reference_optimizer


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, binary: bool) -> tuple[float, float]:
    with torch.no_grad():
        out = model(x)
        return (correct(out, y, binary).double().mean().item(),
                loss_per_example(out, y, binary).double().mean().item())


def train_reference(job: TrainingJob, view: TaskView, factory: ModelFactory,
                    init: Initializer,
                    device: torch.device) -> TrainedNetwork:
    recipe = job.recipe
    dtype = getattr(torch, recipe.dtype)
    binary = view.num_classes == 2
    outputs = output_units(view.num_classes)
    init_state = initial_state(job, factory, view.input_shape, outputs, init)
    model = factory(recipe, view.input_shape, outputs)
    model.load_state_dict(init_state)
    model.to(device=device, dtype=dtype)
    data = member_data(job, view)
    x = view.x_train[data.indices].to(device=device, dtype=dtype)
    y = data.labels.to(device)
    optimizer = reference_optimizer(recipe.optimizer, list(model.parameters()), recipe.lr,
                                    recipe.momentum, recipe.weight_decay)
    order = batch_order(job)
    started = time.perf_counter()
    fitted_at = None
    epoch = 0
    accuracy, loss = _evaluate(model, x, y, binary)
    while True:
        if fitted_at is None and is_fit(recipe, accuracy, loss):
            fitted_at = epoch
        if (fitted_at is not None and epoch - fitted_at >= recipe.epochs_after_fit) \
                or epoch >= recipe.max_epochs:
            break
        epoch += 1
        perm = torch.randperm(job.m, generator=order).to(device)
        for start in range(0, job.m, recipe.batch_size):
            batch = perm[start:start + recipe.batch_size]
            batch_loss = loss_per_example(model(x[batch]), y[batch], binary).mean()
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
        accuracy, loss = _evaluate(model, x, y, binary)
    test_accuracy, _ = _evaluate(model, view.x_test.to(device=device, dtype=dtype),
                                 view.y_test.to(device), binary)
    return TrainedNetwork(
        job=job,
        init_state=init_state,
        final_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
        train_error=1.0 - accuracy,
        test_error=1.0 - test_accuracy,
        train_loss=loss,
        epochs=epoch,
        fitted_epoch=fitted_at,
        converged=fitted_at is not None,
        train_seconds=time.perf_counter() - started,
        device=str(device),
        extra={"ensemble_size": 1},
    )
