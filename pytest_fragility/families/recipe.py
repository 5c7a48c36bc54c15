"""`Recipe`: everything that defines how one network is trained, frozen and hashable.

The cache key of a trained network is derived from its recipe, so the hash must be
stable across processes, machines and Python versions: it is a SHA-256 of a canonical
JSON rendering (sorted keys, floats by `repr`), never Python's randomized `hash()`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.names import OPTIMIZERS

LOSSES = ("bce", "ce")
TASKS = ("binary", "multiclass")
STOPS = ("train-accuracy", "train-loss")
DTYPES = ("float32", "float64")
INITS = ("he-normal",)


@dataclass(frozen=True)
class Recipe:
    """How to train one network, apart from its training-set size m and seed.

    Defaults follow the reference pipeline: binary task (class ≥ 5), one logit and
    BCE, a 2-hidden-layer ReLU net with He-normal weights and N(0, 0.1²) biases,
    trained until 100% training accuracy with a cap on epochs.
    """

    dataset: str = "mnist5k"
    task: str = "binary"
    label_noise: float = 0.0
    pixel_shuffle: bool = False
    arch: str = "fcn"
    depth: int = 2
    width: int = 256
    init: str = "he-normal"
    init_scale: float = 1.0
    bias_std: float = 0.1
    loss: str = "bce"
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.0
    batch_size: int = 128
    weight_decay: float = 0.0
    stop: str = "train-accuracy"
    stop_threshold: float = 1.0
    max_epochs: int = 300
    epochs_after_fit: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for field, valid in (("task", TASKS), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
                             ("stop", STOPS), ("dtype", DTYPES), ("init", INITS)):
            if getattr(self, field) not in valid:
                raise unknown(f"recipe {field}", getattr(self, field), valid)
        expected_loss = "bce" if self.task == "binary" else "ce"
        if self.loss != expected_loss:
            raise ConfigurationError(
                f"recipe: task {self.task!r} is trained with loss {expected_loss!r}, got {self.loss!r}"
            )
        checks = {
            "label_noise must be in [0, 1]": 0.0 <= self.label_noise <= 1.0,
            "depth must be >= 1": self.depth >= 1,
            "width must be >= 1": self.width >= 1,
            "lr must be > 0": self.lr > 0,
            "batch_size must be >= 1": self.batch_size >= 1,
            "max_epochs must be >= 1": self.max_epochs >= 1,
            "epochs_after_fit must be >= 0": self.epochs_after_fit >= 0,
            "weight_decay must be >= 0": self.weight_decay >= 0,
            "momentum must be in [0, 1)": 0.0 <= self.momentum < 1.0,
            "init_scale must be > 0": self.init_scale > 0,
            "bias_std must be >= 0": self.bias_std >= 0,
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ConfigurationError("recipe: " + "; ".join(failed))
        if self.optimizer in ("sgd-momentum", "nesterov") and self.momentum == 0.0:
            raise ConfigurationError(
                f"recipe: optimizer {self.optimizer!r} needs momentum > 0 "
                "(use Recipe.with_optimizer to get the standard 0.9)"
            )

    # -- identity ----------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def canonical_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), default=repr)

    def key(self) -> str:
        """SHA-256 of the canonical JSON: the recipe's identity in the cache."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    # -- derived recipes -----------------------------------------------------------
    def replace(self, **changes: Any) -> "Recipe":
        unknown_fields = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown_fields:
            raise unknown("recipe field", sorted(unknown_fields)[0],
                          [f.name for f in dataclasses.fields(self)])
        return dataclasses.replace(self, **changes)

    def with_optimizer(self, name: str, lr: float | None = None) -> "Recipe":
        """Switch optimizer the way the reference protocol compares them.

        SGD-momentum and Nesterov use momentum 0.9 at lr·(1 − 0.9) unless `lr` is
        given (the same effective step as plain SGD); Adam-family optimizers and
        RMSprop default to lr 1e-3; AdamW gets weight decay 0.01 when none is set.
        """
        if name not in OPTIMIZERS:
            raise unknown("optimizer", name, OPTIMIZERS)
        changes: dict[str, Any] = {"optimizer": name, "momentum": 0.0}
        if name in ("sgd-momentum", "nesterov"):
            changes["momentum"] = 0.9
            changes["lr"] = lr if lr is not None else self.lr * (1 - 0.9)
        elif name in ("adam", "adamw", "rmsprop"):
            changes["lr"] = lr if lr is not None else 1e-3
        elif lr is not None:
            changes["lr"] = lr
        if name == "adamw" and self.weight_decay == 0.0:
            changes["weight_decay"] = 0.01
        return self.replace(**changes)

    def ensemble_key(self) -> tuple[Any, ...]:
        """What members of one batched ensemble must share: everything but the fields the
        batched trainer handles per member (step sizes, noise, init, stopping rule)."""
        per_member = {"lr", "momentum", "weight_decay", "label_noise", "init_scale", "bias_std",
                      "stop", "stop_threshold", "epochs_after_fit"}
        return tuple((k, v) for k, v in sorted(self.as_dict().items()) if k not in per_member)

    def describe(self) -> str:
        """A one-line human summary for reports."""
        text = (f"{self.arch} depth {self.depth} width {self.width}, {self.optimizer} lr {self.lr:g}, "
                f"batch {self.batch_size}, {self.dataset} ({self.task})")
        if self.label_noise:
            text += f", label noise {self.label_noise:g}"
        return text
