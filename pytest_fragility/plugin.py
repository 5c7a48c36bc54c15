"""pytest hooks for pytest-fragility: thin glue, heavy imports deferred."""

from __future__ import annotations

import pytest

SKIP_REASON = "fragility checks are disabled; run pytest with --fragility"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fragility", "pytest-fragility: audit generalization measures")
    group.addoption("--fragility", action="store_true", default=False,
                    help="run @fragility_check tests (trains or loads model families)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fragility(spec): a fragility audit (added by @fragility_check)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("fragility"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("fragility") is not None:
            item.add_marker(skip)
