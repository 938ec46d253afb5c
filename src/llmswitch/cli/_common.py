"""What every command shares: config discovery, consoles, clean errors, secret scrubbing.

Nothing heavy is imported at module level: ``llmswitch --help`` must start fast, so rich, openai,
pydantic and YAML load inside the functions that need them.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..config import Settings

__all__ = [
    "DEMO_SOURCE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CliError",
    "Loaded",
    "check_targets",
    "console",
    "default_targets",
    "describe_error",
    "discover",
    "guarded",
    "load",
    "note",
    "redact_url",
    "scrub",
    "secret_name",
    "secret_values",
    "target_problem",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEMO_SOURCE = "built-in demo config"
DISCOVERED = ("providers.yaml", "providers.yml", "providers.toml", "providers.json")

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """An error the CLI reports in one line (or a few, for config problems) and exits with."""

    def __init__(self, message: str, *, code: int = EXIT_FAILURE, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.details = list(details)


# -- consoles ----------------------------------------------------------------------------------------

def console(*, stderr: bool = False) -> Console:
    """A rich console; colour only on a terminal (rich honours NO_COLOR / FORCE_COLOR)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    # soft_wrap: a printed line is never broken (error lines stay greppable); tables still fit the width.
    # markup off: answers, errors and names are printed as they are ("[swift:swift-1] …" is not a style)
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=True, markup=False)


def note(message: str) -> None:
    """A dim remark on stderr, which machine-readable stdout never contains."""
    console(stderr=True).print(message, style="dim", markup=False)


def _report(message: str, details: Iterable[str] = ()) -> None:
    err = console(stderr=True)
    err.print("error:", style="bold red", end=" ")
    err.print(message, markup=False)
    for line in details:
        err.print("  " + line, markup=False)


def describe_error(exc: BaseException) -> str:
    """``TypeName: message`` — the typed error users can search for, never a traceback."""
    message = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {message}"


def _quiet_library_log() -> None:
    """The library logs breaker trips as warnings; the CLI shows outcomes itself, so only
    ``LLMSWITCH_DEBUG=1`` lets those records through (with tracebacks for unexpected errors)."""
    import logging

    logger = logging.getLogger("llmswitch")
    if os.environ.get("LLMSWITCH_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    elif not logger.handlers:
        logger.addHandler(logging.NullHandler())


def guarded(fn: F) -> F:
    """Run a command; turn expected failures into one clear message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _quiet_library_log()
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            console(stderr=True).print("\ninterrupted", style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except CliError as exc:
            _report(str(exc), exc.details)
            raise typer.Exit(exc.code) from None
        except BrokenPipeError:  # e.g. `llmswitch compare … | head -1`: stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush has nowhere to fail
            raise typer.Exit(EXIT_FAILURE) from None
        except Exception as exc:
            from ..errors import ConfigError

            if isinstance(exc, ConfigError):
                first, *_ = str(exc).splitlines() or [""]
                _report(first if len(exc.problems) > 1 else exc.problems[0],
                        exc.problems if len(exc.problems) > 1 else ())
            elif os.environ.get("LLMSWITCH_DEBUG"):
                raise
            else:
                _report(describe_error(exc))
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]


# -- config ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Loaded:
    settings: Settings
    source: str  # a path, or DEMO_SOURCE

    @property
    def demo(self) -> bool:
        return self.source == DEMO_SOURCE


def discover(explicit: str | None = None) -> str | None:
    """``--config``, else ``$LLMSWITCH_CONFIG``, else ``./providers.yaml`` (or .yml/.toml/.json); None = demo."""
    chosen = explicit or os.environ.get("LLMSWITCH_CONFIG")
    if chosen:
        return chosen
    return next((name for name in DISCOVERED if Path(name).is_file()), None)


def load(explicit: str | None = None) -> Loaded:
    """Load the discovered config; a broken file raises ConfigError naming file, line and field."""
    source = discover(explicit)
    if source is not None and not Path(source).is_file():
        raise CliError(f"{source}: no such providers file", code=EXIT_USAGE)
    from ..config import load as load_config

    if source is None:
        from ..demo import demo_config

        note("using the built-in demo config (mock providers; no keys, no network) — "
             "pass --config FILE or create ./providers.yaml to use your own")
        return Loaded(load_config(demo_config()), DEMO_SOURCE)
    return Loaded(load_config(source), source)


# -- secrets -----------------------------------------------------------------------------------------

def secret_values(settings: Settings) -> list[str]:
    """Every credential value in the config, longest first (for scrubbing printed text)."""
    values = {secret.get() for provider in settings.providers.values()
              for secret in provider.credentials.values()}
    return sorted((v for v in values if v and len(v) >= 4), key=len, reverse=True)


_SECRET_WORDS = frozenset({"key", "apikey", "secret", "token", "password", "passwd", "authorization", "auth",
                           "signature", "sig", "credential", "credentials"})


def secret_name(name: str) -> bool:
    """Does a field / header / query-parameter name suggest a secret? (``max_tokens`` does not.)"""
    words = name.lower().replace("-", "_").split("_")
    return any(word in _SECRET_WORDS for word in words) or name.lower().replace("-", "_") in ("api_key", "x_api_key")


def redact_url(url: str) -> str:
    """A URL fit to print: no password in it, no secret-looking query values."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "****@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "****" if secret_name(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """A last line of defence: no credential value is ever printed, whatever carried it (the
    library's one redaction function: escaped forms and URL passwords too)."""
    from .._secret import redact

    return redact(text, secrets)


def target_problem(settings: Settings, target: str) -> str | None:
    """Why ``target`` names neither a route nor ``provider/model`` of this config (None if it does)."""
    config = settings.config
    if target in config.routes:
        return None
    provider, sep, model = target.partition("/")
    if sep and model and provider in config.providers:
        return None
    routes = ", ".join(sorted(config.routes)) or "none"
    providers = ", ".join(sorted(config.providers)) or "none"
    return f"unknown model {target!r}: use a route ({routes}) or 'provider/model' with a configured provider " \
           f"({providers})"


def default_targets(settings: Settings) -> list[str]:
    """Every provider/model the default route reaches, nested routes flattened, in order."""
    config = settings.config
    if config.default_route is None:
        return []
    out: list[str] = []

    def walk(route: str, seen: tuple[str, ...]) -> None:
        for spec in config.routes[route].targets:
            if spec.target in config.routes:
                if spec.target not in seen:
                    walk(spec.target, (*seen, spec.target))
            elif spec.target not in out:
                out.append(spec.target)

    walk(config.default_route, (config.default_route,))
    return out


def check_targets(settings: Settings, targets: Iterable[str]) -> None:
    """Unknown names are usage errors; a named provider the file cannot configure is a config error."""
    from ..errors import ConfigError

    targets = list(targets)
    problems = [p for p in (target_problem(settings, t) for t in targets) if p]
    if problems:
        raise CliError(problems[0], code=EXIT_USAGE, details=problems[1:])
    broken = [issue for t in targets if t not in settings.config.routes
              for issue in settings.unresolved.get(t.partition("/")[0], [])]
    if broken:
        raise ConfigError("\n".join(broken), problems=broken)

