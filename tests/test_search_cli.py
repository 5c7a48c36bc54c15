"""`fragility search` end to end on real networks at the smoke budget (a few tiny networks)."""

import json

from pytest_fragility.cli import main


def test_search_command_writes_the_block_json_and_page(shared_cache, tmp_path, capsys):
    code = main(["search", "--family", "fcn-mnist5k", "--measures", "path_norm", "--axes", "optimizer",
                 "--budget", "smoke", "--max-networks", "18", "--cache", str(shared_cache),
                 "--report", str(tmp_path), "--no-progress"])
    assert code == 0  # --fail-on defaults to never
    out = capsys.readouterr().out
    assert "fragility search of path_norm on fcn-mnist5k" in out and "dry run of the machinery" in out
    lines = out.splitlines()  # piped: every line whole, however long (the cache path makes these > 80)
    assert any(line.startswith("fragility search: path_norm") and line.endswith(f"cache {shared_cache}")
               for line in lines)
    assert any(line.startswith("report: ") and line.endswith(str(tmp_path / "search.json")) for line in lines)
    (search,) = json.loads((tmp_path / "search.json").read_text())["searches"]
    assert search["measure"] == "path_norm" and search["budget"] == "smoke"
    assert search["networks"]["used"] <= 18 and search["networks"]["points"] == 2
    assert [p["name"] for p in search["points"]] == ["optimizer=sgd-momentum", "optimizer=nesterov"]
    assert (tmp_path / "search.html").exists() and (tmp_path / "search-0.png").exists()


def test_search_command_rejects_unknown_axes_before_training(tmp_path, capsys):
    assert main(["search", "--measures", "path_norm", "--axes", "lr,learning-rate", "--cache", str(tmp_path),
                 "--report", str(tmp_path / "r")]) == 2
    assert "unknown search axis 'learning-rate'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
