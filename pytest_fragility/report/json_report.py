"""The JSON report (DESIGN §5): schema version, time, environment, and every audit."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Iterable

from pytest_fragility.errors import ReportError
from pytest_fragility.files import read_json, write_json

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


AUDIT_FIELDS = ("measure", "family", "budget", "form", "verdict", "checks")
CHECK_FIELDS = ("check", "variant", "verdict")


def read_document(path: Path, what: str) -> dict[str, Any]:
    """A JSON object of this tool's schema version from `path`; ReportError names the file and
    what is wrong with it (missing, unreadable, not JSON, another schema version)."""
    try:
        document = read_json(path)
    except FileNotFoundError:
        raise ReportError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"{what} {path} cannot be read ({type(error).__name__}: {error})") from None
    except ValueError as error:  # json.JSONDecodeError
        raise ReportError(f"{what} {path} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ReportError(f"{what} {path} holds a JSON {type(document).__name__}, not an object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportError(f"{what} {path} has schema_version {version!r}; this version of pytest-fragility "
                          f"reads schema_version {SCHEMA_VERSION}")
    return document


def check_audit(audit: Any, where: str) -> None:
    """ReportError unless `audit` has the fields comparisons read (an audit or a baseline)."""
    if not isinstance(audit, dict):
        raise ReportError(f"{where}: an audit is a JSON {type(audit).__name__}, not an object")
    missing = [name for name in AUDIT_FIELDS if name not in audit]
    checks = audit.get("checks")
    if not missing and not (isinstance(checks, list) and all(isinstance(c, dict) for c in checks)):
        missing = ["checks (a list of objects)"]
    missing += sorted({name for c in checks or [] if isinstance(c, dict) for name in CHECK_FIELDS if name not in c})
    if missing:
        raise ReportError(f"{where}: audit {audit.get('measure', '?')!r} lacks {', '.join(missing)}")


def read_report(path: Path) -> dict[str, Any]:
    """A JSON report whose audits can be compared (`fragility compare`)."""
    document = read_document(path, "report")
    audits = document.get("audits")
    if not isinstance(audits, list):
        raise ReportError(f"report {path} has no list of audits")
    for audit in audits:
        check_audit(audit, f"report {path}")
    return document
