"""The state of one `pytest --fragility` run: settings, audits, baselines, reports.

Registered as a plugin by `hooks.pytest_configure`, so its methods are hooks. Each
fragility test runs one audit in its call phase; the audit's plain-dict payload rides
on the test report (so pytest-xdist carries it to the controller), and only the
controller writes JSON, baselines and the HTML report.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

from pytest_fragility import families
from pytest_fragility.errors import FragilityError
from pytest_fragility.files import read_json, write_json
from pytest_fragility.plugin import falsify
from pytest_fragility.plugin.profiles import Profile, default_profile_name, get_profile
from pytest_fragility.report import baseline as baselines
from pytest_fragility.runs.cache import Cache, default_cache_dir
from pytest_fragility.spec.tolerances import parse_tolerance_lines

PAYLOAD = pytest.StashKey[dict]()
NODE_ID = pytest.StashKey[str]()


class MissingBaselineWarning(UserWarning):
    """--fragility-compare found no baseline for a test."""


class FragilitySession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        profile_name = self._setting("fragility_profile") or default_profile_name()
        for registered in config.hook.pytest_fragility_families(config=config):
            for family in registered or []:
                families.register(family, replace=True)
        self._register_measures()
        self.profile: Profile = get_profile(profile_name)
        self.budget = self._setting("fragility_budget") or self.profile.budget
        self.device = self._setting("fragility_device") or self.profile.device
        if self._setting("fragility_seed") is not None:
            warnings.warn("--fragility-seed / fragility_seed has no effect: intervals are Student-t intervals "
                          "over seeds, there is no bootstrap", DeprecationWarning, stacklevel=2)
        cache_dir = self._setting("fragility_cache")
        self.cache = Cache(Path(cache_dir) if cache_dir else default_cache_dir(config.rootpath))
        data_dir = self._setting("fragility_data_dir")
        self.data_dir = Path(data_dir) if data_dir else None
        self.strict = bool(self._setting("fragility_strict")) or self.profile.strict
        self.update = bool(self._setting("fragility_update"))
        self.compare = bool(self._setting("fragility_compare"))
        baseline_dir = self._setting("fragility_baseline_dir")
        self.baseline_dir = Path(baseline_dir) if baseline_dir else None
        self.tolerances = parse_tolerance_lines(config.getini("fragility_tolerances"))
        self.executor = self._setting("fragility_executor") or "local"
        if self.executor not in ("local", "ray"):
            raise pytest.UsageError(f"--fragility-executor must be local or ray, got {self.executor!r}")
        self.worker = hasattr(config, "workerinput")
        self.payloads: list[dict[str, Any]] = []

    # -- settings -----------------------------------------------------------------
    def _setting(self, name: str) -> Any:
        """Command line first, then the ini file."""
        value = self.config.getoption(name, default=None)
        if value is not None:
            return value
        ini = self.config.getini(name)
        return ini if ini not in ("", None, False) else None

    def _register_measures(self) -> None:
        returned = self.config.hook.pytest_fragility_measures(config=self.config)
        extra = [spec for specs in returned for spec in specs or []]
        if extra:
            from pytest_fragility.measures import registry

            for spec in extra:
                registry.register(spec, replace=True)

    def _progress(self) -> bool:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        tty = reporter is not None and reporter.isatty()
        return self.profile.progress and tty and not self.worker

    @contextlib.contextmanager
    def _visible_progress(self) -> Iterator[bool]:
        """Progress bars go to the real terminal, past pytest's output capture."""
        show = self._progress()
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if not show or capture is None:
            yield show
            return
        with capture.global_and_fixture_disabled():
            yield True

    def _executor(self) -> Any:
        """The training executor: None for the default local one (families build it when they
        train, so toy-family sessions never import torch), a Ray executor built once."""
        if self.executor == "local":
            return None
        if not hasattr(self, "_executor_object"):
            from pytest_fragility.train.executors import get_executor

            self._executor_object = get_executor(self.executor, address=self._setting("fragility_ray_address"))
        return self._executor_object

    def color(self) -> bool:
        return self.config.get_terminal_writer().hasmarkup

    def width(self) -> int:
        return max(120, self.config.get_terminal_writer().fullwidth)  # long lines soft-wrap; no hard breaks in logs

    # -- fixtures ---------------------------------------------------------------------
    def family_runs(self, name: str | None, *, budget: str | None = None, variants: Any = ()) -> Any:
        if name is None:
            raise FragilityError("fragility_family needs a family name: fragility_family('fcn-digits')")
        with self._visible_progress() as progress:
            return families.get(name).runs(budget or self.budget, list(variants), device=self.device,
                                           cache=self.cache, data_dir=self.data_dir, progress=progress,
                                           executor=self._executor())

    # -- hooks ----------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:  # node ids before pytest-xdist's loadgroup rewrites them
            item.stash[NODE_ID] = item.nodeid

    def pytest_report_header(self) -> list[str]:
        return [f"fragility: profile {self.profile.name}, budget {self.budget}, device {self.device}, "
                f"cache {self.cache.root}"]

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        marker = pyfuncitem.get_closest_marker("fragility")
        if marker is None or not marker.args:
            return None
        spec = marker.args[0]
        test_id = pyfuncitem.stash.get(NODE_ID, pyfuncitem.nodeid)
        replayed = falsify.replay_failure(self, pyfuncitem, spec, test_id)  # saved counterexamples first
        if replayed:
            pytest.fail(replayed, pytrace=False)
        result = self._audit(pyfuncitem, spec)
        payload = {"test": test_id, **result.to_dict()}
        pyfuncitem.stash[PAYLOAD] = payload
        problems = []
        if not result.passed(strict=self.strict):
            problems.append(self._render(payload))
        if self.compare and not self.update:
            problems += self._compare_baseline(pyfuncitem, payload)
        searched = falsify.search_failure(self, pyfuncitem, spec, payload)
        if searched:
            problems.append(searched)
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)
        return True

    def _render(self, payload: dict[str, Any]) -> str:
        from pytest_fragility.report.terminal import render_audit

        return render_audit(payload, color=self.color(), width=self.width())

    def _audit(self, item: pytest.Function, spec: Any) -> Any:
        from pytest_fragility.auditing.engine import audit

        function = item.obj
        parameters = inspect.signature(function).parameters
        fixtures = {name: item.funcargs[name] for name in parameters if name in item.funcargs}
        if spec.measure is not None:
            function(**fixtures)  # the body may hold extra assertions; it is not a measure here
            measure: Any = spec.measure
        else:
            def measure(run: Any) -> Any:
                return function(run=run, **fixtures)
            measure.__name__ = function.__name__
        with self._visible_progress() as progress:
            return audit(
                measure, family=spec.family, perturbations=spec.perturbations, data=spec.data,
                checks=spec.checks, tolerance={**self.tolerances, **spec.tolerance},
                budget=spec.budget or self.budget, device=self.device, cache=self.cache,
                data_dir=self.data_dir, scale=spec.scale, form=spec.form, expect=spec.expect,
                progress=progress, executor=self._executor())

    def _compare_baseline(self, item: pytest.Item, payload: dict[str, Any]) -> list[str]:
        from pytest_fragility.report.environment import environment

        path = self._baseline_for_test(payload["test"])
        if not path.exists():
            message = (f"no fragility baseline at {path}; create it with "
                       f"pytest --fragility --fragility-update {item.nodeid}")
            if self.strict or self.profile.missing_baseline == "fail":
                return [message]
            warnings.warn(MissingBaselineWarning(message), stacklevel=2)
            return []
        stored = read_json(path)
        current = baselines.summarize(payload, environment())
        drifted = baselines.environment_mismatch(stored, current["environment"])
        if drifted:
            warnings.warn(f"baseline {path} was recorded in another environment: {'; '.join(drifted)}", stacklevel=2)
        differences = baselines.compare(stored, current)
        if not differences:
            return []
        lines = [f"fragility baseline drift against {path} (two-sided; refresh with --fragility-update):"]
        lines += [f"  {d.describe()}" for d in differences]
        return ["\n".join(lines)]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        if call.when == "call" and PAYLOAD in item.stash:
            report.fragility = item.stash[PAYLOAD]  # plain types: pytest-xdist can carry it
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "fragility", None)
        if payload is not None and not self.worker:
            self.payloads.append(payload)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        json_path = self._setting("fragility_json")
        if self.worker or not (self.payloads or json_path):
            return
        from pytest_fragility.report.environment import environment
        from pytest_fragility.report.json_report import build_report, write_report

        env = environment()
        if self.update:
            for payload in self.payloads:
                write_json(self._baseline_for_test(payload["test"]), baselines.summarize(payload, env))
        report = build_report(self.payloads, env)
        self.config.hook.pytest_fragility_update_json(config=self.config, report=report)
        if json_path:  # written even when no audit ran, so CI finds the file it expects
            write_report(Path(json_path), report)
        report_dir = self._setting("fragility_report")
        if report_dir and self.payloads:
            from pytest_fragility.report.html import write_html

            write_html(Path(report_dir), report, command="pytest " + " ".join(self.config.invocation_params.args))
            falsify.write_search_report(report_dir, self.payloads,
                                        "pytest " + " ".join(self.config.invocation_params.args))

    def _baseline_for_test(self, test_id: str) -> Path:
        """__fragility__/<module>/<test>.json beside the test file (or under --fragility-baseline-dir).

        A test in a class keeps its class in the name (TestA::test_x → TestA_test_x.json), so
        same-named methods of two classes do not share a baseline.
        """
        file_part, _, name = test_id.partition("::")
        path = self.config.rootpath / file_part
        directory = self.baseline_dir or path.parent / "__fragility__"
        return baselines.baseline_path(directory, str(path), name)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker or not self.payloads:
            return
        try:
            from pytest_fragility.report.terminal import render_summary

            rows = [{"test": p["test"], "audit": p} for p in sorted(self.payloads, key=lambda p: p["test"])]
            terminalreporter.write_sep("=", "fragility audits")
            terminalreporter.write_line(render_summary(rows, color=terminalreporter.hasmarkup, width=self.width()))
        except Exception as error:  # a summary must never turn a run into an internal error
            terminalreporter.write_line(f"fragility: could not render the summary ({error!r})")
