"""The ``eval`` command: load a suite, run it with a progress bar, print the matrix, write reports.

Exit codes: 0 when every cell reaches its test's threshold, 1 when one does not (or the file or
--max-cost stops the run), 2 for usage errors, 130 after Ctrl-C (the reports then hold what finished).
The command is declared here (``app.py`` registers it) and, like every command, imports the
machinery it runs only when it runs, so ``llmswitch --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    console,
    default_targets,
    guarded,
    load,
    note,
)

if TYPE_CHECKING:
    from ..config import Settings
    from ..eval.cache import Cache
    from ..eval.results import Cell, Results
    from ..eval.runner import RunOptions
    from ..eval.spec import Suite

__all__ = ["EvalOptions", "eval_command", "run_eval", "write_starter"]


@guarded
def eval_command(
    file: Annotated[str, typer.Argument(metavar="FILE.yaml|init", help="the eval file (.yaml or .json); 'init' "
                                        "writes a starter file")],
    init_path: Annotated[str | None, typer.Argument(metavar="[OUT]", help="with init: where to write "
                                                    "(default eval.yaml)")] = None,
    output: Annotated[list[Path] | None, typer.Option("--output", "-o", metavar="FILE", help="write results: "
                      ".json (full, stable schema), .csv, .xml (JUnit), .html (report); repeat for several")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="send every call; neither read nor write the "
                                           "response cache")] = False,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", metavar="DIR", help="response cache "
                         "(default: the user cache directory)")] = None,
    filter: Annotated[list[str] | None, typer.Option("--filter", metavar="[test:|target:]PATTERN", help="run only "
                      "matching cells (substring or glob); repeat for several")] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", min=0.0, metavar="USD", help="stop before the "
                        "estimated spend passes this")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", metavar="OLD.json", help="mark regressions and "
                        "improvements against an earlier results file")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, metavar="N",
                                             help="calls in flight per provider (a route counts as one)")] = 8,
    force: Annotated[bool, typer.Option("--force", help="with init: overwrite OUT")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, metavar="SECONDS",
                                           help="per call, failover included")] = 120.0,
    config: Annotated[str | None, typer.Option("--config", "-c", metavar="FILE", help="providers file (default: "
                      "$LLMSWITCH_CONFIG, ./providers.yaml, else the built-in demo)")] = None,
) -> None:
    """Run test cases (prompts × targets × tests, with assertions) and print a pass/fail matrix.

    Exit 1 when a test is under its threshold, so it gates CI. Responses are cached: rerunning after
    editing assertions sends nothing. `llmswitch eval init` writes a starter file for your targets.
    """
    if file == "init":
        code = write_starter(init_path, config, force)
    elif init_path is not None:
        raise typer.BadParameter(f"unexpected extra argument {init_path!r} (only 'init' takes OUT)")
    else:
        code = run_eval(EvalOptions(file=file, outputs=output or [], config=config, no_cache=no_cache,
                                    cache_dir=cache_dir, filters=filter or [], max_cost=max_cost, baseline=baseline,
                                    concurrency=concurrency, timeout=timeout))
    if code:
        raise typer.Exit(code)


@dataclass(frozen=True)
class EvalOptions:
    file: str
    outputs: Sequence[Path]
    config: str | None = None
    no_cache: bool = False
    cache_dir: Path | None = None
    filters: Sequence[str] = ()
    max_cost: float | None = None
    baseline: Path | None = None
    concurrency: int = 8
    timeout: float = 120.0


def _matches(pattern: str, *names: str) -> bool:
    import fnmatch

    pattern = pattern.casefold()
    if not any(ch in pattern for ch in "*?["):
        return any(pattern in name.casefold() for name in names)
    return any(fnmatch.fnmatchcase(name.casefold(), pattern) for name in names)


def select(cells: list[Cell], filters: Sequence[str]) -> list[Cell]:
    """``test:PATTERN`` and ``target:PATTERN`` narrow one axis (repeats of a kind are OR'ed); a bare
    PATTERN keeps cells whose test, target or prompt matches. Substrings, or globs with * ? [."""
    by_kind: dict[str, list[str]] = {"test": [], "target": [], "any": []}
    for spec in filters:
        kind, sep, pattern = spec.partition(":")
        if sep and kind in ("test", "target"):
            by_kind[kind].append(pattern)
        else:
            by_kind["any"].append(spec)

    def keep(cell: Cell) -> bool:
        test, target = cell.test.label, cell.target.label
        return (not by_kind["test"] or any(_matches(p, test) for p in by_kind["test"])) \
            and (not by_kind["target"] or any(_matches(p, target, cell.target.model) for p in by_kind["target"])) \
            and (not by_kind["any"] or any(_matches(p, test, target, cell.target.model, cell.prompt.label)
                                           for p in by_kind["any"]))

    return [cell for cell in cells if keep(cell)]


def _check_outputs(outputs: Sequence[Path]) -> None:
    from ..eval.report_files import FORMATS

    for path in outputs:
        if path.suffix.lower() not in FORMATS:
            raise CliError(f"-o {path}: the extension picks the format; use one of {', '.join(sorted(FORMATS))}",
                           code=EXIT_USAGE)
        if not path.parent.is_dir():
            raise CliError(f"-o {path}: no such directory {str(path.parent)!r}", code=EXIT_USAGE)


def run_eval(opts: EvalOptions) -> int:
    from ..eval.cache import Cache
    from ..eval.report_files import apply_baseline, load_baseline, write
    from ..eval.report_text import print_failures, print_matrix
    from ..eval.runner import RunOptions, build_cells
    from ..eval.spec import load_suite
    from ._common import secret_values, target_problem

    _check_outputs(opts.outputs)
    if not Path(opts.file).is_file():
        raise CliError(f"{opts.file}: no such eval file (llmswitch eval init {opts.file} writes a starter)",
                       code=EXIT_USAGE)
    before = load_baseline(opts.baseline) if opts.baseline is not None else None
    loaded = load(opts.config)
    settings = loaded.settings
    suite = load_suite(opts.file, lambda name: target_problem(settings, name))
    cells = select(build_cells(suite), opts.filters)
    if not cells:
        raise CliError(f"--filter {' '.join(opts.filters)}: no cell matches (tests: "
                       f"{', '.join(t.label for t in suite.tests)}; targets: "
                       f"{', '.join(t.label for t in suite.targets)})", code=EXIT_USAGE)
    cache = Cache(opts.cache_dir, enabled=not opts.no_cache)
    options = RunOptions(concurrency=opts.concurrency, max_cost=opts.max_cost, timeout=opts.timeout)
    results = _run(suite, settings, cache, options, cells, secret_values(settings), loaded.source)
    if before is not None:
        apply_baseline(results, before)
    out = console()
    print_matrix(results, out)
    print_failures(results, console(stderr=True))
    for path in opts.outputs:
        write(results, path)
        note(f"wrote {path}")
    if results.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if results.failed or results.aborted else 0


def _run(suite: Suite, settings: Settings, cache: Cache, options: RunOptions, cells: list[Cell], secrets: list[str],
         source: str) -> Results:
    """The run under a live progress bar on stderr (when it is a terminal): cells, failures, spend."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..eval.runner import CostLimitError, run_suite

    err = console(stderr=True)
    bar = Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
                   TextColumn("${task.fields[spent]:.4f}"), TimeElapsedColumn(), console=err, transient=True,
                   disable=not err.is_terminal)
    task = bar.add_task("eval", total=len(cells), failed=0, spent=0.0)

    def progress(done: int, total: int, failed: int, spent: float) -> None:
        bar.update(task, completed=done, failed=failed, spent=spent)

    try:
        with bar:
            return asyncio.run(run_suite(suite, settings, cache, options, progress=progress, secrets=secrets,
                                         cells=cells, config_source=source))
    except CostLimitError as exc:
        raise CliError(str(exc)) from None


def write_starter(path: str | None, config: str | None, force: bool) -> int:
    from ..eval.starter import starter

    target = Path(path or "eval.yaml")
    if target.exists() and not force:
        raise CliError(f"{target} exists; pass --force to overwrite it", code=EXIT_USAGE)
    settings = load(config).settings
    targets = default_targets(settings) or [f"{p}/{m}" for p, spec in settings.config.providers.items()
                                            for m in list(spec.models)[:1]]
    target.write_text(starter(targets, target.name), encoding="utf-8")
    note(f"wrote {target} with {len(targets)} target(s); run: llmswitch eval {target}")
    return 0
