"""The ``compare`` command: gather prompts and targets, run them live, print the results."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._common import EXIT_FAILURE, EXIT_USAGE, CliError, check_targets, console, default_targets, load, note
from .compare import Job, Summary, request_params, run_jobs, summarize

__all__ = ["CompareOptions", "compare"]

OUTPUTS = ("table", "json", "csv", "markdown")


@dataclass(frozen=True)
class CompareOptions:
    prompt: str | None
    models: Sequence[str]
    file: Path | None
    system: str | None
    temperature: float | None
    max_tokens: int | None
    json_mode: bool
    repeat: int
    full: bool
    output: str
    allow_failures: bool
    concurrency: int
    timeout: float | None
    config: str | None


def read_prompts(prompt: str | None, file: Path | None) -> list[str]:
    """PROMPT (``-`` reads stdin) and/or one prompt a line from ``--file`` (blank and ``#`` lines skipped)."""
    prompts: list[str] = []
    if prompt == "-":
        prompt = sys.stdin.read().strip()
        if not prompt:
            raise CliError("PROMPT is '-' but stdin was empty", code=EXIT_USAGE)
    if prompt:
        prompts.append(prompt)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{file}: cannot read the prompts file: {getattr(exc, 'strerror', None) or exc}",
                           code=EXIT_USAGE) from None
        found = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not found:
            raise CliError(f"{file}: the prompts file has no prompts (one a line)", code=EXIT_USAGE)
        prompts += found
    if not prompts:
        raise CliError("give a PROMPT (or '-' to read stdin) or --file PROMPTS.txt", code=EXIT_USAGE)
    return prompts


def compare(opts: CompareOptions) -> int:
    """Run the matrix; returns the exit code (non-zero when a target failed, unless allowed)."""
    from ._common import secret_values

    if opts.output not in OUTPUTS:
        raise CliError(f"--output must be one of {', '.join(OUTPUTS)}, not {opts.output!r}", code=EXIT_USAGE)
    prompts = read_prompts(opts.prompt, opts.file)
    loaded = load(opts.config)
    settings = loaded.settings
    targets = list(dict.fromkeys(opts.models))
    if not targets and settings.config.default_route:
        # the route first (so it meets a flaky primary first), then each of its targets alone
        targets = [settings.config.default_route, *default_targets(settings)]
    if not targets:
        raise CliError("no models to compare: pass -m provider/model (or a route), or set default_route",
                       code=EXIT_USAGE)
    check_targets(settings, targets)
    jobs = [Job(i, prompt, target) for i, prompt in enumerate(prompts) for target in targets]
    params = {i: request_params(system=opts.system, prompt=p, temperature=opts.temperature,
                                max_tokens=opts.max_tokens, json_mode=opts.json_mode, timeout=opts.timeout)
              for i, p in enumerate(prompts)}
    secrets = secret_values(settings)
    multi = len(prompts) > 1

    work = run_jobs(settings, jobs, lambda job: params[job.prompt_index], repeat=opts.repeat,
                    concurrency=opts.concurrency, secrets=secrets)
    out = console()
    err = console(stderr=True)
    live_on = out if (opts.output == "table" and out.is_terminal) else err if err.is_terminal else None
    if live_on is not None:
        from rich.live import Live

        from .compare_view import Board

        board = Board(jobs, live_on, multi_prompt=multi)
        with Live(get_renderable=board.render, console=live_on, refresh_per_second=12, transient=True):
            asyncio.run(work)
    else:
        asyncio.run(work)

    rows = [summarize(job) for job in jobs]
    _print(opts, rows, prompts, targets, loaded.source)
    failed = sum(1 for r in rows if r.failed)
    if failed and not opts.allow_failures:
        note(f"{failed} of {len(rows)} target(s) failed (use --allow-failures to exit 0 anyway)")
        return EXIT_FAILURE
    return 0


def _print(opts: CompareOptions, rows: Sequence[Summary], prompts: list[str], targets: list[str],
           source: str) -> None:
    from . import compare_view as view

    multi = len(prompts) > 1
    if opts.output == "json":
        sys.stdout.write(view.render_json(rows, source=source, prompts=prompts, targets=targets,
                                          repeat=opts.repeat) + "\n")
        return
    if opts.output == "csv":
        sys.stdout.write(view.render_csv(rows))
        return
    if opts.output == "markdown":
        sys.stdout.write(view.render_markdown(rows, full=opts.full, repeat=opts.repeat, multi_prompt=multi))
        return
    out = console()
    if multi:
        for i, prompt in enumerate(prompts, 1):
            out.print(f"#{i}: {view.truncate(prompt, 100)}", markup=False, style="bold")
    out.print(view.render_table(rows, full=opts.full, repeat=opts.repeat, multi_prompt=multi))
    view.print_failures(console(stderr=True), rows, multi_prompt=multi)
