"""The marginal-likelihood PAC-Bayes bound: a generalization bound that reads only data.

Valle-Pérez, Camargo & Louis (ICLR 2019) and Valle-Pérez & Louis (2020, arXiv:2012.04115)
put a prior over functions, the NNGP of the network at initialization, and bound the error
of the Bayesian posterior restricted to U, the functions that fit the m training labels.
Its KL divergence from the prior is ln(1/P(U)), and P(U) is the marginal likelihood of the
labels under a step likelihood. The bound never sees trained weights, so it is not
post-mortem: learning rate and optimizer cannot move it; data and labels can.

Pipeline: `nngp_relu_kernel` (float64, cosine clipped) → `ep.log_marginal_likelihood`
(expectation propagation with the Heaviside likelihood) → `pac_bayes_bound`.

Bound form. The papers state (McAllester's realizable PAC-Bayes theorem)

    −ln(1 − ε) ≤ (ln(1/P(U)) + ln(2m/δ)) / (m − 1).

The reference code (guillefix/nn-pacbayes, compute_prob_and_bound.py, reused unchanged by
the fragility paper's pipeline sofuncheung/Prior_bound) computes instead

    ε = 1 − exp(−(ln(1/P(U)) + 2 ln m + 1 + ln(1/δ)) / m),   δ = 2⁻¹⁰.

This module uses the CODE form, so that values line up with the published learning curves;
the two differ by O(ln m / m) and scale identically in m.
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures._layers import weight_layers
from pytest_fragility.measures.ep import log_marginal_likelihood, signed_labels
from pytest_fragility.measures.nngp import nngp_relu_kernel
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run

DELTA = 2.0**-10
SIGMA_W = 2**0.5  # He-normal weights: N(0, 2/fan_in)
SIGMA_B = 0.1  # biases N(0, 0.1²), the families' init
# Peak float64 m×m matrices alive at once: EP holds K, S̃½K, B and its Cholesky factor
# (then K, S̃½K, L and V); one more covers allocator slack and the kernel's θ buffer.
PEAK_MATRICES = 5


def pac_bayes_bound(log_p: float, m: int, delta: float = DELTA) -> float:
    """ε = 1 − exp(−(−ln P(U) + 2 ln m + 1 + ln(1/δ))/m), the reference code's constants.

    ln P(U) = −inf (no function fits the labels) gives the vacuous bound 1.
    """
    if m < 1:
        raise MeasureInputError(f"the bound needs m ≥ 1 training points, got m = {m}")
    if not 0 < delta < 1:
        raise MeasureInputError(f"delta must be in (0, 1), got {delta!r}")
    if log_p > 0 or math.isnan(log_p):
        raise MeasureInputError(f"ln P(U) must be a log-probability (≤ 0), got {log_p!r}")
    complexity = -log_p + 2 * math.log(m) + 1 + math.log(1 / delta)
    return -math.expm1(-complexity / m)


def memory_needed(m: int, d: int) -> int:
    """Bytes the bound needs at its peak for m inputs of dimension d (float64)."""
    return 8 * (PEAK_MATRICES * m * m + m * d)


def available_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on `device`: free CUDA memory, or MemAvailable."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # no /proc (macOS, BSD): available pages where the system says, else physical memory as a bound
    pages = "SC_AVPHYS_PAGES" if "SC_AVPHYS_PAGES" in os.sysconf_names else "SC_PHYS_PAGES"
    return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")


def check_memory(m: int, d: int, device: torch.device, what: str = "marginal_likelihood_bound") -> None:
    """Raise before allocating anything when m×m float64 work does not fit on `device`."""
    needed = memory_needed(m, d)
    available = available_memory(device)
    if needed > available:
        raise MeasureInputError(
            f"{what}: m = {m} training points need about {needed / 1e9:.2f} GB "
            f"({needed} bytes: {PEAK_MATRICES} float64 {m}×{m} matrices and the inputs) "
            f"but only {available / 1e9:.2f} GB ({available} bytes) is available on {device}; "
            "use a subset of the training data or a device with more memory"
        )


@measure(
    "marginal_likelihood_bound",
    description="Marginal-likelihood PAC-Bayes bound on the error: ReLU NNGP prior, ln P(U) by EP",
    reference=(
        "Valle-Pérez, Camargo & Louis, ICLR 2019 (arXiv:1805.08522), PAC-Bayes bound "
        "−ln(1−ε) ≤ (ln 1/P(U) + ln(2m/δ))/(m−1); Valle-Pérez & Louis 2020 "
        "(arXiv:2012.04115); constants of guillefix/nn-pacbayes compute_prob_and_bound.py "
        "(δ = 2⁻¹⁰), see docs/marginal-likelihood.md"
    ),
    needs=("train_data",),
    scale="positive",
    cost="kernel",
    post_mortem=False,
    bound_rule="identity",
)
def marginal_likelihood_bound(
    run: Run,
    *,
    depth: int | None = None,
    sigma_w: float = SIGMA_W,
    sigma_b: float = SIGMA_B,
    delta: float = DELTA,
) -> float:
    """The bound ε for the run's architecture, training inputs and binary labels.

    `depth` (hidden layers) defaults to the model's weight layers − 1; the kernel is the
    fully connected ReLU NNGP, so a model with conv layers needs an explicit depth.
    Runs on the device that holds x_train.
    """
    x, y = run.x_train, run.y_train
    m = len(x)
    if m == 0:
        raise MeasureInputError(f"marginal_likelihood_bound: run {run.describe()} has no training data")
    labels = signed_labels(y, what=f"y_train of run {run.describe()}")
    if depth is None:
        depth = _hidden_layers(run)
    check_memory(m, x[0].numel(), x.device)
    K = nngp_relu_kernel(x, depth=depth, sigma_w=sigma_w, sigma_b=sigma_b)
    log_p = log_marginal_likelihood(K, labels)
    del K
    return pac_bayes_bound(log_p, m, delta)


def _hidden_layers(run: Run) -> int:
    """Weight layers − 1 of a fully connected model; conv layers have no FC kernel here."""
    layers = weight_layers(run.model)
    convolutional = [type(layer).__name__ for layer in layers if not isinstance(layer, nn.Linear)]
    if convolutional:
        raise MeasureInputError(
            f"marginal_likelihood_bound uses the fully connected ReLU NNGP kernel, but the "
            f"model of run {run.describe()} has {', '.join(sorted(set(convolutional)))} layers; "
            "pass depth= to use the FC kernel anyway"
        )
    return len(layers) - 1
