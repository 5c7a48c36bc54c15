"""The `fragility` command (also `python -m pytest_fragility`).

    fragility audit      audit the stock measures on a built-in family (the main job)
    fragility search     the nearest benign training change that breaks a measure
    fragility families   list families          fragility measures   list measures
    fragility cache info|clear                  fragility compare A.json B.json
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from pytest_fragility.errors import ConfigurationError, FragilityError, ReportError
from pytest_fragility.spec import ladder, perturb
from pytest_fragility.spec.names import DEFAULT_CHECKS, validate_checks
from pytest_fragility.spec.variants import Variant, canonical_name

DEFAULT_FAMILY = "fcn-mnist5k"
DEFAULT_PERTURBATIONS = "lr×0.5,lr×2,optimizer=sgd-momentum,optimizer=adam"
DEFAULT_LADDER = "label-noise=0.2,label-noise=0.4"  # changes of the data alone: the network stays the same
FAIL_ON = ("fragile", "inconclusive", "never")


def parse_variant(text: str, named: dict[str, Variant] | None = None) -> Variant:
    """A variant from its report name: lr×0.5, optimizer=adam[@0.001], batch=32, width=512,
    init×2, wd=0.0005, train-after-fit=20, label-noise=0.2, dataset=NAME, pixel-shuffle.
    In ASCII, × is written * or x: lr*0.5, lrx0.5, init*2, initx2."""
    text = text.strip()
    if named and text in named:
        return named[text]
    spelled, text = text, canonical_name(text)
    number = r"([0-9.eE+-]+)"
    patterns = [
        (rf"lr×{number}", lambda g: perturb.lr(float(g[0]))),
        (r"optimizer=([a-z-]+)(?:@([0-9.eE+-]+))?", lambda g: perturb.optimizer(g[0], float(g[1]) if g[1] else None)),
        (rf"momentum={number}", lambda g: perturb.momentum(float(g[0]))),
        (r"batch=(\d+)", lambda g: perturb.batch_size(int(g[0]))),
        (r"width=(\d+)", lambda g: perturb.width(int(g[0]))),
        (rf"init×{number}", lambda g: perturb.init_scale(float(g[0]))),
        (rf"wd={number}", lambda g: perturb.weight_decay(float(g[0]))),
        (r"train-after-fit=(\d+)", lambda g: perturb.train_after_fit(int(g[0]))),
        (rf"label-noise={number}", lambda g: ladder.label_noise(float(g[0]))),
        (r"dataset=([\w-]+)", lambda g: ladder.dataset(g[0])),
        (r"pixel-shuffle", lambda g: ladder.pixel_shuffle()),
    ]
    for pattern, build in patterns:
        match = re.fullmatch(pattern, text)
        if match:
            return build(match.groups())
    raise ConfigurationError(
        f"cannot read variant {spelled!r}; write e.g. lr×0.5 (or lr*0.5, lrx0.5), optimizer=adam, batch=32, width=512, "
        "init×2 (init*2), "
        "wd=0.0005, train-after-fit=20, label-noise=0.2, dataset=mnist1d, pixel-shuffle"
    )


def _plugin_manager() -> Any:
    """pluggy manager for extension packages (entry-point group `pytest_fragility`).

    Like pytest's own manager it accepts unmarked ``pytest_fragility_*`` functions, so one
    module serves as both a pytest plugin and a command extension.
    """
    import pluggy

    from pytest_fragility import families
    from pytest_fragility.plugin import hookspec

    class Manager(pluggy.PluginManager):
        def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
            options = super().parse_hookimpl_opts(plugin, name)
            if options is None and name.startswith("pytest_fragility_") and callable(getattr(plugin, name, None)):
                return {"wrapper": False, "hookwrapper": False, "optionalhook": False,
                        "tryfirst": False, "trylast": False, "specname": None}
            return options

    manager = Manager("pytest")
    manager.add_hookspecs(hookspec)
    manager.load_setuptools_entrypoints("pytest_fragility")
    for registered in manager.hook.pytest_fragility_families(config=None):
        families.register_returned(registered)
    return manager


def _named_variants(manager: Any) -> dict[str, Variant]:
    named: dict[str, Variant] = {}
    for mapping in manager.hook.pytest_fragility_perturbations(config=None):
        named.update(mapping or {})
    return named


def _register_measures(manager: Any) -> None:
    from pytest_fragility.measures import registry

    for specs in manager.hook.pytest_fragility_measures(config=None):
        for spec in specs or []:
            registry.register(spec, replace=True)


def _family_and_measures(args: argparse.Namespace, manager: Any) -> tuple[Any, list[str]]:
    """The family and the measures asked for (every stock measure when none is named), plugins'
    measures included; an unknown name fails here, before any training."""
    from pytest_fragility import families, measures

    _register_measures(manager)
    family = families.get(args.family)
    names = _split(args.measures) if args.measures else measures.available()
    for name in names:
        measures.get(name)
    return family, names


def command_audit(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pytest_fragility.auditing.engine import audit
    from pytest_fragility.auditing.measuring import precompute
    from pytest_fragility.report.environment import environment
    from pytest_fragility.report.html import write_html
    from pytest_fragility.report.json_report import build_report, write_report
    from pytest_fragility.report.terminal import convergence_lines, power_summary, print_lines, render_summary
    from pytest_fragility.runs.cache import Cache, default_cache_dir
    from pytest_fragility.train.executors import get_executor

    started = time.perf_counter()
    console = Console(stderr=False)
    manager = _plugin_manager()
    family, names = _family_and_measures(args, manager)
    named = _named_variants(manager)
    perturbations = [parse_variant(t, named) for t in _split(args.perturbations)]
    rungs = [parse_variant(t, named) for t in _split(args.ladder)]
    store = Cache(args.cache or default_cache_dir())
    _check_audit_options(args, family, store)
    console.print(f"[bold]fragility audit[/bold]: {len(names)} measures on {family.name}, budget {args.budget}, "
                  f"device {args.device or 'cpu'}; perturbations {', '.join(v.name for v in perturbations) or 'none'}; "
                  f"ladder {', '.join(v.name for v in rungs) or 'none'}; cache {store.root}", soft_wrap=True)
    executor = get_executor(args.executor, address=args.ray_address)
    runs = family.runs(args.budget, [*perturbations, *rungs], device=args.device, cache=store,
                       data_dir=args.data_dir, progress=not args.no_progress, executor=executor)
    training = runs.training
    console.print(f"runs: {len(runs)} ({training.trained} trained, {training.cached} from cache, "
                  f"{runs.non_converged} not converged, {len(training.failed)} failed)", soft_wrap=True)
    for failure in training.failed[:5]:
        console.print(f"[magenta]training failed:[/magenta] {failure.message}", soft_wrap=True)
    precompute(names, runs, store.values, progress=not args.no_progress, executor=executor)
    payloads = []
    for name in names:
        result = audit(name, family, perturbations, rungs, checks=_split(args.checks), budget=args.budget,
                       device=args.device, cache=store, data_dir=args.data_dir, form=args.form,
                       progress=not args.no_progress, runs=runs)
        payloads.append({"test": f"fragility audit::{name}", **result.to_dict()})
    rows = [{"test": p["measure"], "audit": p} for p in payloads]
    console.out(render_summary(rows, color=console.is_terminal, width=console.width, label="measure"))
    lost = convergence_lines(payloads[0], "") if payloads else []  # every audit read the same runs
    detectable = power_summary(payloads)
    if lost or detectable:
        console.out(print_lines([*lost, *([detectable] if detectable else [])], color=console.is_terminal))
    command = _command_line(args.argv)
    networks = {"total": len(runs), "trained": training.trained, "cached": training.cached,
                "non_converged": runs.non_converged, "failed": len(training.failed)}
    document = build_report(payloads, environment(), {"command": command, "networks": networks}, sort=False)
    manager.hook.pytest_fragility_update_json(config=None, report=document)
    json_path = Path(args.json) if args.json else Path(args.report) / "report.json"
    figures = None if store.read_only() else store.root / "figures"
    try:
        write_report(json_path, document)
        index = write_html(Path(args.report), document, command=command, figure_cache=figures)
    except OSError as error:
        raise ReportError(f"could not write the report ({type(error).__name__}: {error}); the measure values "
                          f"are cached in {store.root}, so a rerun only writes the report") from None
    console.print(f"report: {index}  json: {json_path}  ({time.perf_counter() - started:.1f} s)", soft_wrap=True)
    verdicts = {p["verdict"] for p in payloads}
    failing = {"fragile": {"fragile", "error"}, "inconclusive": {"fragile", "error", "inconclusive"},
               "never": set()}[args.fail_on]
    return 1 if verdicts & failing else 0


def _check_audit_options(args: argparse.Namespace, family: Any, store: Any) -> None:
    """Every option that could fail after training fails now: checks, budget, device, cache,
    data folder and output paths."""
    from pytest_fragility.files import check_output
    from pytest_fragility.runs.devices import resolve_device

    validate_checks(_split(args.checks))
    family.budget(args.budget)
    resolve_device(args.device)
    store.check()
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ConfigurationError(f"--data-dir {args.data_dir}: no such folder")
    check_output(Path(args.report), folder=True, option="--report")
    if args.json:
        check_output(Path(args.json), folder=False, option="--json")


def command_search(args: argparse.Namespace) -> int:
    """Search each measure for the nearest benign training change that makes it fragile."""
    from rich.console import Console

    from pytest_fragility.report.environment import environment
    from pytest_fragility.report.json_report import build_report, write_report
    from pytest_fragility.report.search_html import write_search_html
    from pytest_fragility.report.search_terminal import render_search
    from pytest_fragility.runs.cache import Cache, default_cache_dir
    from pytest_fragility.searching import axes
    from pytest_fragility.searching.engine import search
    from pytest_fragility.train.executors import get_executor

    console = Console(stderr=False)
    manager = _plugin_manager()
    family, names = _family_and_measures(args, manager)
    axes.register_from_hooks(manager.hook.pytest_fragility_search_axes(config=None))
    chosen = axes.resolve(_split(args.axes))
    store = Cache(args.cache or default_cache_dir())
    report_dir = Path(args.report)
    report_dir.mkdir(parents=True, exist_ok=True)  # an unwritable report folder fails before any training
    console.print(f"[bold]fragility search[/bold]: {', '.join(names)} on {family.name}, budget {args.budget}, axes "
                  f"{', '.join(a.name for a in chosen)}, at most {args.max_networks or 'any number of'} networks "
                  f"per measure; cache {store.root}", soft_wrap=True)

    def show(point: Any) -> None:
        console.print(f"  {point.axis:<16} {point.variant.name:<24} {point.state:<15} "
                      f"({point.trained} trained)", highlight=False, soft_wrap=True)

    executor = get_executor(args.executor, address=args.ray_address)
    results = []
    for name in names:
        result = search(name, family, chosen, args.budget, args.max_networks, device=args.device, cache=store,
                        data_dir=args.data_dir, form=args.form, executor=executor, progress=not args.no_progress,
                        on_point=None if args.no_progress else show)
        payload = result.to_dict()
        console.print(render_search(payload, color=console.is_terminal), soft_wrap=True)
        results.append(payload)
    command = _command_line(args.argv)
    document = build_report([], environment(), {"command": command, "searches": results}, sort=False)
    json_path = Path(args.json) if args.json else report_dir / "search.json"
    write_report(json_path, document)
    page = write_search_html(report_dir, results, command)
    console.print(f"report: {page}  json: {json_path}", soft_wrap=True)
    return 1 if args.fail_on == "counterexample" and any(r["counterexample"] for r in results) else 0


def _split(text: str) -> list[str]:
    return [t for t in (s.strip() for s in text.split(",")) if t]


def _command_line(argv: Sequence[str]) -> str:
    return "fragility " + " ".join(shlex.quote(a) for a in argv)


def command_families(args: argparse.Namespace) -> int:
    import os

    from pytest_fragility import families
    from pytest_fragility.families.datasets import LOCAL_DATASETS, local_dataset_present

    _plugin_manager()
    data_dir = args.data_dir or os.environ.get("FRAGILITY_DATA_DIR")
    for name in families.available():
        family = families.get(name)
        dataset = getattr(getattr(family, "recipe", None), "dataset", None)
        missing = dataset in LOCAL_DATASETS and not local_dataset_present(dataset, Path(data_dir) if data_dir else None)
        print(f"{name:<20} {getattr(family, 'description', '')}" + ("  [local data not found]" if missing else ""))
        if args.budget:
            print(f"    {args.budget}: {_budget_text(family, args.budget)}")
    return 0


def _budget_text(family: Any, budget: str) -> str:
    """A family's grid at `budget` and the recipe changes the budget makes to it."""
    budgets = getattr(family, "budgets", {})
    if budget not in budgets:
        return f"no such budget (its budgets: {', '.join(budgets) or 'none'})"
    if hasattr(family, "describe_budget"):
        return family.describe_budget(budget)
    return family.budget(budget).describe_grid()


