"""The main job end to end at the smoke budget, and the other `fragility` commands."""

import json
import os
import re
import subprocess
import sys

import matplotlib.image
import pytest

import pytest_fragility as pf
from pytest_fragility.cli import main, parse_variant

MEASURES = "path_norm,log_prod_of_spec,pacbayes_orig,marginal_likelihood_bound"


@pytest.fixture(scope="module")
def audited(shared_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    code = main(["audit", "--budget", "smoke", "--measures", MEASURES, "--cache", str(shared_cache),
                 "--report", str(out), "--no-progress"])
    return code, out, shared_cache


def test_audit_writes_the_json_report_of_every_measure(audited):
    code, out, _ = audited
    assert code == 0  # --fail-on defaults to never
    report = json.loads((out / "report.json").read_text())
    assert report["schema_version"] == 1 and report["environment"]["torch"]
    assert [a["measure"] for a in report["audits"]] == MEASURES.split(",")
    for audit in report["audits"]:
        assert audit["family"] == "fcn-mnist5k" and audit["budget"] == "smoke" and audit["form"] == "bound"
        # two seeds decide nothing: a dry run of the machinery, never a fragile verdict from noise
        assert audit["verdict"] == "inconclusive", (audit["measure"], audit["checks"])
        assert audit["power"]["dry_run"] and audit["power"]["text"].startswith("a dry run of the machinery")
        assert set(audit["curves"]) == {"base", "lr×0.5", "lr×2", "optimizer=sgd-momentum", "optimizer=adam",
                                        "label-noise=0.2", "label-noise=0.4"}
        assert {c["check"] for c in audit["checks"]} >= {"benign", "trend", "scaling", "value", "data"}
        assert audit["runs"]["total"] == 7 * 3 * 2


def test_the_terminal_says_what_the_audits_could_detect_and_that_smoke_is_a_dry_run(audited, capsys, tmp_path):
    _, _, cache = audited  # the same grid again: every network and value comes from the cache
    main(["audit", "--budget", "smoke", "--measures", MEASURES, "--cache", str(cache), "--report", str(tmp_path),
          "--no-progress"])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "audits detect" in line)
    assert line.startswith("A dry run of the machinery, not a verdict: with 2 seeds these 4 audits detect, "
                           "with 80% power (median [range] over measures): an exponent change ≥ ")
    assert line.endswith("; use the quick budget to decide")


