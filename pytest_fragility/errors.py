"""Exceptions users see. Each message names what was wrong and how to fix it."""

from __future__ import annotations


class FragilityError(Exception):
    """Base class for every error pytest-fragility raises on purpose."""


class ConfigurationError(FragilityError, ValueError):
    """A bad argument: unknown family, measure, perturbation, check or tolerance key."""


class DatasetError(FragilityError):
    """A dataset is missing, truncated or not in the expected format."""


class MeasureInputError(FragilityError, ValueError):
    """A measure cannot be computed on this run (missing init weights, NaN weights, ...)."""


class NegativeMarginError(MeasureInputError):
    """The margin is not positive, so margin-normalized measures are undefined."""


class CacheError(FragilityError):
    """A cache entry could not be read or written."""


class ReportError(FragilityError):
    """A report or baseline file cannot be read, is not one, or cannot be written."""


class MeasureError(FragilityError):
    """A measure misbehaved: it changed the run it was given, or called pytest.skip() or sys.exit()."""


class CorruptCacheWarning(UserWarning):
    """A cache entry (network, values, dataset file) was unreadable or inconsistent: it was
    removed and is retrained or recomputed."""


class MissingDependencyError(FragilityError, ImportError):
    """An optional dependency is needed for this feature."""


def unknown(kind: str, name: object, valid: "list[str] | tuple[str, ...]") -> ConfigurationError:
    """The one wording for 'unknown X': names the bad value and lists the valid ones."""
    choices = ", ".join(sorted(str(v) for v in valid)) or "(none registered)"
    return ConfigurationError(f"unknown {kind} {name!r}; valid: {choices}")
