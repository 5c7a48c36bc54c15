"""Optimizers over stacked parameters: one update for E networks, each with its own lr.

The update rules are those of `torch.optim` (SGD with momentum/Nesterov, Adam,
AdamW, RMSprop with their default betas/alpha/eps) so the batched trainer matches
the per-model reference trainer, which uses `torch.optim` itself.
"""

from __future__ import annotations

from typing import Sequence

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8
RMS_ALPHA = 0.99


def reference_optimizer(name: str, params: Sequence[torch.nn.Parameter], lr: float,
                        momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """The `torch.optim` optimizer a recipe names (used by the per-model trainer)."""
    if name in ("sgd", "sgd-momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=BETAS, eps=EPS, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=BETAS, eps=EPS, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=RMS_ALPHA, eps=EPS, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


class BatchedOptimizer:
    """Applies one optimizer to stacked tensors (E, ...) with per-member hyperparameters."""

    def __init__(self, name: str, params: list[torch.Tensor], lr: torch.Tensor,
                 momentum: torch.Tensor, weight_decay: torch.Tensor) -> None:
        self.name = name
        self.params = params
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.step_count = 0
        self.state: dict[str, list[torch.Tensor]] = {}

    def _per_member(self, values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.view(-1, *([1] * (like.dim() - 1)))

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        self.step_count += 1
        update = {"sgd": self._sgd, "sgd-momentum": self._sgd, "nesterov": self._sgd,
                  "adam": self._adam, "adamw": self._adam, "rmsprop": self._rmsprop}[self.name]
        for i, (param, grad) in enumerate(zip(self.params, grads)):
            update(i, param, grad)

    def _sgd(self, i: int, param: torch.Tensor, grad: torch.Tensor) -> None:
        lr, mu, wd = (self._per_member(v, param) for v in (self.lr, self.momentum, self.weight_decay))
        grad = grad + wd * param
        if self.name != "sgd":
            buffers = self.state.setdefault("momentum", [None] * len(self.params))  # type: ignore[list-item]
            if buffers[i] is None:
                buffers[i] = grad.clone()
            else:
                buffers[i].mul_(mu).add_(grad)
            grad = grad + mu * buffers[i] if self.name == "nesterov" else buffers[i]
        param.sub_(lr * grad)

    def _adam(self, i: int, param: torch.Tensor, grad: torch.Tensor) -> None:
        lr, wd = self._per_member(self.lr, param), self._per_member(self.weight_decay, param)
        if self.name == "adamw":
            param.mul_(1 - lr * wd)
        else:
            grad = grad + wd * param
        exp_avg = self._buffer("exp_avg", i, param)
        exp_avg_sq = self._buffer("exp_avg_sq", i, param)
        beta1, beta2 = BETAS
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1 = 1 - beta1 ** self.step_count
        bias2_sqrt = (1 - beta2 ** self.step_count) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(EPS)
        param.sub_((lr / bias1) * exp_avg / denom)

    def _rmsprop(self, i: int, param: torch.Tensor, grad: torch.Tensor) -> None:
        lr, wd = self._per_member(self.lr, param), self._per_member(self.weight_decay, param)
        grad = grad + wd * param
        square_avg = self._buffer("square_avg", i, param)
        square_avg.mul_(RMS_ALPHA).addcmul_(grad, grad, value=1 - RMS_ALPHA)
        param.sub_(lr * grad / square_avg.sqrt().add_(EPS))

    def _buffer(self, name: str, i: int, like: torch.Tensor) -> torch.Tensor:
        buffers = self.state.setdefault(name, [torch.zeros_like(p) for p in self.params])
        return buffers[i]

    def keep(self, members: torch.Tensor) -> None:
        """Drop finished members: keep rows `members` of every parameter and state tensor."""
        self.params = [p.detach().index_select(0, members).requires_grad_() for p in self.params]
        self.lr, self.momentum, self.weight_decay = (
            v.index_select(0, members) for v in (self.lr, self.momentum, self.weight_decay))
        for name, buffers in self.state.items():
            self.state[name] = [None if b is None else b.index_select(0, members) for b in buffers]
