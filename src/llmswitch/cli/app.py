"""The command tree. Declarations only: each command imports its implementation when it runs.

Start-up matters (``llmswitch --help`` has a 300 ms budget), so: help is rendered by typer's plain
formatter (``rich_markup_mode=None``; the rich one costs ~180 ms of imports), and the groups take
only boolean flags — typer coerces every other parameter value through pydantic (~130 ms of
imports), and a group's parameters are processed even when a subcommand's ``--help`` is asked for.
That includes click's own ``--help`` option (its unset value is None), so groups carry an
equivalent boolean ``--help`` flag instead.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ._common import guarded
from .evalcmd import eval_command

__all__ = ["app"]

_GROUP = {"help_option_names": [], "max_content_width": 100}  # groups get HelpFlag instead
_LEAF = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _typer(help: str, **extra: object) -> typer.Typer:
    return typer.Typer(help=help, rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False,
                       context_settings=_GROUP, **extra)  # type: ignore[arg-type]


def _show_help(ctx: typer.Context, value: bool) -> None:
    if value:
        typer.echo(ctx.get_help())
        raise typer.Exit()


HelpFlag = Annotated[bool, typer.Option("--help", "-h", is_eager=True, expose_value=False, callback=_show_help,
                                        help="Show this message and exit.")]


app = _typer(
    "Try one prompt on many LLM providers, chat, check keys and endpoints, validate the providers file, "
    "run mock providers.\n\nConfig: each command's --config FILE, else $LLMSWITCH_CONFIG, else "
    "./providers.yaml, else the built-in demo config of mock providers (no keys, no network).",
    no_args_is_help=True,
)
config_app = _typer("Validate or show the providers file.", no_args_is_help=True)
mock_app = _typer("Mock providers speaking each vendor's protocol, on a loopback port.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(mock_app, name="mock")


class Output(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class ListOutput(StrEnum):
    table = "table"
    json = "json"


class ProvidersAction(StrEnum):
    list = "list"
    check = "check"


class ShowFormat(StrEnum):
    yaml = "yaml"
    json = "json"


ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", metavar="FILE", help="providers file (default: $LLMSWITCH_CONFIG, "
                 "./providers.yaml, else the built-in demo)"),
]
ModelOpt = Annotated[
    list[str] | None,
    typer.Option("--model", "-m", metavar="MODEL",
                 help="provider/model or a route alias; repeat for several (default: the default route and each "
                 "of its targets)"),
]
SystemOpt = Annotated[str | None, typer.Option("--system", "-s", metavar="TEXT", help="system message")]
TemperatureOpt = Annotated[float | None, typer.Option("--temperature", "-t", min=0.0, max=2.0, metavar="T",
                                                     help="sampling temperature, 0 to 2")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", min=1, metavar="N", help="cap on completion tokens")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, metavar="SECONDS",
                                           help="per call, failover included")]


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"llmswitch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
    help: HelpFlag = False,
) -> None:
    # flags only (see the module docstring): --config is an option of each command instead
    pass


@config_app.callback()
def _config(help: HelpFlag = False) -> None:
    pass


@mock_app.callback()
def _mock(help: HelpFlag = False) -> None:
    pass


@app.command(context_settings=_LEAF)
@guarded
def compare(
    prompt: Annotated[str | None, typer.Argument(metavar="PROMPT", help="the prompt; '-' reads it from stdin")]
    = None,
    model: ModelOpt = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", metavar="PROMPTS.txt",
                                              help="one prompt a line: every prompt × every model")] = None,
    system: SystemOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    json_mode: Annotated[bool, typer.Option("--json-mode", help="ask for a JSON object answer")] = False,
    repeat: Annotated[int, typer.Option("--repeat", "-n", min=1, max=1000, metavar="N",
                                        help="calls per target; reports median and p95 latency")] = 1,
    full: Annotated[bool, typer.Option("--full", help="show whole answers, not truncated")] = False,
    output: Annotated[Output, typer.Option("--output", "-o", case_sensitive=False,
                                           help="table for people; json, csv or markdown for machines")]
    = Output.table,
    allow_failures: Annotated[bool, typer.Option("--allow-failures",
                                                 help="exit 0 even when a target failed")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, metavar="N",
                                             help="calls in flight at once")] = 8,
    timeout: TimeoutOpt = 120.0,
    config: ConfigOpt = None,
) -> None:
    """Send one prompt to several models at once; stream the answers; compare speed, tokens and cost.

    Time to first token and latency are measured from sending the request, retries and failover
    included; tok/s is completion tokens over total latency; cost comes from the catalog's (or the
    file's) prices.
    """
    from .compare_cmd import CompareOptions
    from .compare_cmd import compare as run

    _exit(run(CompareOptions(
        prompt=prompt, models=model or [], file=file, system=system, temperature=temperature,
        max_tokens=max_tokens, json_mode=json_mode, repeat=repeat, full=full, output=output.value,
        allow_failures=allow_failures, concurrency=concurrency, timeout=timeout, config=config,
    )))


@app.command(context_settings=_LEAF)
@guarded
def chat(
    prompt: Annotated[str | None, typer.Argument(
        metavar="PROMPT", help="one-shot prompt ('-' reads stdin); without it, an interactive session")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL",
                                              help="provider/model or a route alias (default: the default route)")]
    = None,
    system: SystemOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not print who served each answer")] = False,
    timeout: TimeoutOpt = 120.0,
    config: ConfigOpt = None,
) -> None:
    """Chat with a model or route, streaming; shows which provider served each turn.

    In a session: /model NAME, /system TEXT, /reset, /exit (Ctrl-C stops an answer; Ctrl-D exits).
    """
    from .chat import ChatOptions
    from .chat import chat as run

    _exit(run(ChatOptions(prompt=prompt, model=model, system=system, temperature=temperature,
                          max_tokens=max_tokens, quiet=quiet, timeout=timeout, config=config)))


@app.command(context_settings=_LEAF)
@guarded
def providers(
    action: Annotated[ProvidersAction, typer.Argument(
        metavar="list|check", help="list: what is configured (the default); check: send one tiny request to each")]
    = ProvidersAction.list,
    names: Annotated[list[str] | None, typer.Argument(metavar="PROVIDER",
                                                      help="only these providers (default: all)")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, metavar="SECONDS",
                                                help="check: seconds per provider")] = 15.0,
    output: Annotated[ListOutput, typer.Option("--output", "-o", case_sensitive=False)] = ListOutput.table,
    config: ConfigOpt = None,
) -> None:
    """List configured providers — type, base URL, credentials (present or missing, never the value),
    models — or check each one answers (in parallel): reachability, auth, latency.
    """
    from .providers import check_providers, list_providers

    if action is ProvidersAction.check:
        _exit(check_providers(names or [], timeout=timeout, output=output.value, config=config))
    else:
        _exit(list_providers(names or [], output=output.value, config=config))


@app.command(context_settings=_LEAF)
@guarded
def migrate(
    paths: Annotated[list[str] | None, typer.Argument(metavar="PATH...", help="files or folders (default: .)")] = None,
    write: Annotated[bool, typer.Option("--write", help="apply the changes (default: print the diff)")] = False,
    providers_file: Annotated[str | None, typer.Option(
        "--providers-file", metavar="FILE", help="draft a providers file from the models and keys found")] = None,
) -> None:
    """Rewrite an app from openai's clients to llmswitch's (libcst: comments and formatting kept).
    Dry run by default: prints a unified diff and a summary of what changed and what could not.
    """
    from .migratecmd import run

    _exit(run(paths or [], write=write, providers_file=providers_file))


@app.command(context_settings=_LEAF)
@guarded
def serve(
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, metavar="PORT")] = 8080,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, max=64, metavar="N",
                                         help="processes (each with its own limits and breakers)")] = 1,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log",
                                             help="one JSON line per request on stderr")] = True,
    log_level: Annotated[str, typer.Option("--log-level", metavar="LEVEL")] = "info",
    config: ConfigOpt = None,
) -> None:
    """Serve an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/embeddings, /v1/models, …) on the
    router, until SIGTERM (which drains in-flight requests for gateway.grace_period seconds)."""
    from .serve import serve as run

    _exit(run(host=host, port=port, workers=workers, config=config, access_log=access_log, log_level=log_level))


@config_app.command("validate", context_settings=_LEAF)
@guarded
def config_validate(
    file: Annotated[str | None, typer.Argument(metavar="[FILE]", help="default: the discovered config")] = None,
) -> None:
    """Check the providers file: every problem with file:line: field; exit 1 if there is any."""
    from .configcmd import validate

    _exit(validate(file))


@config_app.command("show", context_settings=_LEAF)
@guarded
def config_show(
    file: Annotated[str | None, typer.Argument(metavar="[FILE]", help="default: the discovered config")] = None,
    format: Annotated[ShowFormat, typer.Option("--format", case_sensitive=False)] = ShowFormat.yaml,
) -> None:
    """Print the resolved config (defaults filled in, variables expanded) with secrets redacted."""
    from .configcmd import show

    _exit(show(file, fmt=format.value))


@mock_app.command("serve", context_settings=_LEAF)
@guarded
def mock_serve(
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, metavar="PORT",
                                         help="0 picks a free port")] = 8787,
    mount: Annotated[list[str] | None, typer.Option(
        "--mount", metavar="NAME=PROTOCOL", help="mount a protocol under /NAME (default: every protocol "
        "under its own name); repeat for several")] = None,
    faults: Annotated[list[str] | None, typer.Option(
        "--faults", metavar="[NAME=]SPEC[,SPEC]", help="scripted faults, one per request, e.g. "
        "'openai=429:retry-after=0,500' or 'cut_stream:after=2' for every mount")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", metavar="KEY",
                                                help="require this key, sent the vendor's way")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not log requests")] = False,
) -> None:
    """Serve mock providers on 127.0.0.1 until Ctrl-C, printing each mount's base URL."""
    from .mockserve import serve

    _exit(serve(port=port, mounts=mount or [], faults=faults or [], api_key=api_key, quiet=quiet))


app.command("eval", context_settings=_LEAF)(eval_command)  # declared in evalcmd.py, which imports nothing heavy
