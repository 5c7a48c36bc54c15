"""Perturbations: small training changes that should leave generalization nearly unchanged.

    pf.perturb.lr(0.5)                 learning rate × 0.5           "lr×0.5"
    pf.perturb.optimizer("adam")       SGD → Adam (lr 1e-3)          "optimizer=adam"
    pf.perturb.momentum(0.5)           SGD-momentum 0.5, same step   "momentum=0.5"
    pf.perturb.batch_size(32)          minibatch of 32               "batch=32"
    pf.perturb.width(512)              hidden width 512              "width=512"
    pf.perturb.init_scale(2.0)         He-normal std × 2             "init×2"
    pf.perturb.weight_decay(5e-4)      L2 weight decay               "wd=0.0005"
    pf.perturb.train_after_fit(20)     20 more epochs after 100%     "train-after-fit=20"
"""

from __future__ import annotations

from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.names import OPTIMIZERS
from pytest_fragility.spec.variants import Variant, require_count, require_non_negative, require_positive

__all__ = ["lr", "optimizer", "momentum", "batch_size", "width", "init_scale", "weight_decay", "train_after_fit"]


def _number(value: float) -> str:
    return f"{value:g}"


def lr(factor: float) -> Variant:
    """Multiply the learning rate by `factor`."""
    return Variant(f"lr×{_number(require_positive('lr factor', factor))}", "perturbation", lr_factor=factor)


def optimizer(name: str, lr: float | None = None) -> Variant:
    """Switch optimizer. SGD-momentum/Nesterov use momentum 0.9 at the base lr × 0.1 (the
    same effective step); Adam, AdamW and RMSprop default to lr 1e-3."""
    if name not in OPTIMIZERS:
        raise unknown("optimizer", name, OPTIMIZERS)
    changes = () if lr is None else (("lr", require_positive("lr", lr)),)
    label = f"optimizer={name}" + ("" if lr is None else f"@{_number(lr)}")
    return Variant(label, "perturbation", changes=changes, optimizer=name)


def momentum(value: float) -> Variant:
    """SGD with momentum `value` at the learning rate × (1 − value): the same effective step
    as plain SGD (the convention of `optimizer("sgd-momentum")`, which is momentum 0.9), so
    the change is the momentum alone, not a larger step."""
    if not _below_one(value):
        raise ConfigurationError(f"momentum must be a number in (0, 1), got {value!r}")
    return Variant(f"momentum={_number(value)}", "perturbation",
                   (("optimizer", "sgd-momentum"), ("momentum", float(value))), lr_factor=1 - float(value))


def _below_one(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1


def batch_size(size: int) -> Variant:
    return Variant(f"batch={require_count('batch size', size)}", "perturbation", (("batch_size", size),))


def width(value: int) -> Variant:
    return Variant(f"width={require_count('width', value)}", "perturbation", (("width", value),))


def init_scale(scale: float) -> Variant:
    """Multiply the He-normal initialization std by `scale`."""
    return Variant(f"init×{_number(require_positive('init scale', scale))}", "perturbation",
                   (("init_scale", scale),))


def weight_decay(value: float) -> Variant:
    return Variant(f"wd={_number(require_non_negative('weight decay', value))}", "perturbation",
                   (("weight_decay", value),))


def train_after_fit(epochs: int) -> Variant:
    """Keep training `epochs` epochs after the stopping rule is met."""
    return Variant(f"train-after-fit={require_count('train_after_fit epochs', epochs)}", "perturbation",
                   (("epochs_after_fit", epochs),))
