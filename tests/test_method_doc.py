"""docs/method.md says what the code does: its table of defaults is the code's."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pytest_fragility.auditing.multiplicity import FEW_SEEDS
from pytest_fragility.spec.tolerances import RETIRED, Tolerances

METHOD = Path(__file__).resolve().parent.parent / "docs" / "method.md"


def documented_defaults() -> dict[str, str]:
    text = METHOD.read_text()
    table = text[text.index("### Defaults in one place"):].split("\n\n")[2]
    defaults = {}
    for line in table.splitlines()[2:]:
        keys, default = line.split("|")[1:3]
        for key in re.findall(r"`(\w+)`", keys):
            defaults[key] = default.strip()
    return defaults


def test_every_tolerance_and_its_default_is_in_the_table():
    code = {f.name: f.default for f in dataclasses.fields(Tolerances)}
    documented = documented_defaults()
    assert set(documented) == set(code)
    for key, default in code.items():
        assert documented[key] == str(default), key


def test_retired_keys_and_the_multiplicity_rule_are_described_as_the_code_applies_them():
    text = METHOD.read_text()
    assert all(f"`{key}`" in text for key in RETIRED)
    assert FEW_SEEDS == 3 and "with 4 seeds or more" in text and "with 2 or 3 seeds" in text
