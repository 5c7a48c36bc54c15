"""How a comparison reads: each changed number once, ratios as the audit writes them."""

import math

from pytest_fragility.report import baseline


def summary(ratio: float, exponent: float, verdict: str = "fragile", **audit) -> dict:
    checks = [{"check": "benign", "variant": "lr×2", "verdict": "stable", "measure_exponent": None,
               "error_exponent": -0.5, "difference": 0.01}]
    for check in ("trend", "scaling", "value"):
        checks.append({"check": check, "variant": "lr×2", "verdict": verdict if check == "value" else "stable",
                       "measure_exponent": exponent, "error_exponent": -0.5,
                       "difference": {"scaling": exponent + 0.5, "value": math.log(ratio)}.get(check)})
    return {"measure": "m", "family": "f", "budget": "quick", "form": "raw", "scale": "positive",
            "verdict": verdict, "checks": checks, **audit}


def test_a_shared_exponent_is_reported_once_and_a_ratio_as_a_ratio():
    lines = [d.describe() for d in baseline.compare(summary(1.5, -0.2), summary(164, 0.3))]
    assert lines == [
        "scaling [lr×2]: Δ exponent +0.300 → +0.800 (worse)",
        "value [lr×2]: mean ratio ×1.5 → ×164 (worse)",
        "lr×2: measure exponent -0.200 → +0.300 (worse)",
    ]


def test_a_log_scale_measure_shows_differences_and_verdicts_say_which_way():
    old, new = summary(1.5, -0.2, scale="log"), summary(1.5, -0.2, verdict="stable", scale="log")
    new["checks"][3]["difference"] = 1.0
    lines = [d.describe() for d in baseline.compare(old, new)]
    assert lines == ["audit: verdict fragile → stable (changed)",
                     "value [lr×2]: verdict fragile → stable (changed)",
                     "value [lr×2]: mean difference Δ+0.405 → Δ+1 (worse)"]


def test_another_budget_is_a_difference_of_the_audit():
    lines = [d.describe() for d in baseline.compare(summary(1.5, -0.2), summary(1.5, -0.2, budget="smoke"))]
    assert lines == ["audit: budget quick → smoke (not comparable: refresh the baseline to change it)"]
