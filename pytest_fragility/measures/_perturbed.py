"""A model evaluated under many weight perturbations at once, and the search around it.

The flatness measures (PAC-Bayes σ, worst-case sharpness α) ask one question many
times: how accurate is the network with weights w + u_k on the training set, for K
perturbations u_k? Deep-copying the model K times and looping is what the reference
code does. Here the parameters are one flat vector, the K perturbed vectors are a
(K, P) matrix, and the model is called once per chunk of examples with
``torch.func.functional_call`` under ``torch.func.vmap``, for any architecture.

The searches use *common random numbers*: the noise directions (or random starts)
are drawn once from a seeded generator and only rescaled as the search moves, so the
accuracy drop is a deterministic function of the scale and the crossing can be
located to a tight tolerance instead of stopping at the first noisy hit.

The perturbed parameter set is every parameter of the model (weights, biases and any
normalization affine parameters), as in Dziugaite et al.'s code; the norms in the
PAC-Bayes and sharpness formulas use the same set so the two agree.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from pytest_fragility.errors import ConfigurationError, MeasureInputError
from pytest_fragility.measures._layers import check_finite, parameter_vector
from pytest_fragility.measures._outputs import check_inputs, predictions
from pytest_fragility.runs.run import Run

# (perturbation, example) pairs per vmapped call: bounds activation memory to about
# EVAL_ROWS × (widest layer) numbers whatever K and the training-set size are. On a CPU,
# activations that stay in cache matter more than fewer calls: 4096 pairs ran an
# FCN 784→256→256→1 about 1.4× faster than 16384.
EVAL_ROWS = 4096

# ε of the magnitude-aware perturbations (Jiang et al. 2020, Appendix C.4).
MAG_EPSILON = 1e-3

# Default cap on the training points a search evaluates. The standard error of an
# accuracy near 0.9 measured on n points is √(0.09/n) ≈ 0.0094 at n = 1024, just below
# the 0.01 accuracy tolerance of Jiang et al. and Dziugaite et al.; common random numbers
# (the same points and directions at every step) keep the search itself deterministic,
# and the cost of a search stays fixed as m grows.
MAX_EXAMPLES = 1024


class FlatModel:
    """A network as a function of one flat vector holding all its parameters.

    ``accuracies`` and ``loss_gradients`` take a (K, P) matrix of parameter vectors
    and evaluate all K networks in one vmapped call per chunk of examples, in eval
    mode (dropout off, normalization from running statistics). Buffers are shared.
    """

    def __init__(self, model: nn.Module) -> None:
        check_finite(model)
        named = list(model.named_parameters())
        if not named:
            raise MeasureInputError(f"{type(model).__name__} has no parameters to perturb")
        self.model = model
        self.names = [name for name, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.vector = torch.cat([p.detach().reshape(-1) for _, p in named])
        self.buffers = dict(model.named_buffers())

    @property
    def size(self) -> int:
        """P, the number of parameters (the ω of the PAC-Bayes formulas)."""
        return self.vector.numel()

    def accuracies(self, vectors: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training accuracy of each of the K parameter vectors, shape (K,), float64."""
        with torch.no_grad():
            correct = [
                (self._predictions(vectors, xb) == yb).sum(dim=1, dtype=torch.float64)
                for xb, yb in self._chunks(x, y, len(vectors))
            ]
        return torch.stack(correct).sum(dim=0) / len(x)

    def loss_gradients(
        self, vectors: torch.Tensor, x: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """Gradient of the mean training loss at each of the K vectors, shape (K, P).

        The loss is the one the network was trained with: binary cross-entropy on the
        logit for one output, cross-entropy for K outputs.
        """
        per_vector = vmap(grad(self._summed_loss), in_dims=(0, None, None))
        total = torch.zeros_like(vectors)
        with _eval_mode(self.model):
            for xb, yb in self._chunks(x, y, len(vectors)):
                total += per_vector(vectors, xb, yb)
        return total / len(x)

    # -- internals ---------------------------------------------------------------
    def _chunks(
        self, x: torch.Tensor, y: torch.Tensor, k: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rows = max(1, EVAL_ROWS // k)
        return zip(x.split(rows), y.split(rows))

    def _parameters(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        pieces = vector.split(self.sizes)
        params = {n: p.reshape(s) for n, p, s in zip(self.names, pieces, self.shapes)}
        return {**params, **self.buffers}

    def _outputs(self, vector: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, self._parameters(vector), (x,)).reshape(len(x), -1)

    def _predictions(self, vectors: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        with _eval_mode(self.model):
            out = vmap(self._outputs, in_dims=(0, None))(vectors, x)  # (K, n, C)
        k, n, c = out.shape
        flat = out.reshape(k * n) if c == 1 else out.reshape(k * n, c)
        return predictions(flat).reshape(k, n)

    def _summed_loss(self, vector: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self._outputs(vector, x)
        if out.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(out[:, 0], y.to(out.dtype), reduction="sum")
        return F.cross_entropy(out, y, reduction="sum")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode for a block (dropout off, running statistics); the previous mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


# -- inputs of a search ---------------------------------------------------------------
def training_sample(
    run: Run, max_examples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set, or a seeded subsample of `max_examples` points when larger."""
    x, y = run.x_train, run.y_train
    check_inputs(run.model, x, y, "x_train")
    if len(x) > max_examples:
        keep = torch.randperm(len(x), generator=generator)[:max_examples].sort().values
        keep = keep.to(x.device)
        x, y = x[keep], y[keep]
    return x, y.to(x.device).long()


def parameters_of(run: Run) -> torch.Tensor:
    """Every parameter of the trained model, flat, in float64: the w of the bounds."""
    check_finite(run.model)
    return parameter_vector(run.model).double()


def distance_from_init(run: Run, measure: str) -> torch.Tensor:
    """w − w⁰ over every parameter, in float64; a clear error when the init is missing."""
    if run.init_model is None:
        raise MeasureInputError(
            f"{measure} needs the initial weights but run {run.describe()} has none; "
            "pass init_model= (a copy of the network before training) to pf.Run"
        )
    check_finite(run.init_model, "init_model")
    shapes = [tuple(p.shape) for p in run.model.parameters()]
    init_shapes = [tuple(p.shape) for p in run.init_model.parameters()]
    if shapes != init_shapes:
        raise MeasureInputError(
            f"{measure}: init_model's parameters {init_shapes} do not match the model's {shapes}"
        )
    w = parameters_of(run)
    return w - parameter_vector(run.init_model).to(device=w.device, dtype=w.dtype)


def search_seed(run: Run, seed: int | None) -> int:
    """The seed a search uses: the `seed` option, or the run's own seed."""
    return run.seed if seed is None else seed


def check_search_options(
    *, max_examples: int, target_drop: float, rtol: float, **counts: int
) -> None:
    """Reject options no search can run with, naming the option."""
    for name, value in {"max_examples": max_examples, **counts}.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    if not 0 < target_drop < 1:
        raise ConfigurationError(f"target_drop must be in (0, 1), got {target_drop!r}")
    if not 0 < rtol < 1:
        raise ConfigurationError(f"rtol must be in (0, 1), got {rtol!r}")


def check_reachable(clean_accuracy: float, target_drop: float, run: Run, measure: str) -> None:
    """Accuracy cannot fall below 0, so a drop larger than the clean accuracy is impossible."""
    if clean_accuracy <= target_drop:
        raise MeasureInputError(
            f"{measure}: run {run.describe()} has training accuracy {clean_accuracy:.3g}, "
            f"so it cannot drop by {target_drop}"
        )


# -- locating the scale where the accuracy drop reaches the target -----------------------
@dataclass(frozen=True)
class Crossing:
    """Where the accuracy drop crossed the target: the scale, the drop there, the cost."""

    scale: float
    drop: float
    evaluations: int


GROWTH = 4.0  # bracket expansion factor
MAX_GROWTHS = 16  # 4^16 ≈ 4·10^9: beyond that the model is not sensitive to the scale at all


def find_crossing(
    drop_at: Callable[[float], float],
    *,
    target: float,
    start: float,
    rtol: float,
    what: str,
) -> Crossing:
    """A scale s where drop_at(s) crosses `target`, to relative tolerance `rtol`.

    Works on log s. The bracket grows by factors of 4 from `start` until it holds a
    scale with drop < target and one with drop ≥ target; it is then shrunk to
    hi/lo ≤ 1 + rtol by the ITP method (Oliveira & Takahashi 2020): regula-falsi
    steps, superlinear on a smooth curve, projected so that the search never takes
    more than one step beyond what plain bisection would. Returns the upper end of
    the final bracket, where the drop is known to have reached the target. `what`
    names the scale in errors ("σ", "α").
    """
    evaluations = 0

    def excess(log_s: float) -> float:
        nonlocal evaluations
        evaluations += 1
        # Drops are ratios of integers; rounding makes 1 − 0.9 count as reaching 0.1.
        return round(drop_at(math.exp(log_s)) - target, 12)

    lo = hi = math.log(start)
    g_lo = g_hi = excess(lo)
    step = math.log(GROWTH)
    for _ in range(MAX_GROWTHS):
        if g_lo < 0 <= g_hi:
            break
        if g_hi < 0:  # not sensitive enough yet: grow upwards
            lo, g_lo = hi, g_hi
            hi += step
            g_hi = excess(hi)
        else:  # already too sensitive: grow downwards
            hi, g_hi = lo, g_lo
            lo -= step
            g_lo = excess(lo)
    if g_hi < 0:
        raise MeasureInputError(
            f"the training accuracy never dropped by {target} (largest drop tried "
            f"{g_hi + target:.3g}, at {what} = {math.exp(hi):.3g})"
        )
    if g_lo >= 0:
        raise MeasureInputError(
            f"the training accuracy dropped by {target} already at {what} = "
            f"{math.exp(lo):.3g} (drop {g_lo + target:.3g}); even the smallest "
            "perturbations tried are too large"
        )

    # ITP with κ1 = 0.2/(initial width), κ2 = 2, n0 = 1, as its authors recommend.
    tolerance = math.log1p(rtol)
    kappa = 0.2 / (hi - lo)
    most_steps = max(0, math.ceil(math.log2((hi - lo) / tolerance))) + 1
    j = 0
    while hi - lo > tolerance:
        middle = trial = 0.5 * (lo + hi)
        if g_hi > 0:  # at g_hi = 0 (drop exactly on target) regula falsi only returns hi
            falsi = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
            toward_middle = math.copysign(1.0, middle - falsi)
            shift = kappa * (hi - lo) ** 2
            trial = falsi + toward_middle * shift if shift <= abs(middle - falsi) else middle
            # ≥ 0 in exact arithmetic while j ≤ most_steps; 0 (bisection) after.
            radius = max(0.0, 0.5 * tolerance * 2.0 ** (most_steps - j) - 0.5 * (hi - lo))
            if abs(trial - middle) > radius:
                trial = middle - toward_middle * radius
        j += 1
        g = excess(trial)
        if g >= 0:
            hi, g_hi = trial, g
        else:
            lo, g_lo = trial, g
    return Crossing(scale=math.exp(hi), drop=g_hi + target, evaluations=evaluations)


# -- memo: one search per run and options ----------------------------------------------
R = TypeVar("R")

_MEMO: "weakref.WeakKeyDictionary[Run, dict[Hashable, object]]" = weakref.WeakKeyDictionary()


def memoized(run: Run, key: Hashable, compute: Callable[[], R]) -> R:
    """compute(), once per run, options `key` and state of the run's tensors.

    The state part of the key holds the identity and in-place version counter of the
    model's parameters and of the training tensors, so editing a run's weights in
    place (or swapping its data) never returns a stale search.
    """
    state = (
        id(run.model),
        tuple((id(p), p._version) for p in run.model.parameters()),
        id(run.x_train),
        run.x_train._version,
        id(run.y_train),
        run.y_train._version,
    )
    cache = _MEMO.setdefault(run, {})
    full_key = (key, state)
    if full_key not in cache:
        cache[full_key] = compute()
    return cache[full_key]  # type: ignore[return-value]
