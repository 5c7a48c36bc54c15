"""The JSON report (DESIGN §5): schema version, time, environment, and every audit."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Iterable

from pytest_fragility.files import write_json

SCHEMA_VERSION = 1  # of the JSON report and of baselines: bump when a field changes meaning


def build_report(audits: Iterable[dict[str, Any]], environment: dict[str, Any],
                 extra: dict[str, Any] | None = None, *, sort: bool = True) -> dict[str, Any]:
    """The report document. Audits are sorted by test id (so parallel runs give the same
    file) unless `sort` is False, which keeps the caller's order."""
    audits = list(audits)
    if sort:
        audits.sort(key=lambda a: (a.get("test") or "", a["measure"], a["family"]))
    return {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment,
        "audits": audits,
        **(extra or {}),
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_json(Path(path), report, sort_keys=False)
