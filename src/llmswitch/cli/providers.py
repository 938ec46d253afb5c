"""``llmswitch providers`` (what is configured) and ``providers check`` (does each one answer)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    CliError,
    Loaded,
    console,
    discover,
    load,
    note,
    redact_url,
    scrub,
    secret_values,
)

if TYPE_CHECKING:
    from ..adapters.base import Provider
    from ..config import ProviderConfig, Settings

__all__ = ["check_providers", "list_providers"]

_MODELS_SHOWN = 4


def _load_for_listing(explicit: str | None = None) -> tuple[Loaded, list[str]]:
    """Load the config; if only its routes are broken (e.g. a routed provider's key is unset), still list."""
    from ..config import load as load_config
    from ..config import read
    from ..errors import ConfigError

    try:
        return load(explicit), []
    except ConfigError as exc:
        source = discover(explicit)
        if source is None:
            raise
        data, _, _ = read(source)
        stripped = {k: v for k, v in data.items() if k not in ("routes", "default_route")}
        try:
            settings = load_config(stripped)
        except ConfigError:
            raise exc from None
        return Loaded(settings, source), exc.problems


def _credentials(spec: ProviderConfig, provider: Provider | None) -> dict[str, str]:
    """Each credential field → present / missing / not set (and where it came from); never a value."""
    if provider is None:
        return {}
    preset = provider.preset
    given = spec.model_extra or {}
    status: dict[str, str] = {}
    if preset.auth == "none" and not any(provider.credential(name) for name in preset.credentials):
        return status
    for name in preset.credentials:
        if provider.credentials.get(name) is not None and provider.credential(name):
            from_env = name not in given and name == "api_key" and preset.env_key
            status[name] = f"present (from ${preset.env_key})" if from_env else "present"
        elif name in preset.required_credentials:
            hint = f" (set {preset.env_key})" if name == "api_key" and preset.env_key else ""
            status[name] = "missing" + hint
        else:
            status[name] = "not set"
    return status


def _models(spec: ProviderConfig, provider: Provider | None) -> list[str]:
    """The file's ``models:`` when it lists them (then only those may be routed to), else the catalog's."""
    if spec.models:
        return list(spec.models)
    listed = list(spec.prices)
    if provider is not None:
        listed += [m for m in provider.preset.models if m not in listed]
    return listed


def _rows(settings: Settings) -> list[dict[str, Any]]:
    secrets = secret_values(settings)
    rows: list[dict[str, Any]] = []
    for name, spec in settings.config.providers.items():
        provider = settings.providers.get(name)
        protocol = provider.preset.protocol if provider else None
        base_url = provider.base_url if provider else spec.base_url
        if protocol == "mock" and spec.base_url is None:
            base_url = "in-process (no network)"
        rows.append({
            "name": name,
            "type": spec.type,
            "protocol": protocol,
            "base_url": scrub(redact_url(base_url or ""), secrets) or None,
            "credentials": _credentials(spec, provider),
            "models": _models(spec, provider),
            "problems": [scrub(p, secrets) for p in settings.unresolved.get(name, [])],
        })
    return rows


def _chosen(settings: Settings, names: list[str], source: str) -> list[str]:
    known = list(settings.config.providers)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CliError(f"unknown provider {unknown[0]!r}; configured: {', '.join(known) or 'none'}", code=EXIT_USAGE)
    chosen = list(dict.fromkeys(names)) or known
    if not chosen:
        raise CliError(f"{source}: no providers configured", code=EXIT_USAGE)
    return chosen


def list_providers(names: list[str], *, output: str, config: str | None = None) -> int:
    loaded, problems = _load_for_listing(config)
    chosen = _chosen(loaded.settings, names, loaded.source)
    rows = [row for row in _rows(loaded.settings) if row["name"] in chosen]
    if output == "json":
        sys.stdout.write(json.dumps({"config": loaded.source, "providers": rows, "problems": problems},
                                    indent=2, ensure_ascii=False) + "\n")
        return EXIT_FAILURE if problems else 0
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", title=f"providers in {loaded.source}", title_justify="left")
    for column in ("provider", "type", "protocol", "base URL", "credentials", "models"):
        table.add_column(column, overflow="fold")
    for row in rows:
        creds = Text()
        for i, (name, status) in enumerate(row["credentials"].items()):
            style = "green" if status.startswith("present") else "red" if status.startswith("missing") else "dim"
            creds.append(("\n" if i else "") + f"{name}: {status}", style=style)
        if not row["credentials"]:
            creds.append("none needed", style="dim")
        models = row["models"][:_MODELS_SHOWN]
        more = len(row["models"]) - len(models)
        shown = ", ".join(models) + (f" (+{more} more)" if more > 0 else "") if models else "—"
        table.add_row(row["name"], row["type"], row["protocol"] or "?", row["base_url"] or "—", creds, shown)
    out = console()
    out.print(table)
    err = console(stderr=True)
    for row in rows:
        for problem in row["problems"]:
            err.print(f"warning: {problem}", style="yellow", markup=False)
    for problem in problems:
        err.print(f"error: {problem}", style="red", markup=False)
    return EXIT_FAILURE if problems else 0


# -- check -------------------------------------------------------------------------------------------

@dataclass
class Check:
    provider: str
    model: str | None
    ok: bool
    reachable: str  # yes | no | timeout | not sent
    auth: str  # ok | rejected | missing | unknown
    latency_s: float | None
    detail: str


def _probe_model(settings: Settings, name: str) -> str | None:
    spec = settings.config.providers[name]
    provider = settings.providers.get(name)
    if spec.models:
        return next(iter(spec.models))
    if provider is None:
        return None
    preset = provider.preset
    return preset.default_model or next(iter(preset.models), None) or next(iter(spec.prices), None)


async def _probe(client: Any, settings: Settings, name: str, timeout: float, secrets: list[str]) -> Check:
    from .. import errors

    problems = settings.unresolved.get(name)
    model = _probe_model(settings, name)
    if problems:
        return Check(name, model, False, "not sent", "missing", None, scrub("; ".join(problems), secrets))
    if model is None:
        return Check(name, None, False, "not sent", "unknown", None,
                     "no model known for this provider: list one under `models:` in the providers file")
    start = time.perf_counter()
    try:
        response = await asyncio.wait_for(client.chat.completions.create(
            model=f"{name}/{model}", messages=[{"role": "user", "content": "ping"}], max_tokens=8,
            timeout=timeout), timeout + 1.0)
    except (TimeoutError, errors.APITimeoutError):
        return Check(name, model, False, "timeout", "unknown", time.perf_counter() - start,
                     f"no answer within {timeout:g}s")
    except errors.APIConnectionError as exc:
        return Check(name, model, False, "no", "unknown", time.perf_counter() - start,
                     scrub(f"{type(exc).__name__}: {exc}", secrets))
    except (errors.AuthenticationError, errors.PermissionDeniedError) as exc:
        return Check(name, model, False, "yes", "rejected", time.perf_counter() - start,
                     scrub(f"{type(exc).__name__}: {exc}", secrets))
    except Exception as exc:  # reached and authenticated, but the request failed
        return Check(name, model, False, "yes", "ok", time.perf_counter() - start,
                     scrub(f"{type(exc).__name__}: {str(exc).strip()}", secrets))
    elapsed = time.perf_counter() - start
    from ..client import route_info

    info = route_info(response)
    retried = len(info.attempts) - 1 if info else 0
    answer = (response.choices[0].message.content or "") if response.choices else ""
    detail = "answered" + (f" after {retried} retr{'y' if retried == 1 else 'ies'}" if retried else "")
    return Check(name, model, True, "yes", "ok", elapsed, f"{detail}: {' '.join(answer.split())[:40]!r}")


async def _check_all(settings: Settings, names: list[str], timeout: float) -> list[Check]:
    from ..client import AsyncOpenAI

    secrets = secret_values(settings)
    async with AsyncOpenAI(config=settings, max_retries=1) as client:
        return list(await asyncio.gather(*(_probe(client, settings, n, timeout, secrets) for n in names)))


def check_providers(names: list[str], *, timeout: float, output: str, config: str | None) -> int:
    loaded = _load_for_listing(config)[0]
    settings = loaded.settings
    chosen = _chosen(settings, names, loaded.source)
    if output != "json" and console(stderr=True).is_terminal:
        note(f"checking {len(chosen)} provider(s), timeout {timeout:g}s each …")
    results = asyncio.run(_check_all(settings, chosen, timeout))
    failed = sum(1 for r in results if not r.ok)
    if output == "json":
        sys.stdout.write(json.dumps({"config": loaded.source, "failed": failed,
                                     "results": [asdict(r) for r in results]}, indent=2, ensure_ascii=False) + "\n")
        return EXIT_FAILURE if failed else 0
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold")
    for column in ("provider", "model", "reachable", "auth", "latency", "result"):
        table.add_column(column, overflow="fold", no_wrap=column != "result")
    for r in results:
        table.add_row(
            r.provider, r.model or "—",
            Text(r.reachable, style="green" if r.reachable == "yes" else "red"),
            Text(r.auth, style="green" if r.auth == "ok" else "red" if r.auth in ("rejected", "missing") else "dim"),
            "—" if r.latency_s is None else f"{r.latency_s:.2f}s",
            Text(("✓ " if r.ok else "✗ ") + r.detail, style="green" if r.ok else "red"),
        )
    console().print(table)
    if failed:
        note(f"{failed} of {len(results)} provider(s) failed the check")
    return EXIT_FAILURE if failed else 0
