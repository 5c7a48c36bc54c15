"""pytest hooks for pytest-fragility: thin glue, heavy imports deferred.

Without ``--fragility`` this module imports only pytest: marked tests are skipped at
collection, no torch or numpy is imported and no file is written. With it, the
session object (`pytest_fragility.plugin.session`) is registered and does the work.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

SKIP_REASON = "fragility checks are disabled; run pytest with --fragility"
FIXTURES = ("fragility_family", "fragility_cache")
SESSION = pytest.StashKey[Any]()
ASKED = pytest.StashKey[list]()  # plugins whose pytest_fragility_families was called

OPTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    # (option, argparse keywords, ini key, ini type)
    ("--fragility-budget", {"metavar": "NAME", "help": "grid size: smoke, quick (default), standard, paper"},
     "fragility_budget", "string"),
    ("--fragility-device", {"metavar": "DEVICE", "help": "cpu (default), cuda, cuda:N or auto"},
     "fragility_device", "string"),
    ("--fragility-cache", {"metavar": "DIR",
                           "help": "model cache (default: FRAGILITY_CACHE_DIR or <rootdir>/.fragility)"},
     "fragility_cache", "string"),
    ("--fragility-data-dir", {"metavar": "DIR", "help": "folder of local datasets (default: FRAGILITY_DATA_DIR)"},
     "fragility_data_dir", "string"),
    ("--fragility-json", {"metavar": "PATH", "help": "write a JSON report of every audit"},
     "fragility_json", "string"),
    ("--fragility-report", {"metavar": "DIR", "help": "write an HTML report with learning-curve plots"},
     "fragility_report", "string"),
    ("--fragility-seed", {"metavar": "N", "type": int, "help": "no effect (intervals are exact t intervals)"},
     "fragility_seed", "string"),
    ("--fragility-profile", {"metavar": "NAME", "help": "settings profile (default: ci when CI is set)"},
     "fragility_profile", "string"),
    ("--fragility-executor", {"metavar": "NAME", "help": "where networks train: local (default) or ray"},
     "fragility_executor", "string"),
    ("--fragility-ray-address", {"metavar": "ADDRESS", "help": "Ray cluster for --fragility-executor ray "
                                 "(default RAY_ADDRESS, else a local Ray)"},
     "fragility_ray_address", "string"),
    ("--fragility-search-networks", {"metavar": "N", "help": "networks one test's search may look at (default 600)"},
     "fragility_search_networks", "string"),
    ("--fragility-baseline-dir", {"metavar": "DIR",
                                  "help": "where baselines live (default: __fragility__ beside each test file)"},
     "fragility_baseline_dir", "string"),
]
FLAGS = [
    ("--fragility-update", "write baselines of every audit (verdicts and exponents)", "fragility_update"),
    ("--fragility-compare", "compare every audit with its committed baseline (two-sided)", "fragility_compare"),
    ("--fragility-strict", "fail inconclusive audits and missing baselines too", "fragility_strict"),
    ("--fragility-search", "search every fragility test for a falsifying perturbation (unless it says search=False)",
     "fragility_search"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fragility", "pytest-fragility: audit generalization measures for fragility")
    group.addoption("--fragility", action="store_true", default=False,
                    help="run @fragility_check tests (trains or loads model families)")
    for option, keywords, ini, kind in OPTIONS:
        group.addoption(option, dest=ini, default=None, **keywords)
        parser.addini(ini, f"default for {option}", type=kind, default=None)
    for option, text, ini in FLAGS:
        group.addoption(option, dest=ini, action="store_true", default=None, help=text)
        parser.addini(ini, f"default for {option}", type="bool", default=False)
    parser.addini("fragility_tolerances", "suite-wide tolerance defaults, one 'key = value' per line",
                  type="linelist", default=[])


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_fragility.plugin import hookspec

    pluginmanager.add_hookspecs(hookspec)


def register_hooked_families(config: pytest.Config) -> None:
    """Register the families of `pytest_fragility_families` implementations not asked yet.

    Called at configure time and again before each test module is imported, since a
    conftest.py below the rootdir loads during collection: its families must be known
    before the decorators in its folder check their family names. Implementations that
    return a dict of builders stay light (nothing is built until a fragility test runs).
    """
    from pytest_fragility import families

    asked = config.stash.setdefault(ASKED, [])
    caller = config.hook.pytest_fragility_families
    plugins = [impl.plugin for impl in caller.get_hookimpls()]
    if all(any(p is a for a in asked) for p in plugins):
        return
    fresh = config.pluginmanager.subset_hook_caller("pytest_fragility_families", remove_plugins=asked)
    asked.extend(p for p in plugins if not any(p is a for a in asked))
    for returned in fresh(config=config):
        families.register_returned(returned)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fragility(spec): a fragility audit (added by @fragility_check)")
    register_hooked_families(config)
    if config.hook.pytest_fragility_search_axes.get_hookimpls():  # before collection: search=[...] names them
        from pytest_fragility.searching import axes  # torch-free

        axes.register_from_hooks(config.hook.pytest_fragility_search_axes(config=config))
    if config.getoption("fragility"):
        from pytest_fragility.errors import FragilityError
        from pytest_fragility.plugin.session import FragilitySession

        try:
            session = FragilitySession(config)
        except FragilityError as error:  # a bad option, ini value or path: a usage error, not an internal one
            raise pytest.UsageError(str(error)) from None
        config.stash[SESSION] = session
        config.pluginmanager.register(session, "fragility-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        config.pluginmanager.unregister(session)
        del config.stash[SESSION]


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Module):
        register_hooked_families(collector.config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    enabled = config.getoption("fragility")
    for item in items:
        uses_fixture = any(name in getattr(item, "fixturenames", ()) for name in FIXTURES)
        if item.get_closest_marker("fragility") is None and not uses_fixture:
            continue
        if not enabled:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
        elif uses_fixture and item.get_closest_marker("fragility") is None:
            item.add_marker(pytest.mark.fragility())  # so `-m fragility` selects it too


def _session(request: pytest.FixtureRequest) -> Any:
    session = request.config.stash.get(SESSION, None)
    if session is None:  # reachable only if a test un-skips itself
        pytest.skip(SKIP_REASON)
    return session


@pytest.fixture
def fragility_family(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Load a family's runs for hand-written assertions: ``runs = fragility_family("fcn-digits")``.

    Keywords: ``budget=`` (default: the session's), ``variants=[...]`` (perturbations and
    data rungs). Runs are trained or loaded from the session's cache.
    """
    session = _session(request)
    marker = request.node.get_closest_marker("fragility")
    default = marker.args[0].family if marker is not None and marker.args else None
    return lambda name=None, **kwargs: session.family_runs(name or default, **kwargs)


@pytest.fixture
def fragility_cache(request: pytest.FixtureRequest) -> Any:
    """The session's cache folder (`pytest_fragility.runs.cache.Cache`): `.models`, `.values`, `.root`."""
    return _session(request).cache
