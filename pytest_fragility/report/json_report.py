"""The JSON report (DESIGN §5): schema version, time, environment, and every audit."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Iterable

from pytest_fragility.report.baseline import write_json

SCHEMA_VERSION = 1


def build_report(audits: Iterable[dict[str, Any]], environment: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report document; audits sorted by test id so parallel runs give the same file."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment,
        "audits": sorted(audits, key=lambda a: (a.get("test") or "", a["measure"], a["family"])),
        **(extra or {}),
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_json(Path(path), report)
