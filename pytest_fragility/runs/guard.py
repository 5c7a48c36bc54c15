"""Measures must leave a run as they found it: detection, not copies.

A measure receives the run itself, not a copy: several measures of one pass share the
run's loaded tensors and the σ/α searches memoized on it (copies would repeat those
searches). Instead, each part a run holds (model, initial model, data) is fingerprinted
when it is loaded, and after every measure call the parts are compared with their
fingerprints: content (CRC-32 of the bytes on the CPU; a bit sum and version counter on
other devices), dtype, shape, device, gradient flags and train/eval modes, and the run's
records. A measure that changed anything gets an error naming it and the run, the run's
records are restored and its tensors reloaded, so later measures, tests and the cache only
ever see the stored network and data. Costs are in docs/performance.md.
"""

from __future__ import annotations

import sys
import zlib
from typing import TYPE_CHECKING, Any, Callable

from pytest_fragility.errors import MeasureError

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.runs.run import Run

RECORDS = ("_m", "seed", "variant", "family", "recipe", "train_error", "test_error", "train_loss", "converged",
           "epochs", "train_seconds", "_n_test", "key", "data_fingerprint")


def fingerprint(part: Any) -> Any:
    """What a part of a run is now; None for what holds no tensors (closed-form placeholders)."""
    torch = sys.modules.get("torch")  # no tensor can exist before torch is imported
    if torch is None:
        return None
    if isinstance(part, torch.nn.Module):
        modes = tuple(module.training for module in part.modules())
        return modes, tuple((name, _tensor(t)) for name, t in part.state_dict(keep_vars=True).items())
    if isinstance(part, torch.Tensor):
        return _tensor(part)
    return None


def _tensor(tensor: Any) -> tuple[Any, ...]:
    import torch

    data = tensor.detach()
    if data.device.type == "cpu":
        content: Any = zlib.crc32(data.contiguous().reshape(-1).view(torch.uint8).numpy())
    else:  # no copy to the host: a sum of the bit patterns and the in-place version counter
        bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[data.element_size()]
        content = (int(data.contiguous().reshape(-1).view(bits).sum(dtype=torch.int64)), tensor._version)
    return data.dtype, tuple(data.shape), str(data.device), tensor.requires_grad, content


def records(run: "Run") -> tuple[Any, ...]:
    return tuple(getattr(run, name, None) for name in RECORDS)


def guarded(measure: Callable[["Run"], Any], name: str) -> Callable[["Run"], Any]:
    """`measure` that raises MeasureError (naming it) when it changed its run or called
    pytest.skip(), pytest.fail() or sys.exit(); KeyboardInterrupt and pytest.exit() still stop."""
    def call(run: "Run") -> Any:
        before = records(run)
        held = run.fingerprints()
        try:
            value = measure(run)
        except Exception:
            _check(run, name, before, held)
            raise
        except BaseException as error:
            if not _stops_the_run(error):
                _check(run, name, before, held)
                raise MeasureError(f"measure {name!r} called {_called(error)}; a measure returns a number "
                                   "(skip or fail the whole test before the audit instead)") from None
            raise
        _check(run, name, before, held)
        return value

    call.__name__ = getattr(measure, "__name__", name)
    return call


def _check(run: "Run", name: str, before: tuple[Any, ...], held: dict[str, Any]) -> None:
    expected = {**run.fingerprints(), **held}
    changed = [part for part, value in run.held().items() if fingerprint(value) != expected.get(part)]
    changed += [field.lstrip("_") for field, old, new in zip(RECORDS, before, records(run)) if old is not new]
    if not changed:
        return
    for field, old in zip(RECORDS, before):
        setattr(run, field, old)
    reloaded = run.release()
    raise MeasureError(
        f"measure {name!r} changed {', '.join(changed)} of the run it was given; a measure must not modify "
        "its run (copy first: tensor.clone(), copy.deepcopy(run.model))"
        + ("; the run was reloaded for the next measure" if reloaded else
           "; this run was built by hand and cannot be reloaded, so later measures see the change"))


def _stops_the_run(error: BaseException) -> bool:
    """KeyboardInterrupt, GeneratorExit and pytest.exit() end the session; the rest is the measure's."""
    return isinstance(error, (KeyboardInterrupt, GeneratorExit)) or type(error).__name__ == "Exit"


def _called(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"sys.exit({error.code!r})"
    words = {"Skipped": "pytest.skip", "Failed": "pytest.fail", "XFailed": "pytest.xfail"}
    return f"{words.get(type(error).__name__, type(error).__name__)}({str(error)!r})"
