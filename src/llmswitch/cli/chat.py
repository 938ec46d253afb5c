"""``llmswitch chat``: one-shot or an interactive session, streamed, showing who served each turn.

The answer goes to stdout (pipe-friendly); who served it, failover, tokens and cost go to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    CliError,
    check_targets,
    console,
    load,
    scrub,
    secret_values,
    target_problem,
)

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionChunk

    from .._stream import Stream
    from ..config import Settings
    from ..router import RouteInfo

__all__ = ["ChatOptions", "Session", "chat"]

HELP = "/model NAME  switch model · /system TEXT  set (or clear) the system message · /reset  forget the " \
       "conversation · /exit  leave"


@dataclass(frozen=True)
class ChatOptions:
    prompt: str | None
    model: str | None
    system: str | None
    temperature: float | None
    max_tokens: int | None
    quiet: bool
    timeout: float | None
    config: str | None


def served_line(info: RouteInfo | None, elapsed: float) -> str:
    """``↳ steady/steady-pro · after swift/swift-1 failed (InternalServerError) · 0.43s · 5→40 tokens``."""
    if info is None or info.provider is None:
        return f"↳ {elapsed:.2f}s"
    parts = [f"↳ {info.provider}/{info.model}"]
    failed = [f"{a.target} ({type(a.error).__name__})" for a in info.attempts if a.error is not None]
    if failed:
        parts.append(f"after {', '.join(failed)} failed")
    if info.route:
        parts.append(f"route {info.route}")
    parts.append(f"{elapsed:.2f}s")
    if info.usage:
        parts.append(f"{info.usage.get('prompt_tokens', '?')}→{info.usage.get('completion_tokens', '?')} tokens")
    if info.cost_cny is not None and info.cost_usd is not None:
        parts.append(f"¥{info.cost_cny:.6f} / ${info.cost_usd:.6f}")
    return " · ".join(parts)


class Session:
    """The conversation so far, the current model, and one streamed turn at a time."""

    def __init__(self, settings: Settings, model: str, opts: ChatOptions) -> None:
        from ..client import OpenAI

        self.settings = settings
        self.client = OpenAI(config=settings)
        self.model = model
        self.system = opts.system
        self.opts = opts
        self.history: list[dict[str, str]] = []
        self.err = console(stderr=True)
        self.secrets = secret_values(settings)
        self.failures = 0

    def _params(self, text: str) -> dict[str, Any]:
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages += [*self.history, {"role": "user", "content": text}]
        params: dict[str, Any] = {"model": self.model, "messages": messages,
                                  "stream_options": {"include_usage": True}}
        if self.opts.temperature is not None:
            params["temperature"] = self.opts.temperature
        if self.opts.max_tokens is not None:
            params["max_tokens"] = self.opts.max_tokens
        if self.opts.timeout is not None:
            params["timeout"] = self.opts.timeout
        return params

    def turn(self, text: str) -> bool:
        """Stream one answer to stdout; False (and the error on stderr) when it failed."""
        from ..client import route_info

        out = sys.stdout
        start = time.perf_counter()
        pieces: list[str] = []
        stream: Stream[ChatCompletionChunk] | None = None
        try:
            stream = self.client.chat.completions.create(stream=True, **self._params(text))
            for chunk in stream:
                for choice in chunk.choices:
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        pieces.append(piece)
                        out.write(piece)
                        out.flush()
        except KeyboardInterrupt:
            if stream is not None:
                stream.close()
            if pieces:
                out.write("\n")
            raise
        except Exception as exc:  # the typed error, never a traceback
            if pieces:
                out.write("\n")
                out.flush()
            self.failures += 1
            self.err.print("error:", style="bold red", end=" ")
            self.err.print(scrub(f"{type(exc).__name__}: {str(exc).strip()}", self.secrets), markup=False)
            return False
        out.write("\n")
        out.flush()
        if not self.opts.quiet:
            self.err.print(served_line(route_info(stream), time.perf_counter() - start), style="dim",
                           markup=False)
        self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": "".join(pieces)}]
        return True

    def command(self, line: str) -> bool:
        """Handle a /command; False means leave the session."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        say = self.err.print
        if name in ("/exit", "/quit"):
            return False
        if name == "/model":
            if not arg:
                say(f"model: {self.model}", markup=False)
            elif problem := target_problem(self.settings, arg):
                say(f"error: {problem}", style="red", markup=False)
            else:
                self.model = arg
                say(f"model: {arg}", markup=False)
        elif name == "/system":
            self.system = arg or None
            say("system message set" if arg else "system message cleared")
        elif name == "/reset":
            self.history.clear()
            say("conversation cleared")
        elif name == "/help":
            say(HELP, markup=False)
        else:
            say(f"unknown command {name}; {HELP}", style="yellow", markup=False)
        return True

    def repl(self) -> int:
        interactive = sys.stdin.isatty()
        if interactive:
            with contextlib.suppress(ImportError):  # line editing and history for input()
                import readline  # noqa: F401
            self.err.print(f"llmswitch chat · model {self.model} · {HELP} · Ctrl-C stops an answer, Ctrl-D exits",
                           style="dim", markup=False)
        while True:
            try:
                line = input("you> " if interactive else "").strip()
            except EOFError:
                if interactive:
                    self.err.print()
                break
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    break
                continue
            try:
                self.turn(line)
            except KeyboardInterrupt:
                if not interactive:  # a script feeding the session: stop it
                    raise
                self.err.print("[answer interrupted]", style="yellow")
        self.client.close()
        return EXIT_FAILURE if self.failures and not interactive else 0


def chat(opts: ChatOptions) -> int:
    loaded = load(opts.config)
    settings = loaded.settings
    model = opts.model or settings.config.default_route
    if not model:
        raise CliError("no model: pass -m provider/model or a route (the config has no default_route)",
                       code=EXIT_USAGE)
    check_targets(settings, [model])
    session = Session(settings, model, opts)
    if opts.prompt is None:
        return session.repl()
    prompt = sys.stdin.read().strip() if opts.prompt == "-" else opts.prompt
    if not prompt:
        raise CliError("empty prompt" + (" on stdin" if opts.prompt == "-" else ""), code=EXIT_USAGE)
    try:
        return 0 if session.turn(prompt) else EXIT_FAILURE
    finally:
        session.client.close()
