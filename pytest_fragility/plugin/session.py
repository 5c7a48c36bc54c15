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
from pytest_fragility.errors import ConfigurationError, FragilityError, ReportError
from pytest_fragility.files import check_output, write_json
from pytest_fragility.plugin import expectations, falsify, gate
from pytest_fragility.plugin.profiles import Profile, default_profile_name, get_profile
from pytest_fragility.report import baseline as baselines
from pytest_fragility.report import convergence
from pytest_fragility.runs.cache import Cache, default_cache_dir
from pytest_fragility.spec.tolerances import parse_tolerance_lines

PAYLOAD = pytest.StashKey[dict]()
NODE_ID = pytest.StashKey[str]()


class MissingBaselineWarning(UserWarning):
    """--fragility-compare found no baseline for a test."""


class NonConvergenceWarning(UserWarning):
    """A variant lost more than a documented share of its runs to the stopping rule."""


class FragilitySession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        profile_name = self._setting("fragility_profile") or default_profile_name()
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
        self.outcomes: dict[str, str] = {}     # test → passed, failed, xfailed or xpassed
        self.written: list[str] = []           # what --fragility-update wrote, for the summary
        self.deselected: list[pytest.Item] = []
        self.orphans: set[str] = set()         # baselines whose test is gone (--fragility-compare)
        self.gate_failures: list[str] = []
        self.write_failures: list[str] = []
        self._check_outputs()

    # -- output paths and write failures ---------------------------------------------
    def _check_outputs(self) -> None:
        """The cache and every output path are checked now, before any training: a usage error
        naming the path, not results lost at the end of the run."""
        self.cache.check()
        outputs = [("--fragility-json", self._setting("fragility_json"), False),
                   ("--fragility-report", self._setting("fragility_report"), True)]
        if self.update:
            outputs.append(("--fragility-baseline-dir", self.baseline_dir, True))
        for option, path, folder in outputs:
            if path:
                check_output(Path(path), folder=folder, option=option)

    def _check_baseline_folders(self, items: list[pytest.Item]) -> None:
        """With --fragility-update, the __fragility__ folder beside each collected test must be
        writable before the first audit (a folder given by --fragility-baseline-dir is checked at start)."""
        if not self.update or self.baseline_dir is not None:
            return
        folders = {self._baseline_for_test(item.nodeid).parent for item in items
                   if item.get_closest_marker("fragility") is not None}
        for folder in sorted(folders):
            try:
                check_output(folder, folder=True, option="--fragility-update: baselines in")
            except ConfigurationError as error:
                raise pytest.UsageError(str(error)) from None

    def _write(self, what: str, write: Any) -> None:
        """Run one output's writer; a failure is kept for an error line, the others still run."""
        try:
            write()
        except Exception as error:  # any failure to write is reported, never a traceback that loses the rest
            self.write_failures.append(f"could not write {what}: {type(error).__name__}: {error}")

    def _report_write_failures(self, terminalreporter: Any) -> None:
        if self.write_failures:
            terminalreporter.write_sep("=", "fragility: outputs not written", red=True)
            for line in self.write_failures:
                terminalreporter.write_line(f"fragility: error: {line}", red=True)

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
        self._check_baseline_folders(items)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.extend(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.compare or self.update:
            return
        orphans = gate.orphaned_baselines([*session.items, *self.deselected], gate.partly_collected(self.config),
                                          self._baseline_for_test, beside_tests=self.baseline_dir is None)
        self.orphans = {str(path) for path in orphans}
        if self.worker:  # the controller collects nothing under pytest-xdist: it reads this
            self.config.workeroutput["fragility_orphans"] = sorted(self.orphans)  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.orphans.update(getattr(node, "workeroutput", {}).get("fragility_orphans", []))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        result = yield
        if not self.worker and self.compare and not self.update:
            hidden = {p["test"]: p["baseline_drift"] for p in self.payloads
                      if p.get("baseline_drift") and self.outcomes.get(p["test"]) == "xfailed"}
            self.gate_failures = gate.describe(sorted(Path(o) for o in self.orphans), hidden, self.config.rootpath)
            if self.gate_failures:
                session.testsfailed += 1
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_pycollect_makeitem(self, collector: pytest.Collector, name: str, obj: Any) -> Any:
        """A test whose family lacks the budget it runs at is a collection error of its module,
        naming the budgets the family has, before any training."""
        items = yield
        marks = [m for m in getattr(obj, "pytestmark", []) if m.name == "fragility" and m.args]
        if marks:
            spec = marks[0].args[0]
            budget = spec.budget or self.budget
            known = getattr(families.get(spec.family), "budgets", None)
            if known is not None and budget not in known:
                raise collector.CollectError(
                    f"{name}: family {spec.family!r} has no budget {budget!r}; its budgets: {', '.join(known)}")
        return items

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
        if spec.expect_verdict:
            judgement = expectations.judge(spec.expect_verdict, payload, strict=self.strict)
            payload["expect_verdict"] = judgement.to_dict()
            if not judgement.held:
                problems.append(self._broken_expectations(spec, judgement, payload))
        elif not result.passed(strict=self.strict):
            problems.append(self._render(payload))
        for warning in convergence.warnings(payload):
            pyfuncitem.warn(NonConvergenceWarning(warning))
        if self.compare and not self.update:
            drift = self._compare_baseline(pyfuncitem, payload)
            if drift:
                payload["baseline_drift"] = drift  # an xfail hides the failure, not the session gate
            problems += drift
        searched = falsify.search_failure(self, pyfuncitem, spec, payload)
        if searched:
            problems.append(searched)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
        return True

    def _render(self, payload: dict[str, Any]) -> str:
        from pytest_fragility.report.terminal import render_audit

        return render_audit(payload, color=self.color())

    def _broken_expectations(self, spec: Any, judgement: expectations.Judgement, payload: dict[str, Any]) -> str:
        lines = [f"declared verdicts do not hold (expect_verdict: {expectations.describe(spec.expect_verdict)}):"]
        lines += [f"  {problem}" for problem in judgement.problems]
        return "\n".join([*lines, self._render(payload)])

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
        if not (path.exists() or path.is_symlink()):
            message = (f"no fragility baseline at {path}; create it with "
                       f"pytest --fragility --fragility-update {item.nodeid}")
            if self.strict or self.profile.missing_baseline == "fail":
                return [message]
            warnings.warn(MissingBaselineWarning(message), stacklevel=2)
            return []
        try:
            stored = baselines.read_baseline(path)
        except ReportError as error:
            return [f"{error}; fix it or write it again with pytest --fragility --fragility-update {item.nodeid}"]
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
            self.outcomes[payload["test"]] = _outcome(report)

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
                path, summary = self._baseline_for_test(payload["test"]), baselines.summarize(payload, env)
                described = (f"{gate.relative(path, self.config.rootpath)} ({payload['verdict']}, "
                             f"{len(payload['checks'])} rows)")

                def write_baseline(p: Path = path, b: dict[str, Any] = summary, line: str = described) -> None:
                    write_json(p, b)
                    self.written.append(line)  # listed in the summary once written

                self._write(f"the baseline {path}", write_baseline)
        report = build_report(self.payloads, env)
        self._write("the JSON report (a pytest_fragility_update_json hook failed)",
                    lambda: self.config.hook.pytest_fragility_update_json(config=self.config, report=report))
        if json_path:  # written even when no audit ran, so CI finds the file it expects
            self._write(f"the JSON report {json_path}", lambda: write_report(Path(json_path), report))
        report_dir = self._setting("fragility_report")
        if report_dir and self.payloads:
            from pytest_fragility.report.html import write_html

            command = "pytest " + " ".join(self.config.invocation_params.args)
            self._write(f"the HTML report {report_dir}", lambda: write_html(Path(report_dir), report, command=command))
            self._write(f"the search report in {report_dir}",
                        lambda: falsify.write_search_report(report_dir, self.payloads, command))
        if self.write_failures and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

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
        self._report_write_failures(terminalreporter)
        if self.worker or not (self.payloads or self.gate_failures):
            return
        try:
            from pytest_fragility.report.terminal import render_session

            entries = [(p, self.outcomes.get(p["test"])) for p in sorted(self.payloads, key=lambda p: p["test"])]
            terminalreporter.write_sep("=", "fragility audits")
            if entries:
                terminalreporter.write_line(render_session(entries, color=terminalreporter.hasmarkup,
                                                           verbose=self.config.getoption("verbose", 0) > 0))
            if self.written:
                terminalreporter.write_line(f"fragility: wrote {len(self.written)} baseline(s):")
                for line in self.written:
                    terminalreporter.write_line(f"  {line}")
            if self.gate_failures:
                terminalreporter.write_line("fragility: --fragility-compare fails the session:", red=True, bold=True)
                for line in self.gate_failures:
                    terminalreporter.write_line(f"  {line}")
        except Exception as error:  # a summary must never turn a run into an internal error
            terminalreporter.write_line(f"fragility: could not render the summary ({error!r})")


def _outcome(report: pytest.TestReport) -> str:
    """passed, failed, xfailed or xpassed: how pytest counted the test."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome
