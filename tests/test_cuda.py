"""End to end on a GPU: training, measures and the audit with device="cuda".

Marked `cuda` and skipped where torch sees no CUDA device; `benchmarks/gpu_check.sh` runs
them on a GPU machine.
"""

import pytest
import torch

import pytest_fragility as pf
from tests.helpers import toy_family

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def test_cuda_training_matches_cpu_within_float_tolerance(tmp_path):
    family = toy_family(dtype="float64")
    on_gpu = family.runs("tiny", cache=tmp_path / "gpu", device="cuda", progress=False)
    on_cpu = family.runs("tiny", cache=tmp_path / "cpu", device="cpu", progress=False)
    for a, b in zip(on_gpu, on_cpu):
        assert a.epochs == b.epochs
        for name, value in a.model.state_dict().items():
            torch.testing.assert_close(value.cpu(), b.model.state_dict()[name].cpu(), rtol=1e-6, atol=1e-8)


def test_audit_on_cuda_measures_on_the_device(tmp_path):
    family = toy_family()
    names = ["path_norm", "log_prod_of_spec", "pacbayes_orig", "sharpness_orig", "marginal_likelihood_bound"]
    for name in names:
        result = pf.audit(name, family, [pf.perturb.lr(0.5)], budget="tiny", cache=tmp_path, device="cuda",
                          progress=False)
        assert not result.errors, (name, result.errors)
    run = family.runs("tiny", cache=tmp_path, device="cuda", progress=False)[0]
    assert run.device.type == "cuda" and run.x_train.device.type == "cuda"