def command_measures(args: argparse.Namespace) -> int:
    from pytest_fragility import measures

    _register_measures(_plugin_manager())
    for name in measures.available():
        spec = measures.get(name)
        flags = ", ".join(f for f, on in (("random", spec.random), ("not post-mortem", not spec.post_mortem)) if on)
        print(f"{name:<30} {spec.scale:<8} {spec.cost:<7} {spec.reference}" + (f" ({flags})" if flags else ""))
    return 0


def command_cache(args: argparse.Namespace) -> int:
    from pytest_fragility.runs.cache import Cache, default_cache_dir

    store = Cache(args.cache or default_cache_dir())
    if args.action == "clear":
        print(f"removed {store.clear()} runs from {store.root}")
    else:
        info = store.info()
        orphans = f", {info['orphans']} orphan temporary file(s) (removed by clear)" if info["orphans"] else ""
        print(f"{info['path']}: {info['runs']} runs, {info['bytes'] / 1e6:.1f} MB{orphans}")
    return 0


def command_compare(args: argparse.Namespace) -> int:
    """Exit 1 when any audit of B regressed against A (worse verdict or exponent drift); exit 2
    (from main) when either file is not a report of this schema version."""
    from pytest_fragility.report import baseline
    from pytest_fragility.report.json_report import read_report

    if not (math.isfinite(args.atol) and args.atol >= 0):
        raise ConfigurationError(f"--atol must be a finite number >= 0, got {args.atol}")
    old, new = read_report(Path(args.old)), read_report(Path(args.new))
    before = {_audit_key(a): baseline.summarize(a) for a in old.get("audits", [])}
    after = {_audit_key(a): baseline.summarize(a) for a in new.get("audits", [])}
    regressions = changes = 0
    for k in sorted(set(before) | set(after)):
        label = " ".join(p for p in k if p)
        if k not in after:
            print(f"{label}: missing from {args.new} (regression)")
            regressions += 1
            continue
        if k not in before:
            print(f"{label}: new in {args.new}")
            continue
        for difference in baseline.compare(before[k], after[k], atol=args.atol):
            print(f"{label}: {difference.describe()}")
            changes += 1
            regressions += difference.regression
    print(f"{regressions} regression(s), {changes} change(s)")
    return 1 if regressions or (args.strict and changes) else 0


