"""The batched ensemble trainer: E networks of one architecture trained as one.

All members share an architecture, m, optimizer kind and batch size; each has its
own initial weights, training subset, labels, learning rate and minibatch order.
Parameters are stacked along a leading member axis and updated together; a member
that meets the stopping rule is frozen (its weights saved) and dropped from the
stack, so finished networks cost nothing.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from pytest_fragility.families.datasets import TaskView
from pytest_fragility.families.family import Initializer, ModelFactory
from pytest_fragility.families.models import FCN, output_units
from pytest_fragility.train.jobs import (
    MemberData,
    TrainedNetwork,
    TrainingJob,
    batch_order,
    initial_state,
    member_data,
)
from pytest_fragility.train.loop import correct, is_fit, loss_per_example
from pytest_fragility.train.optimizers import BatchedOptimizer

EVAL_ELEMENTS = 1 << 26  # bound on E × chunk × features per evaluation chunk

Forward = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


def ensemble_forward(template: nn.Module) -> Forward:
    """(params (E, ...), x (E, B, ...)) → (E, B, out): batched matmuls for the FCN,
    `torch.func.vmap` over `functional_call` for any other architecture."""
    if type(template) is FCN:
        return FCN.batched_forward
    return vmap(lambda params, x: functional_call(template, params, (x,)))


def _evaluate(forward: Forward, params: dict[str, torch.Tensor], x: torch.Tensor,
              y: torch.Tensor, binary: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Accuracy and mean loss per member on (E, N, ...) inputs, in chunks of N."""
    members, n = x.shape[0], x.shape[1]
    features = max(1, x[0, 0].numel())
    chunk = max(1, EVAL_ELEMENTS // (members * features))
    hits = torch.zeros(members, device=x.device, dtype=torch.float64)
    loss = torch.zeros(members, device=x.device, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, n, chunk):
            out = forward(params, x[:, start:start + chunk])
            target = y[:, start:start + chunk]
            hits += correct(out, target, binary).sum(1)
            loss += loss_per_example(out, target, binary).sum(1).double()
    return hits / n, loss / n


def train_batched(jobs: Sequence[TrainingJob], view: TaskView, factory: ModelFactory,
                  init: Initializer, device: torch.device,
                  on_done: Callable[[TrainedNetwork], None] | None = None) -> list[TrainedNetwork]:
    """Train `jobs` (same ensemble key and m) as one ensemble; results in job order."""
    recipe, m = jobs[0].recipe, jobs[0].m
    if any(j.recipe.ensemble_key() != recipe.ensemble_key() or j.m != m for j in jobs):
        raise ValueError("an ensemble's jobs must share the architecture, optimizer, batch size and m")
    dtype = getattr(torch, recipe.dtype)
    binary = view.num_classes == 2
    outputs = output_units(view.num_classes)
    template = factory(recipe, view.input_shape, outputs).to(device=device, dtype=dtype)
    forward = ensemble_forward(template)

    inits = [initial_state(job, factory, view.input_shape, outputs, init) for job in jobs]
    names = list(inits[0])
    params = [torch.stack([s[k] for s in inits]).to(device=device, dtype=dtype).requires_grad_()
              for k in names]
    data: list[MemberData] = [member_data(job, view) for job in jobs]
    pool_x = view.x_train.to(device=device, dtype=dtype)
    test_x = view.x_test.to(device=device, dtype=dtype)
    test_y = view.y_test.to(device)
    indices = torch.stack([d.indices for d in data]).to(device)
    labels = torch.stack([d.labels for d in data]).to(device)
    orders = [batch_order(job) for job in jobs]
    per_member = {name: torch.tensor([getattr(j.recipe, name) for j in jobs], device=device, dtype=dtype)
                  for name in ("lr", "momentum", "weight_decay")}
    optimizer = BatchedOptimizer(recipe.optimizer, params, **per_member)

    active = list(range(len(jobs)))  # job index of each row of the stack
    fitted_at: list[int | None] = [None] * len(jobs)
    seconds = [0.0] * len(jobs)
    results: dict[int, TrainedNetwork] = {}

    def stacked() -> dict[str, torch.Tensor]:
        return dict(zip(names, optimizer.params))

    def check(epoch: int) -> None:
        """Evaluate active members, freeze those that are done, shrink the stack."""
        rows = torch.tensor(active, device=device)
        x = pool_x[indices.index_select(0, rows)]
        accuracy, loss = _evaluate(forward, stacked(), x, labels.index_select(0, rows), binary)
        finished = []
        for row, job_index in enumerate(active):
            recipe_j = jobs[job_index].recipe
            if fitted_at[job_index] is None and is_fit(recipe_j, accuracy[row].item(), loss[row].item()):
                fitted_at[job_index] = epoch
            done_fitting = fitted_at[job_index] is not None and \
                epoch - fitted_at[job_index] >= recipe_j.epochs_after_fit
            if done_fitting or epoch >= recipe.max_epochs:
                finished.append(row)
        if not finished:
            return
        rows_done = torch.tensor(finished, device=device)
        final = {k: v.detach().index_select(0, rows_done) for k, v in stacked().items()}
        test_acc, _ = _evaluate(forward, final, test_x.expand(len(finished), *test_x.shape),
                                test_y.expand(len(finished), -1), binary)
        for i, row in enumerate(finished):
            job_index = active[row]
            results[job_index] = TrainedNetwork(
                job=jobs[job_index],
                init_state=inits[job_index],
                final_state={k: v[i].cpu() for k, v in final.items()},
                train_error=1.0 - accuracy[row].item(),
                test_error=1.0 - test_acc[i].item(),
                train_loss=loss[row].item(),
                epochs=epoch,
                fitted_epoch=fitted_at[job_index],
                converged=fitted_at[job_index] is not None,
                train_seconds=seconds[job_index],
                device=str(device),
                extra={"ensemble_size": len(jobs)},
            )
            if on_done is not None:
                on_done(results[job_index])
        keep = [row for row in range(len(active)) if row not in set(finished)]
        active[:] = [active[row] for row in keep]
        if active:
            optimizer.keep(torch.tensor(keep, device=device))

    check(0)
    batch = recipe.batch_size
    for epoch in range(1, recipe.max_epochs + 1):
        if not active:
            break
        started = time.perf_counter()
        perms = torch.stack([torch.randperm(m, generator=orders[j]) for j in active]).to(device)
        rows = torch.tensor(active, device=device)
        order = indices.index_select(0, rows).gather(1, perms)
        order_labels = labels.index_select(0, rows).gather(1, perms)
        for start in range(0, m, batch):
            x = pool_x[order[:, start:start + batch]]
            y = order_labels[:, start:start + batch]
            out = forward(stacked(), x)
            loss = loss_per_example(out, y, binary).mean(1).sum()
            grads = torch.autograd.grad(loss, optimizer.params)
            optimizer.step(grads)
        members = list(active)
        check(epoch)
        share = (time.perf_counter() - started) / len(members)
        for j in members:
            seconds[j] += share
            if j in results:
                results[j].train_seconds = seconds[j]
    return [results[i] for i in range(len(jobs))]
