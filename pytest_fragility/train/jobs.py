"""Training jobs, their results, and the seeded choices every trainer must share.

Both trainers (batched and per-model) draw the initial weights, the training subset,
the label noise and the minibatch order from the generators defined here, which is
what makes "same recipe, m and seed → same weights" hold between them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from pytest_fragility.families.datasets import TaskView
from pytest_fragility.families.family import Initializer, ModelFactory
from pytest_fragility.families.recipe import Recipe

TRAINER_VERSION = 1  # bump when a change to training changes the weights it produces


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from parts, stable across processes and Python versions."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generator(*parts: object) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(*parts))


@dataclass(frozen=True)
class TrainingJob:
    """One network to train: a recipe, a training-set size, a seed, and the fingerprint of
    the dataset's content (`Dataset.fingerprint`), so that changed data is new work."""

    recipe: Recipe
    m: int
    seed: int
    data: str = ""

    def key(self) -> str:
        """Content address in the model cache."""
        text = f"{self.recipe.key()}|data={self.data}|m={self.m}|seed={self.seed}|trainer={TRAINER_VERSION}"
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class MemberData:
    """What one network trains on: pool indices of its subset and its (possibly noisy) labels."""

    indices: torch.Tensor
    labels: torch.Tensor


def member_data(job: TrainingJob, view: TaskView) -> MemberData:
    """The first m points of a per-seed permutation (nested across m), then label noise.

    The subset depends on the seed only, so variants of one seed are coupled: they
    see the same examples. Label noise replaces round(p·m) labels of the subset,
    chosen by seed and m, with uniform random labels (which may equal the true one).
    """
    pool = len(view.x_train)
    if not 1 <= job.m <= pool:
        raise ValueError(f"m={job.m} is outside 1..{pool}, the training pool of {view.dataset.name}")
    order = torch.randperm(pool, generator=generator(job.seed, "subset"))
    indices = order[: job.m]
    labels = view.y_train[indices].clone()
    noisy = round(job.recipe.label_noise * job.m)
    if noisy:
        g = generator(job.seed, job.m, job.recipe.label_noise, "label-noise")
        positions = torch.randperm(job.m, generator=g)[:noisy]
        labels[positions] = torch.randint(view.num_classes, (noisy,), generator=g)
    return MemberData(indices, labels)


def initial_state(job: TrainingJob, factory: ModelFactory, input_shape: Sequence[int],
                  outputs: int, init: Initializer) -> dict[str, torch.Tensor]:
    """Initial weights drawn from the seed alone (shared by all variants and sizes)."""
    model = factory(job.recipe, input_shape, outputs)
    init(model, generator(job.seed, "init"), job.recipe)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def batch_order(job: TrainingJob) -> torch.Generator:
    """The generator of minibatch permutations, one randperm(m) per epoch."""
    return generator(job.seed, job.m, "batches")


@dataclass(eq=False)
class TrainedNetwork:
    """What a trainer returns for one job: weights before and after, and the training record."""

    job: TrainingJob
    init_state: dict[str, torch.Tensor]
    final_state: dict[str, torch.Tensor]
    train_error: float
    test_error: float
    train_loss: float
    epochs: int
    fitted_epoch: int | None
    converged: bool
    train_seconds: float
    device: str
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """Plain-JSON metadata stored beside the weights."""
        return {
            "recipe": self.job.recipe.as_dict(),
            "m": self.job.m,
            "seed": self.job.seed,
            "data": self.job.data,
            "trainer_version": TRAINER_VERSION,
            "train_error": self.train_error,
            "test_error": self.test_error,
            "train_loss": self.train_loss,
            "epochs": self.epochs,
            "fitted_epoch": self.fitted_epoch,
            "converged": self.converged,
            "train_seconds": self.train_seconds,
            "device": self.device,
            **self.extra,
        }
