"""`pf.search` on closed-form families: the nearest counterexample, the budget, the example
database, and what a search that finds nothing may (and may not) say."""

import json
import math

import matplotlib.image
import pytest

import pytest_fragility as pf
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.report.search_html import write_search_html
from pytest_fragility.runs.cache import Cache
from pytest_fragility.searching.engine import replay
from pytest_fragility.searching.examples import ExampleDatabase
from pytest_fragility.testing import ClosedFormFamily, standard_normal

FAMILY = ClosedFormFamily("search-toy")
BASE_LR = FAMILY.recipe.lr


def noise(run):
    return math.exp(0.1 * standard_normal("search-test", run.variant, run.m, run.seed))


def breaks(lr_at=3.0, momentum_at=0.95):
    """A measure whose trend flips at lr × `lr_at` and at momentum ≥ `momentum_at`."""
    def measure(run):
        flipped = run.recipe.lr / BASE_LR >= lr_at or run.recipe.momentum >= momentum_at
        return run.m ** (-0.3 if flipped else 0.3) * noise(run)
    return measure


def never(run):
    return run.test_error * noise(run)


def test_the_nearest_counterexample_across_axes_is_reported(tmp_path):
    result = pf.search(breaks(), FAMILY, ["lr", "momentum"], cache=tmp_path, database=False)
    assert isinstance(result, pf.SearchResult) and not result.passed()
    names = [p.variant.name for p in result.counterexamples]
    assert result.counterexample.axis == "lr" and 3 <= result.counterexample.strength <= 3.3
    assert any(name.startswith("momentum=0.9") for name in names[1:])  # the other axis' break, farther away
    point = result.counterexample
    assert point.state == "counterexample" and point.benign["verdict"] == "stable"
    assert {row["check"] for row in point.broken} >= {"trend"}
    assert result.verdict == "counterexample" and "falsifying perturbation lr×3" in result.statement()


def test_a_search_that_finds_nothing_says_what_it_searched_and_could_detect_never_robustness(tmp_path):
    result = pf.search(never, FAMILY, ["lr", "momentum"], cache=tmp_path, database=False)
    assert result.passed() and result.counterexample is None
    data = result.to_dict()
    assert data["statement"].startswith("no counterexample within the searched space at this budget")
    assert "lr 0.125..8" in data["statement"] and "momentum 0..0.99" in data["statement"]
    assert data["power"]["exponent_change"] > 0.25 and "each point detects an exponent change" in data["power"]["text"]
    text = result.summary()
    assert "Not a proof of robustness" in text and "robust." not in text.replace("robustness", "")
    assert {ray["stop"] for ray in data["rays"]} == {"end of range"}


def test_max_networks_caps_the_networks_the_search_looks_at(tmp_path):
    result = pf.search(breaks(), FAMILY, ["lr", "momentum"], max_networks=150, cache=tmp_path, database=False)
    assert result.networks["used"] <= 150 and result.networks["points"] == 4  # base 30 + 4 points of 30
    assert any(o.stop == "network budget" for o in result.outcomes)
    with pytest.raises(ConfigurationError, match="max_networks must be a positive integer"):
        pf.search(never, FAMILY, ["lr"], max_networks=0, cache=tmp_path)


def test_counterexamples_are_saved_replayed_first_and_cleared_once_fixed(tmp_path):
    database = ExampleDatabase(Cache(tmp_path))
    found = pf.search(breaks(), FAMILY, ["lr"], cache=tmp_path, key="my-measure")
    (saved,) = database.load("my-measure", FAMILY.name)
    assert saved["axis"] == "lr" and saved["variant"]["name"] == found.counterexample.variant.name
    assert (tmp_path / ".gitignore").exists()  # the database lives in the cache folder, out of commits

    (point,) = replay(breaks(), FAMILY, key="my-measure", cache=tmp_path, progress=False)
    assert point.replayed and point.state == "counterexample"

    again = pf.search(breaks(), FAMILY, ["lr"], cache=tmp_path, key="my-measure")
    assert again.replayed and again.replayed[0].variant.name == saved["variant"]["name"]

    (fixed,) = replay(breaks(lr_at=100), FAMILY, key="my-measure", cache=tmp_path, progress=False)
    assert fixed.state == "holds"
    assert database.load("my-measure", FAMILY.name) == [] and not database.path("my-measure", FAMILY.name).exists()


def test_a_user_axis_changes_the_recipe_the_measure_reads(tmp_path):
    axis = pf.Axis("init", pf.perturb.init_scale, 0.25, 4.0, field="init_scale")

    def measure(run):
        return run.m ** (0.3 if run.recipe.init_scale < 2 else -0.3) * noise(run)

    result = pf.search(measure, FAMILY, [axis], cache=tmp_path, database=False)
    assert result.counterexample.axis == "init" and 2 <= result.counterexample.strength <= 2.2
    assert [a.name for a in result.axes] == ["init"] and result.axes[0].base == 1.0


def test_only_the_perturbation_checks_can_make_a_counterexample(tmp_path):
    with pytest.raises(ConfigurationError, match="data cannot make a perturbation a counterexample"):
        pf.search(never, FAMILY, ["lr"], checks=("trend", "data"), cache=tmp_path)
    narrow = pf.search(breaks(), FAMILY, ["lr"], checks=("scaling",), cache=tmp_path, database=False)
    assert [row["check"] for row in narrow.counterexample.rows] == ["scaling"]


def test_json_and_html_render_the_search(tmp_path):
    result = pf.search(breaks(), FAMILY, ["lr", "optimizer"], cache=tmp_path, database=False)
    data = json.loads(result.to_json())
    assert data["verdict"] == "counterexample" and data["counterexample"]["name"].startswith("lr×")
    assert {p["state"] for p in data["points"]} >= {"holds", "counterexample"}
    page = write_search_html(tmp_path / "report", [data], "pytest --fragility")
    text = page.read_text()
    assert "Falsifying perturbation" in text and "optimizer=adam" in text
    pixels = matplotlib.image.imread(tmp_path / "report" / "search-0.png")
    assert pixels.shape[0] > 200 and pixels.std() > 0.05


def test_the_database_keeps_one_example_per_axis_and_those_of_axes_not_searched(tmp_path):
    database = ExampleDatabase(Cache(tmp_path))
    pf.search(breaks(), FAMILY, ["lr", "momentum"], cache=tmp_path, key="k")
    assert sorted(e["axis"] for e in database.load("k", FAMILY.name)) == ["lr", "momentum"]
    pf.search(breaks(), FAMILY, ["lr"], cache=tmp_path, key="k")  # momentum's example is replayed and kept
    examples = database.load("k", FAMILY.name)
    assert sorted(e["axis"] for e in examples) == ["lr", "momentum"]
    pf.search(breaks(lr_at=100, momentum_at=2), FAMILY, ["lr"], cache=tmp_path, key="k")  # fixed everywhere
    assert database.load("k", FAMILY.name) == []


def test_an_axis_of_the_optimizer_s_own_learning_rate(tmp_path):
    adam_lr = pf.Axis("adam-lr", build=lambda f: pf.perturb.optimizer("adam", lr=1e-3 * f), low=1 / 8, high=8,
                      base=1.0)

    def measure(run):  # flips once Adam's rate is 4× its standard one
        return run.m ** (-0.3 if run.recipe.optimizer == "adam" and run.recipe.lr >= 4e-3 else 0.3) * noise(run)

    point = pf.search(measure, FAMILY, [adam_lr], cache=tmp_path, database=False).counterexample
    assert point.variant.name.startswith("optimizer=adam@0.00") and 4 <= point.strength <= 4.4
