"""Cost of the marginal-likelihood PAC-Bayes bound: NNGP kernel, EP, and the whole measure.

    python benchmarks/bench_marginal_likelihood.py                 # m = 500, 1000, 2000
    python benchmarks/bench_marginal_likelihood.py --sizes 500 4000
    python benchmarks/bench_marginal_likelihood.py --threads 1

For each m it times, on the same inputs: the kernel (`nngp_relu_kernel`), EP
(`expectation_propagation`, parallel updates, one Cholesky per sweep), the whole
registered measure (kernel + EP + bound, as an audit calls it) and one Cholesky of an m×m
matrix (the floor of a sweep). Where m ≤ --baseline-max (default 500) it also runs the textbook
baseline, sequential EP (Rasmussen & Williams Algorithm 3.5: a rank-one update of Σ per
site, as GPy's EP does), to the same tolerance, and prints its time, its sweeps, its
ln P(U) (a cross-check: both converge to the same fixed point) and the speed-up.

Inputs are MNIST 5k (the family data: pixels in [0, 1], label = class ≥ 5) while m fits
its 4,000-image train pool, else random-teacher 784-d Gaussian inputs. With CUDA the
sizes in --cuda-sizes (default 10,000) also run on the GPU.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import pytest_fragility as pf
from pytest_fragility.families.datasets import load_dataset
from pytest_fragility.measures.ep import TOLERANCE, expectation_propagation, signed_labels
from pytest_fragility.measures.nngp import nngp_relu_kernel


@dataclass(frozen=True)
class Row:
    m: int
    device: str
    data: str
    kernel_s: float
    ep_s: float
    sweeps: int
    measure_s: float
    cholesky_s: float
    log_p: float
    bound: float
    baseline_s: float | None = None
    baseline_sweeps: int | None = None
    baseline_log_p: float | None = None


def training_data(m: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, str]:
    pool = load_dataset("mnist5k")
    if m <= pool.pool_size:
        order = torch.randperm(pool.pool_size, generator=torch.Generator().manual_seed(0))[:m]
        return pool.x_train[order].to(device), (pool.y_train[order] >= 5).long().to(device), "mnist5k"
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(m, 784, generator=generator)
    y = (x @ torch.randn(784, generator=generator) > 0).long()
    return x.to(device), y.to(device), "teacher-784"


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def time_one_cholesky(K: torch.Tensor) -> float:
    """Seconds for one Cholesky of a well-conditioned m×m matrix: the floor of an EP sweep."""
    spd = K + len(K) * torch.eye(len(K), dtype=K.dtype, device=K.device)
    seconds, _ = timed(lambda: torch.linalg.cholesky(spd), K.device)
    return seconds


def sequential_ep(K: torch.Tensor, y: torch.Tensor, tol: float = TOLERANCE,
                  max_sweeps: int = 100) -> tuple[float, int]:
    """R&W Algorithm 3.5 with the step likelihood: site by site, rank-one updates of Σ.

    ln Z from R&W eqs. 3.65 and 3.74 in moment form (σ̃² = 1/τ̃, μ̃ = ν̃/τ̃), written
    independently of the library's natural-parameter form. Returns (ln Z, sweeps).
    """
    m = len(y)
    y = signed_labels(y).to(K.device)
    tau, nu, mu = (torch.zeros(m, dtype=K.dtype, device=K.device) for _ in range(3))
    sigma = K.clone()
    previous = None
    for sweep in range(1, max_sweeps + 1):
        for i in range(m):
            cav_prec = 1 / sigma[i, i] - tau[i]
            cav_var = 1 / cav_prec
            cav_mean = cav_var * (mu[i] / sigma[i, i] - nu[i])
            z = y[i] * cav_mean / cav_var.sqrt()
            ratio = torch.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - torch.special.log_ndtr(z))
            var_hat = cav_var * (1 - ratio * (z + ratio)).clamp(min=1e-12)
            mean_hat = cav_mean + y[i] * cav_var.sqrt() * ratio
            delta_tau = 1 / var_hat - cav_prec - tau[i]
            tau[i] += delta_tau
            nu[i] = mean_hat / var_hat - cav_prec * cav_mean
            column = sigma[:, i].clone()
            sigma.addr_(column, column, alpha=-(delta_tau / (1 + delta_tau * column[i])).item())
            mu = sigma @ nu
        # Recompute Σ from scratch (R&W's stability step), then ln Z_EP.
        site_var, site_mean = 1 / tau, nu / tau
        L = torch.linalg.cholesky(K + torch.diag(site_var))
        sigma = K - K @ torch.cholesky_solve(K, L)
        mu = sigma @ nu
        cav_var = 1 / (1 / sigma.diagonal() - tau)
        cav_mean = cav_var * (mu / sigma.diagonal() - nu)
        alpha = torch.cholesky_solve(site_mean[:, None], L).squeeze(1)
        log_z = (
            -L.diagonal().log().sum() - 0.5 * site_mean @ alpha
            + torch.special.log_ndtr(y * cav_mean / cav_var.sqrt()).sum()
            + 0.5 * torch.log(cav_var + site_var).sum()
            + ((cav_mean - site_mean) ** 2 / (2 * (cav_var + site_var))).sum()
        ).item()
        if previous is not None and abs(log_z - previous) <= tol * max(1.0, abs(log_z)):
            return log_z, sweep
        previous = log_z
    return log_z, max_sweeps


def warm_up(device: torch.device) -> None:
    """First calls pay for library loading and thread start-up; keep that out of the table."""
    x, y, _ = training_data(256, device)
    expectation_propagation(nngp_relu_kernel(x), y)


def bench_size(m: int, device: torch.device, baseline_max: int) -> Row:
    x, y, data = training_data(m, device)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1))
    run = pf.Run(model=model.to(device), x_train=x, y_train=y)

    kernel_s, K = timed(lambda: nngp_relu_kernel(x, depth=2), device)
    ep_s, result = timed(lambda: expectation_propagation(K, y), device)
    cholesky_s = time_one_cholesky(K)
    measure_s, bound = timed(lambda: pf.measures.marginal_likelihood_bound(run), device)
    row = Row(m, str(device), data, kernel_s, ep_s, result.sweeps, measure_s, cholesky_s,
              result.log_marginal_likelihood, bound)
    if m <= baseline_max:
        baseline_s, (log_p, sweeps) = timed(lambda: sequential_ep(K, y), device)
        row = Row(**{**row.__dict__, "baseline_s": baseline_s, "baseline_sweeps": sweeps, "baseline_log_p": log_p})
    return row


def print_table(rows: list[Row]) -> None:
    print(f"{'m':>6} {'device':<7} {'data':<12} {'kernel s':>9} {'EP s':>7} {'sweeps':>6} {'s/sweep':>8} "
          f"{'1 chol s':>8} {'bound s':>8} {'ln P(U)':>10} {'bound':>7} | "
          f"{'seq. EP s':>9} {'sweeps':>6} {'ln P(U)':>10} {'speed-up':>8}")
    for r in rows:
        line = (f"{r.m:>6} {r.device:<7} {r.data:<12} {r.kernel_s:9.2f} {r.ep_s:7.2f} {r.sweeps:>6} "
                f"{r.ep_s / max(r.sweeps, 1):8.3f} {r.cholesky_s:8.3f} {r.measure_s:8.2f} "
                f"{r.log_p:10.2f} {r.bound:7.4f} | ")
        if r.baseline_s is not None:
            line += f"{r.baseline_s:9.2f} {r.baseline_sweeps:>6} {r.baseline_log_p:10.2f} {r.baseline_s / r.ep_s:7.1f}x"
        else:
            line += f"{'-':>9} {'-':>6} {'-':>10} {'-':>8}"
        print(line)


def bench_marginal_likelihood(sizes: tuple[int, ...] = (500, 1000, 2000),
                              cuda_sizes: tuple[int, ...] = (10_000,),
                              baseline_max: int = 500) -> list[Row]:
    """Time the bound at each size on the CPU (and the CUDA sizes on a GPU); print the table."""
    warm_up(torch.device("cpu"))
    rows = [bench_size(m, torch.device("cpu"), baseline_max) for m in sizes]
    if torch.cuda.is_available():
        warm_up(torch.device("cuda"))
        rows += [bench_size(m, torch.device("cuda"), baseline_max) for m in sizes + cuda_sizes]
    print_table(rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--cuda-sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--baseline-max", type=int, default=500,
                        help="run sequential EP up to this m (default 500; it is slow)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads, "
          f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA'}")
    bench_marginal_likelihood(tuple(args.sizes), tuple(args.cuda_sizes), args.baseline_max)


if __name__ == "__main__":
    main()