def _audit_key(audit: dict[str, Any]) -> tuple[str, str, str]:
    return audit.get("test") or "", audit["measure"], audit["family"]


def _training_options(parser: argparse.ArgumentParser) -> None:
    """Where networks come from: the cache, local data and the executor (audit and search alike)."""
    parser.add_argument("--cache", help="model cache (default FRAGILITY_CACHE_DIR or ./.fragility)")
    parser.add_argument("--data-dir", help="folder of local datasets (default FRAGILITY_DATA_DIR)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="where networks train")
    parser.add_argument("--ray-address", help="Ray cluster (default RAY_ADDRESS, else a local Ray)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragility", description="Audit generalization measures for fragility.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("audit", help="audit the stock measures on a family (the main job)")
    run.add_argument("--family", default=DEFAULT_FAMILY, help=f"family to train (default {DEFAULT_FAMILY})")
    run.add_argument("--measures", help="comma-separated measure names (default: every registered measure)")
    run.add_argument("--budget", default="quick", help="smoke, quick (default), standard, paper")
    run.add_argument("--device", default=None, help="cpu (default), cuda, cuda:N, auto")
    run.add_argument("--perturbations", default=DEFAULT_PERTURBATIONS, help=f"default {DEFAULT_PERTURBATIONS}")
    run.add_argument("--ladder", default=DEFAULT_LADDER, help=f"data rungs (default {DEFAULT_LADDER})")
    run.add_argument("--checks", default=",".join(DEFAULT_CHECKS), help="checks to run")
    run.add_argument("--form", choices=("bound", "raw"), default="bound", help="audited form of the measures")
    run.add_argument("--report", default="fragility-report", help="HTML report folder (default fragility-report)")
    run.add_argument("--json", help="JSON report path (default <report>/report.json)")
    run.add_argument("--fail-on", choices=FAIL_ON, default="never",
                     help="exit 1 when a measure is fragile (or inconclusive); default never")
    _training_options(run)
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(handler=command_audit)
    find = sub.add_parser("search", help="search for the nearest benign training change that breaks a measure")
    find.add_argument("--family", default=DEFAULT_FAMILY, help=f"family to train (default {DEFAULT_FAMILY})")
    find.add_argument("--measures", required=True, help="comma-separated measure names")
    find.add_argument("--axes", default="lr,momentum,optimizer,batch",
                      help="axes: lr, momentum, optimizer, batch, wd, width, init, train-after-fit, or a plugin's "
                           "(default lr,momentum,optimizer,batch)")
    find.add_argument("--budget", default="quick", help="grid of every point: smoke, quick (default), standard, paper")
    find.add_argument("--max-networks", type=int, help="networks one measure's search may look at (default: no cap)")
    find.add_argument("--device", default=None, help="cpu (default), cuda, cuda:N, auto")
    find.add_argument("--form", choices=("bound", "raw"), default="bound", help="audited form of the measures")
    find.add_argument("--report", default="fragility-search", help="HTML folder (default fragility-search)")
    find.add_argument("--json", help="JSON report path (default <report>/search.json)")
    find.add_argument("--fail-on", choices=("counterexample", "never"), default="never",
                      help="exit 1 when a counterexample is found; default never")
    _training_options(find)
    find.add_argument("--no-progress", action="store_true", help="no progress bars or per-point lines")
    find.set_defaults(handler=command_search)
    listing = sub.add_parser("families", help="list families (and whether local data is present)")
    listing.add_argument("--data-dir", help="folder of local datasets (default FRAGILITY_DATA_DIR)")
    listing.add_argument("--budget", help="also show each family's grid at this budget and its recipe changes")
    listing.set_defaults(handler=command_families)
    sub.add_parser("measures", help="list measures").set_defaults(handler=command_measures)
    cache = sub.add_parser("cache", help="inspect or clear the model cache")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--cache", help="model cache (default FRAGILITY_CACHE_DIR or ./.fragility)")
    cache.set_defaults(handler=command_cache)
    compare = sub.add_parser("compare", help="compare two JSON reports; exit 1 on a regression, 2 on unusable input")
    compare.add_argument("old")
    compare.add_argument("new")
    compare.add_argument("--atol", type=float, default=0.05, help="exponent drift tolerance (default 0.05)")
    compare.add_argument("--strict", action="store_true", help="exit 1 on any change, not only regressions")
    compare.set_defaults(handler=command_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.handler(args)
    except FragilityError as error:
        print(f"fragility: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # networks and values stored so far are kept; a rerun resumes
        print("fragility: interrupted; what was trained and measured so far is cached, a rerun resumes",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
