"""What pytest-fragility adds to a plain `pytest --collect-only` when --fragility is off.

Writes a temporary suite of `--tests` @fragility_check tests on built-in family names
(without --fragility they are skipped at collection, so nothing is trained or
loaded), then times `python -m pytest --collect-only -q` in fresh interpreters, with
the plugin and with `-p no:fragility`, alternating the two so that load on a shared
machine hits both alike. Prints the median of each, their ratio and the absolute
overhead (target: at most 50 ms).

Both runs import the test modules, and so the decorator (`pytest_fragility.check`);
the `fragility` marker is declared in the suite's ini file so that `-p no:fragility`
does not add unknown-marker warnings. The difference is the plugin itself: its import,
options, ini keys, hook specs and collection hook.

    python benchmarks/bench_plugin_overhead.py                 # 20 tests, 15 runs each
    python benchmarks/bench_plugin_overhead.py --repeats 31
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

FAMILIES = ("fcn-mnist5k", "fcn-mnist1d", "fcn-digits", "cnn-mnist1d")
TARGET_MS = 50.0

TEST_TEMPLATE = '''
import pytest_fragility as pf


@pf.fragility_check(family="{family}", perturbations=[pf.perturb.lr(0.5), pf.perturb.optimizer("adam")],
                    data=[pf.data.label_noise(0.2)], tolerance={{"exponent": 0.3}})
def test_measure_{index}(run):
    return float(sum(p.abs().sum() for p in run.model.parameters()))
'''

INI = """[pytest]
markers =
    fragility(spec): a fragility audit
"""


def write_suite(root: Path, n_tests: int) -> None:
    """`n_tests` decorated tests, five to a module."""
    (root / "pytest.ini").write_text(INI)
    for index in range(n_tests):
        module = root / f"test_suite_{index // 5}.py"
        family = FAMILIES[index % len(FAMILIES)]
        with module.open("a") as out:
            out.write(TEST_TEMPLATE.format(family=family, index=index))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def collect_seconds(root: Path, extra: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one `pytest --collect-only -q` in a fresh interpreter.

    CPU time (user + system of the child) is the steadier figure on a shared machine,
    where waiting for a core inflates wall time.
    """
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra]
    # As a user runs it: no extra options or plugins, and bytecode caching on (pytest then
    # caches the assertion-rewritten test modules instead of rewriting them every run).
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONDONTWRITEBYTECODE")}
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=20, help="decorated tests in the suite (default 20)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each variant (default 15)")
    args = parser.parse_args()

    variants = {"with pytest-fragility": [], "with -p no:fragility": ["-p", "no:fragility"]}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_suite(root, args.tests)
        for extra in variants.values():  # warm-up: bytecode caches, file system
            collect_seconds(root, extra)
        for repeat in range(args.repeats):
            order = list(variants.items()) if repeat % 2 == 0 else list(reversed(variants.items()))
            for name, extra in order:
                times[name].append(collect_seconds(root, extra))

    print(f"pytest --collect-only -q on {args.tests} @fragility_check tests, {args.repeats} runs each "
          f"(python {platform.python_version()}, pytest {pytest.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs)")
    on, off = times["with pytest-fragility"], times["with -p no:fragility"]
    for column, label in ((0, "wall"), (1, "CPU")):
        medians = {}
        for name, samples in times.items():
            ms = [1000 * sample[column] for sample in samples]
            medians[name] = statistics.median(ms)
            low, _, high = statistics.quantiles(ms, n=4)
            print(f"  {label:<4} {name:<22} median {medians[name]:7.1f} ms  (quartiles {low:.1f}-{high:.1f})")
        with_plugin, without = medians["with pytest-fragility"], medians["with -p no:fragility"]
        overhead = with_plugin - without
        # runs of one repeat are back to back, so their difference cancels slow drifts in load
        paired = statistics.median(1000 * (a[column] - b[column]) for a, b in zip(on, off))
        verdict = "within" if overhead <= TARGET_MS else "OVER"
        print(f"  {label:<4} ratio {with_plugin / without:.3f}, overhead {overhead:+.1f} ms "
              f"({verdict} the {TARGET_MS:.0f} ms target); median paired difference {paired:+.1f} ms")


if __name__ == "__main__":
    main()
