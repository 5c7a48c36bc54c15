"""The Ray executor on a local Ray instance (2 CPUs): same runs as the local executor,
retries of dying tasks, failures named, and a cache that spares the cluster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

import pytest_fragility as pf
from pytest_fragility.errors import MissingDependencyError
from pytest_fragility.families.models import build_model
from pytest_fragility.train import executors
from tests.helpers import toy_family

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'pytest-fragility[ray]')")
from pytest_fragility.train.executors.ray import RayExecutor  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token file written for a throwaway local Ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def _weights(run):
    return run.model.state_dict()


def test_ray_trains_the_same_runs_and_verdicts_as_the_local_executor(tmp_path):
    family = toy_family()
    on_ray = RayExecutor()
    remote = family.runs("tiny", [pf.perturb.lr(0.5)], cache=tmp_path / "ray", executor=on_ray, progress=False)
    local = family.runs("tiny", [pf.perturb.lr(0.5)], cache=tmp_path / "local", progress=False)
    assert on_ray.tasks_submitted == 2 and remote.training.trained == len(local) == 8
    for a, b in zip(remote, local):
        assert (a.variant, a.m, a.seed) == (b.variant, b.m, b.seed)
        for name, value in _weights(a).items():
            torch.testing.assert_close(value, _weights(b)[name], rtol=1e-5, atol=1e-6)
    verdicts = [pf.audit("path_norm", family, [pf.perturb.lr(0.5)], budget="tiny", cache=tmp_path / where,
                         progress=False).to_dict()["checks"] for where in ("ray", "local")]
    assert [c["verdict"] for c in verdicts[0]] == [c["verdict"] for c in verdicts[1]]


def test_second_call_is_served_from_the_cache_without_submitting_tasks(tmp_path):
    family = toy_family()
    family.runs("tiny", cache=tmp_path, executor=RayExecutor(), progress=False)
    again = RayExecutor()
    runs = family.runs("tiny", cache=tmp_path, executor=again, progress=False)
    assert again.tasks_submitted == 0 and runs.training.cached == 4 and runs.training.trained == 0


DRIVER_PID = os.getpid()


def _dies_once(marker: Path):
    """A model factory whose Ray worker dies (os._exit) the first time it builds a network.
    A closure, so Ray pickles it by value; the driver (which also builds models to load
    cached runs) never dies."""
    def factory(recipe, input_shape, outputs):
        if os.getpid() != DRIVER_PID and not marker.exists():
            marker.write_text("a worker died here")
            os._exit(1)
        return build_model(recipe, input_shape, outputs)

    return factory


def _dies_for_adam():
    def factory(recipe, input_shape, outputs):
        if os.getpid() != DRIVER_PID and recipe.optimizer == "adam":
            os._exit(1)
        return build_model(recipe, input_shape, outputs)

    return factory


def _with_model(family, factory):
    return pf.Family(family.name, family.recipe, model=factory, dataset=family.dataset, budgets=family.budgets)


def test_a_task_whose_worker_dies_is_retried_and_the_audit_completes(tmp_path, capfd, caplog, monkeypatch):
    monkeypatch.delenv("FRAGILITY_RAY_LOGS", raising=False)
    caplog.set_level("INFO", logger="pytest_fragility.ray")
    family = _with_model(toy_family("toy-dying"), _dies_once(tmp_path / "died"))
    result = pf.audit("path_norm", family, budget="tiny", cache=tmp_path / "cache", progress=False,
                      executor=RayExecutor(max_retries=3))
    assert (tmp_path / "died").exists()  # a worker really died
    assert result.runs["failed_training"] == 0 and result.runs["trained"] == 4
    assert result.verdict != "error" and not result.errors
    deadline = time.monotonic() + 20  # Ray reports the death from a thread, a little later
    while "worker died" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "A worker died or was killed" in caplog.text  # Ray's paragraph went to our logger…
    printed = capfd.readouterr()
    assert "worker died" not in printed.out + printed.err  # …not into the user's output


def test_a_task_that_keeps_dying_is_reported_and_nothing_trained_is_lost(tmp_path):
    family = _with_model(toy_family("toy-always-dying"), _dies_for_adam())
    adam = [pf.perturb.optimizer("adam")]
    runs = family.runs("tiny", adam, cache=tmp_path, executor=RayExecutor(max_retries=1), progress=False)
    assert runs.training.trained == 4 and len(runs) == 4  # the base runs are kept
    failed = [f.message for f in runs.training.failed]
    assert len(failed) == 4 and all("adam" in f and "seed=" in f and "m=" in f for f in failed)
    result = pf.audit("path_norm", family, adam, budget="tiny", cache=tmp_path, progress=False,
                      executor=RayExecutor(max_retries=0))
    assert result.runs["failed_training"] == 4 and result.runs["total"] == 4  # the audit goes on
    rerun = RayExecutor(max_retries=0)
    family.runs("tiny", adam, cache=tmp_path, executor=rerun, progress=False)
    assert rerun.tasks_submitted == 2  # only the missing Adam ensembles are submitted again


def test_without_ray_the_executor_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingDependencyError, match=r"pip install 'pytest-fragility\[ray\]'"):
        executors.get_executor("ray")._ray()


def test_costly_measures_run_beside_the_runs_and_match_the_driver(tmp_path):
    family = toy_family()
    on_ray = RayExecutor()
    remote = pf.audit("pacbayes_orig", family, budget="tiny", cache=tmp_path / "ray", executor=on_ray,
                      progress=False)
    assert on_ray.tasks_submitted == 2 + 4  # 2 training ensembles, then one measuring task per run
    local = pf.audit("pacbayes_orig", family, budget="tiny", cache=tmp_path / "local", progress=False)
    assert [c.value for c in remote.measurements] == pytest.approx([c.value for c in local.measurements], rel=1e-9)
    cheap = RayExecutor()
    pf.audit("path_norm", family, budget="tiny", cache=tmp_path / "ray", executor=cheap, progress=False)
    assert cheap.tasks_submitted == 0  # declared where="driver": computed here, from the cache