def test_html_report_references_images_that_exist_and_decode(audited):
    _, out, _ = audited
    page = (out / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == len(MEASURES.split(","))
    for name in images:
        pixels = matplotlib.image.imread(out / name)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400
        assert pixels.std() > 0.05  # not a blank image
    assert "fragility audit --budget smoke" in page
    report = json.loads((out / "report.json").read_text())
    networks = report["networks"]
    assert networks["total"] == 42 and networks["trained"] + networks["cached"] == 42
    assert f"Networks: 42 ({networks['trained']} trained" in page


def test_second_run_loads_everything_from_the_cache(audited, tmp_path):
    _, _, cache = audited
    assert main(["audit", "--budget", "smoke", "--measures", MEASURES, "--cache", str(cache),
                 "--report", str(tmp_path), "--no-progress"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert all(a["runs"]["trained"] == 0 and a["runs"]["cached"] == 42 for a in report["audits"])


@pytest.mark.parametrize("fail_on, code", [("fragile", 0), ("inconclusive", 1)])
def test_fail_on_sets_the_exit_code(audited, tmp_path, fail_on, code):
    _, _, cache = audited  # every smoke verdict is inconclusive (asserted above)
    assert main(["audit", "--budget", "smoke", "--measures", MEASURES, "--cache", str(cache),
                 "--report", str(tmp_path), "--no-progress", "--fail-on", fail_on]) == code


@pytest.mark.parametrize("columns", [80, 200])
def test_piped_audit_output_has_no_blank_lines_and_whole_names(audited, tmp_path, columns):
    _, _, cache = audited
    names = MEASURES + ",log_prod_of_fro_over_margin,log_sum_of_spec_over_margin"
    done = subprocess.run([sys.executable, "-m", "pytest_fragility", "audit", "--budget", "smoke", "--measures", names,
                           "--cache", str(cache), "--report", str(tmp_path)],  # progress bars not switched off
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": str(columns)}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(line.strip() for line in lines), done.stdout
    assert "\x1b[" not in done.stdout and "\r" not in done.stdout
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in names.split(",")}
    assert set(rows) == set(names.split(",")), done.stdout  # one row per measure, its name whole
    assert all(len(line) <= columns for line in rows.values())


def test_listing_commands(capsys, shared_cache):
    assert main(["families"]) == 0
    assert "fcn-mnist5k" in capsys.readouterr().out
    assert main(["measures"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in pf.measures.available())
    assert main(["cache", "info", "--cache", str(shared_cache)]) == 0
    assert re.search(r": \d+ runs, [\d.]+ MB", capsys.readouterr().out)


def test_unknown_names_are_usage_errors(capsys, tmp_path):
    assert main(["audit", "--measures", "path_nrom", "--cache", str(tmp_path)]) == 2
    assert "unknown measure 'path_nrom'" in capsys.readouterr().err
    assert main(["audit", "--family", "fcn-mnist6k", "--cache", str(tmp_path)]) == 2
    assert "unknown family 'fcn-mnist6k'" in capsys.readouterr().err


@pytest.mark.parametrize("variant", [
    pf.perturb.lr(0.5), pf.perturb.lr(2.0), pf.perturb.optimizer("adam"), pf.perturb.optimizer("adam", lr=3e-4),
    pf.perturb.batch_size(32), pf.perturb.width(512), pf.perturb.init_scale(2.0), pf.perturb.weight_decay(5e-4),
    pf.perturb.train_after_fit(20), pf.data.label_noise(0.2), pf.data.dataset("mnist1d"), pf.data.pixel_shuffle(),
])
def test_every_variant_name_parses_back_to_the_variant(variant):
    assert parse_variant(variant.name) == variant


@pytest.mark.parametrize("spelled, variant", [
    ("lr*0.5", pf.perturb.lr(0.5)), ("lrx0.5", pf.perturb.lr(0.5)), ("lrX2", pf.perturb.lr(2.0)),
    ("lr * 0.5", pf.perturb.lr(0.5)), ("init*2", pf.perturb.init_scale(2.0)), ("initx0.5", pf.perturb.init_scale(0.5)),
])
def test_ascii_spellings_of_times_name_the_same_variant(spelled, variant):
    assert parse_variant(spelled) == variant


def test_unreadable_variant_names_say_how_to_write_them():
    with pytest.raises(pf.errors.ConfigurationError, match="cannot read variant 'learning-rate-half'"):
        parse_variant("learning-rate-half")


@pytest.mark.slow
def test_main_job_at_the_quick_budget_gives_the_expected_verdicts(tmp_path):
    """The default family at the default budget (about 5 minutes cold for all 33 measures; see
    docs/paper-reproduction.md): the marginal-likelihood bound depends on data and architecture
    only, so benign training changes cannot move it, and it follows label noise; path norm and
    PAC-Bayes origin hold under every perturbation and follow the label-noise ladder in level."""
    measures = "marginal_likelihood_bound,pacbayes_orig,path_norm,fro_dist"
    assert main(["audit", "--measures", measures, "--cache", str(tmp_path / "cache"),
                 "--report", str(tmp_path / "report"), "--no-progress"]) == 0
    audits = {a["measure"]: a for a in json.loads((tmp_path / "report" / "report.json").read_text())["audits"]}
    for name in ("marginal_likelihood_bound", "path_norm", "pacbayes_orig"):
        assert audits[name]["verdict"] == "stable", audits[name]["checks"]
        assert not audits[name]["power"]["dry_run"]
    adam = {c["check"]: c for c in audits["fro_dist"]["checks"] if c["variant"] == "optimizer=adam"}
    assert adam["value"]["verdict"] == "fragile", adam["value"]  # distance from init: ×2 under Adam
