"""With --fragility, a session of toy families (closed forms, no training) needs no torch."""

import subprocess
import sys
import textwrap


def test_toy_family_session_does_not_import_torch(tmp_path):
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        import sys
        import pytest_fragility as pf
        from pytest_fragility.testing import ClosedFormFamily, error_draw

        pf.families.register(ClosedFormFamily("toy-light"), replace=True)

        def pytest_sessionfinish(session):
            (session.config.rootpath / "modules.txt").write_text("\\n".join(sorted(sys.modules)))
    """))
    (tmp_path / "test_light.py").write_text(textwrap.dedent("""
        import pytest_fragility as pf

        @pf.fragility_check(family="toy-light", perturbations=[pf.perturb.lr(0.5)])
        def test_tracks(run):
            return 5 * run.test_error
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--fragility",
                             "--fragility-json", "out.json"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    modules = set((tmp_path / "modules.txt").read_text().split())
    assert "numpy" in modules  # the statistics ran
    assert "torch" not in modules and "safetensors" not in modules
