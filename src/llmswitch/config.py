"""The providers file: YAML/TOML/JSON (or a dict) → frozen, validated models.

Every problem is reported at once, each as ``file:line: field: message``. Variables
(``${VAR}``, ``${VAR:-default}``) are read from the environment at load time; a provider whose
variables are unset can still be listed, but routing to it (or calling it) is an error.
:func:`load` checks a file completely without sending anything.

Policies (retry, timeouts, circuit_breaker) merge field by field: a route that says
``timeouts: {idle: 5}`` keeps every other limit from ``defaults``. Per-attempt timeouts stack as
defaults < provider < route < the call's ``timeout=``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import catalog
from ._lines import FieldPath as Path_
from ._lines import Lines, yaml_with_lines
from ._lines import where as _where
from ._secret import Secret, redact
from .adapters.base import MAX_RESPONSE_BYTES, Provider
from .catalog import ModelInfo
from .errors import ConfigError

__all__ = [
    "Backoff",
    "BreakerConfig",
    "ClientKey",
    "Config",
    "GatewayConfig",
    "ModelSpec",
    "Policy",
    "PriceConfig",
    "ProviderConfig",
    "RetryConfig",
    "RouteConfig",
    "Settings",
    "StateConfig",
    "TargetConfig",
    "Timeouts",
    "load",
    "load_settings",
    "merge",
]

FallbackClass = Literal[
    "rate_limit", "server_error", "timeout", "connection", "auth", "context_window", "content_filter",
    "quota", "billing", "not_found", "stream_interrupted",
]  # billing: the former name of quota, still accepted
Capability = Literal["chat", "stream", "tools", "vision", "json_mode", "embeddings", "reasoning"]
DEFAULT_FALLBACK_ON: tuple[FallbackClass, ...] = ("rate_limit", "server_error", "timeout", "connection")
M = TypeVar("M", bound=BaseModel)


def _not_bool(value: Any) -> Any:
    """YAML's ``true`` is not a number (pydantic would read it as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Num = Annotated[float, BeforeValidator(_not_bool), AllowInfNan(False)]  # finite: `.inf` is no limit


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Backoff(_Frozen):
    initial: Num = Field(default=0.5, ge=0)
    max: Num = Field(default=8.0, ge=0)
    multiplier: Num = Field(default=2.0, ge=1)
    jitter: Num = Field(default=0.25, ge=0, le=1)  # openai's: up to 25% less than the nominal wait

    @model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if {"initial", "max"} <= self.model_fields_set and self.initial > self.max:
            raise ValueError(f"initial ({self.initial}s) is longer than max ({self.max}s)")
        return self


class RetryConfig(_Frozen):
    max_attempts: Int = Field(default=3, ge=1, le=20)  # 1 try + 2 retries per target, as openai's client
    backoff: Backoff = Backoff()
    in_place: bool = False  # retry a failing target before moving on to the next one
    budget: Num = Field(default=0.2, ge=0, le=1)  # retries may add at most this share of traffic per target
    max_wait: Num = Field(default=60.0, gt=0)  # no wait between tries is longer (openai caps Retry-After at 60 s)


_TIMEOUT_FIELDS = ("connect", "read", "first_token", "idle")


class Timeouts(_Frozen):
    """Seconds; None means unbounded. ``total`` bounds a whole call (every attempt, backoff and
    fallback); the others bound one attempt: ``connect``, ``read`` (a non-streamed response),
    ``first_token`` (a stream's first output) and ``idle`` (the gap between stream chunks)."""

    connect: Num | None = Field(default=5.0, gt=0)
    read: Num | None = Field(default=None, gt=0)
    first_token: Num | None = Field(default=None, gt=0)
    idle: Num | None = Field(default=None, gt=0)
    total: Num | None = Field(default=600.0, gt=0)  # openai's default; null (explicit) means unbounded

    @model_validator(mode="after")
    def _possible(self) -> Timeouts:
        if "total" in self.model_fields_set:  # only limits given side by side can contradict
            _check_against_total(self, self.model_fields_set)
        return self


def _check_against_total(timeouts: Timeouts, explicit: set[str]) -> None:
    if timeouts.total is None:
        return
    for name in _TIMEOUT_FIELDS:
        value = getattr(timeouts, name)
        if name in explicit and value is not None and value > timeouts.total:
            raise ValueError(f"{name} ({value}s) is longer than total ({timeouts.total}s)")


class BreakerConfig(_Frozen):
    """``failures`` consecutive failures within ``window`` seconds open the breaker for
    ``cooldown`` seconds (or the server's Retry-After, up to ``max_cooldown``)."""

    enabled: bool = True
    failures: Int = Field(default=5, ge=1)
    window: Num = Field(default=60.0, gt=0)
    cooldown: Num = Field(default=30.0, gt=0)
    max_cooldown: Num = Field(default=300.0, gt=0)
    half_open_probes: Int = Field(default=1, ge=1)


class Policy(_Frozen):
    retry: RetryConfig = RetryConfig()
    timeouts: Timeouts = Timeouts()
    circuit_breaker: BreakerConfig = BreakerConfig()
    fallback_on: tuple[FallbackClass, ...] = DEFAULT_FALLBACK_ON


class TargetConfig(_Frozen):
    target: str
    weight: Num = Field(default=1.0, gt=0)


class RouteConfig(_Frozen):
    strategy: Literal["fallback", "weighted", "round_robin", "least_latency", "cheapest"] = "fallback"
    targets: tuple[TargetConfig, ...] = Field(min_length=1)
    retry: RetryConfig | None = None
    timeouts: Timeouts | None = None
    circuit_breaker: BreakerConfig | None = None
    fallback_on: tuple[FallbackClass, ...] | None = None
    hedge_after: Num | None = Field(default=None, gt=0)

    @field_validator("targets", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"target": v} if isinstance(v, str) else v for v in value]
        return value


class PriceConfig(_Frozen):
    input: Num = Field(ge=0)
    output: Num = Field(default=0.0, ge=0)
    currency: Literal["CNY", "USD"] = "USD"


class ModelSpec(_Frozen):
    """What the file may say about a model the catalog does not know (or knows differently)."""

    context_window: Int | None = Field(default=None, gt=0)
    max_output: Int | None = Field(default=None, gt=0)
    capabilities: tuple[Capability, ...] | None = None


_SECRET_KEY = re.compile(r"(^|_)(key|secret|token|password)$", re.IGNORECASE)


class ProviderConfig(BaseModel):
    """Known keys are typed; credential and option keys are checked against the preset."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    base_url: str | None = None
    headers: dict[str, str] = {}
    strict: bool = False
    timeouts: Timeouts | None = None
    max_response_bytes: Int = Field(default=MAX_RESPONSE_BYTES, gt=0)  # a larger non-streamed body is refused
    prices: dict[str, PriceConfig] = {}
    # a list of names, or name → {context_window, max_output, capabilities}; when given, routes
    # may only name these models
    models: dict[str, ModelSpec] = {}
    # serves OpenAI's Responses API natively: true (at base_url), false (bridge it), or its base URL
    responses: bool | str | None = None
    # the vendor's quota for this account, enforced across the fleet when `state:` is shared
    rpm: Int | None = Field(default=None, gt=0)
    tpm: Int | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _mask(cls, data: Any) -> Any:
        """Credential-looking extra keys become Secrets at once, so no repr ever shows them."""
        if isinstance(data, dict):
            return {k: Secret(str(v)) if _SECRET_KEY.search(k) and isinstance(v, (str, int)) else v
                    for k, v in data.items()}
        return data

    @field_validator("models", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return {str(name): {} for name in value}
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("responses")
    @classmethod
    def _responses_url(cls, value: bool | str | None) -> bool | str | None:
        return check_url(value) if isinstance(value, str) else value


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host and a valid port, or a ValueError saying what is wrong."""
    shown = redact(value)  # a password in the URL is never echoed
    if any(ch.isspace() for ch in value):
        raise ValueError(f"URL contains whitespace: {shown!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must be an http(s) URL, got scheme {parts.scheme or 'none'!r} in {shown!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {shown!r}")
    try:
        parts.port  # noqa: B018 — raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"URL has an invalid port: {shown!r}") from None
    return value


class TelemetryConfig(_Frozen):
    """``telemetry:`` in the file: OpenTelemetry spans and metrics (the ``otel`` extra)."""

    otel: bool = False
    capture_content: bool = False  # prompts and completions on spans: opt-in, as GenAI conventions advise

    @field_validator("otel")
    @classmethod
    def _installed(cls, value: bool) -> bool:
        import importlib.util

        if value and importlib.util.find_spec("opentelemetry") is None:
            raise ValueError("needs OpenTelemetry: pip install 'llmswitch[otel]'")
        return value


class BudgetConfig(_Frozen):
    """A spend cap for one gateway client key, per calendar day or month (UTC)."""

    amount: Num = Field(gt=0)
    currency: Literal["USD", "CNY"] = "USD"
    per: Literal["day", "month"] = "day"


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENV_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


class ClientKey(_Frozen):
    """One client of ``llmswitch serve``. The key arrives as ``key: ${ENV}`` and is hashed at
    once, or as ``sha256: <hex>``; only the digest is kept. Unset limits do not apply; unset
    ``routes`` and ``models`` allow every route and model."""

    sha256: str
    routes: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    passthrough: bool = False  # may call the /v1/* endpoints llmswitch does not route
    rpm: Int | None = Field(default=None, gt=0)
    tpm: Int | None = Field(default=None, gt=0)
    budget: BudgetConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _digest(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if ("key" in data) == ("sha256" in data):
            raise ValueError("give exactly one of `key: ${ENV_VAR}` or `sha256: <hex digest>`")
        data = dict(data)
        if "key" in data:
            key = data.pop("key")
            if not isinstance(key, str) or not key:
                raise ValueError("key: empty (the environment variable it names is unset or empty)")
            data["sha256"] = hashlib.sha256(key.encode()).hexdigest()
        elif not (isinstance(data["sha256"], str) and _SHA256.match(data["sha256"].lower())):
            raise ValueError("sha256: must be 64 hex digits (sha256 of the key)")
        else:
            data["sha256"] = data["sha256"].lower()
        return data


class GatewayConfig(_Frozen):
    """``llmswitch serve``: client keys (none = no auth, for loopback use), caps and draining."""

    keys: dict[str, ClientKey] = {}
    max_body_bytes: Int = Field(default=4 * 1024 * 1024, gt=0)
    max_messages: Int = Field(default=1000, gt=0)
    grace_period: Num = Field(default=30.0, ge=0)  # SIGTERM: how long in-flight requests may finish
    log_prompts: bool = False  # log request bodies (prompts) in the JSON lines; off by default


_STATE_SCHEMES = ("redis://", "rediss://", "unix://")


class StateConfig(_Frozen):
    """``state:`` in the file: where breakers, rate limits, budgets and stored responses live.
    ``memory`` is per process; ``redis`` shares them across a fleet (the ``redis`` extra)."""

    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    prefix: str = Field(default="llmswitch", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    timeout: Num = Field(default=0.05, gt=0, le=5)  # seconds a call may wait on Redis in total

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_STATE_SCHEMES):
            raise ValueError(f"must start with {', '.join(_STATE_SCHEMES)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> StateConfig:
        if self.backend == "redis":
            if self.url is None:
                raise ValueError("backend redis needs `url` (redis://host:port/db, rediss://..., unix://path)")
            import importlib.util

            if importlib.util.find_spec("redis") is None:
                raise ValueError("backend redis needs redis-py: pip install 'llmswitch[redis]'")
        return self


class Config(_Frozen):
    providers: dict[str, ProviderConfig] = {}
    routes: dict[str, RouteConfig] = {}
    defaults: Policy = Policy()
    default_route: str | None = None
    passthrough: str | None = None  # the OpenAI-protocol provider that serves endpoints we do not route
    cny_per_usd: Num = Field(default=7.2, gt=0)  # for reporting and ranking costs across currencies
    telemetry: TelemetryConfig = TelemetryConfig()
    gateway: GatewayConfig = GatewayConfig()
    state: StateConfig = StateConfig()


def merge(base: M, override: M | None) -> M:
    """``base`` with the fields ``override`` set explicitly (recursively for nested models)."""
    if override is None:
        return base
    update: dict[str, Any] = {}
    for name in override.model_fields_set:
        value = getattr(override, name)
        current = getattr(base, name)
        if isinstance(value, BaseModel) and isinstance(current, type(value)):
            value = merge(current, value)
        update[name] = value
    return base.model_copy(update=update) if update else base


@dataclass(frozen=True)
class Settings:
    """A loaded, checked providers file: what the router works from."""

    config: Config
    providers: Mapping[str, Provider]
    source: str = "<dict>"
    unresolved: Mapping[str, list[str]] = field(default_factory=dict)  # provider → problems
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def provider(self, name: str) -> Provider:
        problems = self.unresolved.get(name)
        if problems:
            raise ConfigError("\n".join(problems), problems=problems)
        return self.providers[name]

    def policy_for(self, route: str | None) -> Policy:
        """The route's policy merged over ``defaults`` field by field (cached)."""
        key = ("policy", route)
        policy: Policy | None = self._cache.get(key)
        if policy is None:
            policy = _route_policy(self.config, route)
            self._cache[key] = policy
        return policy

    def attempt_timeouts(self, route: str | None, provider: str) -> Timeouts:
        """Per-attempt limits for ``provider`` in ``route``: defaults < provider < route (cached)."""
        key = ("timeouts", route, provider)
        found: Timeouts | None = self._cache.get(key)
        if found is None:
            spec = self.config.providers.get(provider)
            found = merge(self.config.defaults.timeouts, spec.timeouts if spec is not None else None)
            found = merge(found, self.config.routes[route].timeouts if route in self.config.routes else None)
            self._cache[key] = found
        return found

    def provider_total(self, provider: str) -> float | None:
        """A provider's own ``timeouts.total``, when set: it caps each attempt to that provider."""
        spec = self.config.providers.get(provider)
        if spec is None or spec.timeouts is None or "total" not in spec.timeouts.model_fields_set:
            return None
        return spec.timeouts.total


def _route_policy(config: Config, route: str | None) -> Policy:
    base = config.defaults
    spec = config.routes.get(route) if route else None
    if spec is None:
        return base
    return Policy(
        retry=merge(base.retry, spec.retry),
        timeouts=merge(base.timeouts, spec.timeouts),
        circuit_breaker=merge(base.circuit_breaker, spec.circuit_breaker),
        fallback_on=spec.fallback_on if spec.fallback_on is not None else base.fallback_on,
    )


# -- reading files -------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
def _json_with_lines(text: str, lines: Lines, name: str) -> Any:
    """JSON keys appear in document order, so one cursor walking the text finds each one."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    data = json.loads(text, object_pairs_hook=pairs)
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_of(offset: int) -> int:
        lo, hi = 0, len(line_starts)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if line_starts[mid] <= offset else (lo, mid)
        return lo + 1

    cursor = 0

    def walk(value: Any, path: Path_) -> None:
        nonlocal cursor
        if isinstance(value, dict):
            for key, item in value.items():
                found = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, cursor)
                if found:
                    lines.lines[(*path, key)] = line_of(found.start())
                    cursor = found.end()
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, (dict, list)):
                    literal = json.dumps(item)
                    at = text.find(literal, cursor)
                    if at >= 0:
                        lines.lines[(*path, i)] = line_of(at)
                        cursor = at + len(literal)
                else:
                    at = text.find("{" if isinstance(item, dict) else "[", cursor)
                    lines.lines[(*path, i)] = line_of(at if at >= 0 else cursor)
                    cursor = max(at, cursor)
                walk(item, (*path, i))

    if duplicates:
        key = duplicates[0]
        hits = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
        line = line_of(hits[1]) if len(hits) > 1 else 1
        raise ConfigError(f"{name}:{line}: {key}: duplicate key {key!r}")
    walk(data, ())
    return data


_TOML_HEADER = re.compile(r"^\s*\[(\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_NAME = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)"""
_TOML_KEY = re.compile(rf"^\s*({_TOML_NAME}(?:\s*\.\s*{_TOML_NAME})*)\s*=")


def _toml_parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in re.findall(r""""[^"]*"|'[^']*'|[^.]+""", dotted))


def _toml_lines(text: str, lines: Lines) -> None:
    """Table headers and ``key =`` lines give each path its line; inline tables use their key's."""
    table: Path_ = ()
    arrays: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        header = _TOML_HEADER.match(line)
        if header:
            parts = _toml_parts(header.group(2))
            if header.group(1):  # [[array.of.tables]]
                index = arrays.get(parts, 0)
                arrays[parts] = index + 1
                table = (*parts, index)
            else:
                table = parts
            lines.lines.setdefault(table, number)
            for i in range(1, len(table)):
                lines.lines.setdefault(table[:i], number)
            continue
        key = _TOML_KEY.match(line)
        if key:
            path = (*table, *_toml_parts(key.group(1)))
            for i in range(len(table) + 1, len(path) + 1):
                lines.lines.setdefault(path[:i], number)


def _interpolate(value: Any, path: Path_, missing: list[tuple[Path_, str]],
                 sources: dict[Path_, list[str]] | None = None) -> Any:
    """``${VAR}`` expanded; ``missing`` collects unset ones, ``sources`` which variables fed each path."""
    if isinstance(value, str) and "${" in value:
        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if sources is not None:
                sources.setdefault(path, []).append(name)
            found = os.environ.get(name)
            if found is None or (found == "" and default is not None):
                if default is not None:
                    return default
                missing.append((path, name))
                return ""
            return found

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), missing, sources) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), missing, sources) for i, v in enumerate(value)]
    return value


def _parse_error_line(exc: Exception) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    if isinstance(getattr(exc, "lineno", None), int):
        return int(exc.lineno)  # type: ignore[attr-defined]
    found = re.search(r"line (\d+)", str(exc))
    return int(found.group(1)) if found else None


_CREDENTIAL_VALUE = re.compile(
    r"(?i)((?:api[_-]?key|[a-z_]*secret[a-z_]*|[a-z_]*token|password|passwd|authorization|access[_-]?key[a-z_]*)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+")
_TOKEN_LIKE = re.compile(r"(?<![\w./-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{24,}")


def _mask_snippet(text: str) -> str:
    """A parser's message quotes the offending line: mask what looks like a credential in it."""
    return _TOKEN_LIKE.sub("****", _CREDENTIAL_VALUE.sub(r"\1****", redact(text)))


def read(source: str | os.PathLike[str]) -> tuple[Any, Lines, str]:
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the providers file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{at}: (file): not UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start}); save the providers file as UTF-8") from None
    if not text.strip():
        raise ConfigError(f"{path}:1: (file): the providers file is empty; it needs at least 'providers'")
    lines = Lines()
    fmt = {".json": "JSON", ".toml": "TOML"}.get(path.suffix.lower(), "YAML")
    try:
        if fmt == "JSON":
            data = _json_with_lines(text, lines, str(path))
        elif fmt == "TOML":
            import tomllib

            data = tomllib.loads(text)
            _toml_lines(text, lines)
        else:
            data = yaml_with_lines(text, lines, str(path))
    except ConfigError:
        raise
    except Exception as exc:  # the parsers' own errors carry line/column
        line = _parse_error_line(exc)
        detail = _mask_snippet(str(exc).strip().replace("\n", " "))
        raise ConfigError(f"{path}:{line or 1}: (file): not valid {fmt}: {detail}") from None
    if data is None:
        raise ConfigError(f"{path}:1: (file): the providers file holds no settings (only comments?)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: (top level): the providers file must be a mapping with "
                          f"'providers' and 'routes'")
    return data, lines, str(path)


def load(source: str | os.PathLike[str] | Mapping[str, Any]) -> Settings:
    """Read and check a providers file (or dict) without sending anything."""
    if isinstance(source, Mapping):
        data, lines, name = dict(source), Lines(), "<config>"
    else:
        data, lines, name = read(source)
    return _check(data, lines, name)


def load_settings(config: str | os.PathLike[str] | Mapping[str, Any] | Settings | None) -> Settings | None:
    if config is None or isinstance(config, Settings):
        return config
    return load(config)


def _check(data: dict[str, Any], lines: Lines, name: str) -> Settings:
    missing: list[tuple[Path_, str]] = []
    sources: dict[Path_, list[str]] = {}
    problems = _plain_keys(data, lines, name)
    data = _interpolate(data, (), missing, sources)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            loc = tuple(p for p in loc if p not in ("str", "TargetConfig", "dict[str,ModelSpec]"))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{_where(name, lines, loc)}: {message}")
        raise ConfigError(_summary(name, problems), problems=problems) from None

    providers: dict[str, Provider] = {}
    unresolved: dict[str, list[str]] = {}
    for pname, spec in config.providers.items():
        provider, issues = _provider(pname, spec, name, lines, sources)
        problems += [i for i in issues if not _deferred(i)]  # wrong keys/types fail at once
        issues = [i for i in issues if _deferred(i)]  # missing credentials fail only when used
        if provider is not None:
            providers[pname] = provider
        for path, var in missing:
            if path[:2] == ("providers", pname):
                issues.append(f"{_where(name, lines, path)}: environment variable {var} is not set")
        if "/" in pname:
            problems.append(f"{_where(name, lines, ('providers', pname))}: provider names cannot contain '/'")
        if issues:
            unresolved[pname] = issues
    for path, var in missing:
        if path[:1] != ("providers",):
            problems.append(f"{_where(name, lines, path)}: environment variable {var} is not set")

    used = _check_routes(config, name, lines, problems)
    for pname in sorted(used):
        if pname in unresolved:
            problems.extend(unresolved[pname])
    if config.default_route is not None and config.default_route not in config.routes:
        problems.append(f"{_where(name, lines, ('default_route',))}: no route named {config.default_route!r}")
    if config.passthrough is not None and config.passthrough not in config.providers:
        problems.append(f"{_where(name, lines, ('passthrough',))}: no provider named {config.passthrough!r}")
    _check_gateway(config, name, lines, problems)
    if problems:
        raise ConfigError(_summary(name, problems), problems=problems)
    return Settings(_masked(config), providers, name, unresolved)


def _masked(config: Config) -> Config:
    """The config with every credential as a :class:`Secret`, so no repr or dump can print one."""
    changed: dict[str, ProviderConfig] = {}
    for pname, spec in config.providers.items():
        preset = catalog.get_preset(spec.type)
        extra = spec.model_extra or {}
        secrets = {k: Secret(str(v)) for k, v in extra.items()
                   if preset is not None and k in preset.credentials and not isinstance(v, Secret)}
        if secrets:
            changed[pname] = spec.model_copy(update=secrets)
    if not changed:
        return config
    return config.model_copy(update={"providers": {**config.providers, **changed}})


def _deferred(issue: str) -> bool:
    return "missing credential" in issue


def _summary(name: str, problems: list[str]) -> str:
    head = f"{name}: {len(problems)} problem(s) in the providers file"
    return "\n".join([head, *("  " + p for p in problems)])


_KNOWN_PROVIDER_KEYS = ("base_url", "headers", "strict", "timeouts", "max_response_bytes", "prices", "models",
                       "responses", "rpm", "tpm")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _control_character(value: str, here: str, variables: list[str] | None) -> str | None:
    """A credential with a CR/LF/tab would break the header (and print escaped, past redaction):
    refuse it, naming where it came from, never the value."""
    if not _CONTROL.search(value):
        return None
    origin = f"environment variable {', '.join(variables)}" if variables else "the value"
    return f"{here}: {origin} contains a control character (CR, LF, tab, ...); a credential cannot"


def _provider(pname: str, spec: ProviderConfig, name: str, lines: Lines,
              sources: Mapping[Path_, list[str]]) -> tuple[Provider | None, list[str]]:
    preset = catalog.get_preset(spec.type)
    where = _where(name, lines, ("providers", pname, "type"))
    if preset is None:
        known = ", ".join(catalog.preset_names())
        return None, [f"{where}: unknown provider type {spec.type!r}; known types: {known}"]
    issues: list[str] = []
    credentials: dict[str, Secret] = {}
    options: dict[str, Any] = {}
    for key, value in (spec.model_extra or {}).items():
        here = _where(name, lines, ("providers", pname, key))
        if key in preset.credentials:
            if isinstance(value, (dict, list)) or value is None:
                issues.append(f"{here}: must be a string")  # never echo the value: it is a secret
                continue
            secret = value if isinstance(value, Secret) else Secret(str(value))
            problem = _control_character(secret.get(), here, sources.get(("providers", pname, key)))
            if problem:
                issues.append(problem)
                continue
            credentials[key] = secret
        elif key in preset.options:
            options[key] = value
        else:
            allowed = sorted({*_KNOWN_PROVIDER_KEYS, *preset.credentials, *preset.options})
            issues.append(f"{here}: unknown key for type {spec.type!r}; allowed: {', '.join(allowed)}")
    if "api_key" in preset.credentials and "api_key" not in credentials and preset.env_key:
        env = os.environ.get(preset.env_key)
        problem = _control_character(env or "", _where(name, lines, ("providers", pname)), [preset.env_key])
        if problem:
            issues.append(problem)
        elif env:
            credentials["api_key"] = Secret(env)
    for cred in preset.required_credentials:
        if not credentials.get(cred):
            hint = f" (or set {preset.env_key})" if cred == "api_key" and preset.env_key else ""
            issues.append(f"{_where(name, lines, ('providers', pname))}: missing credential {cred!r}{hint}")
    if spec.responses is not None:
        options["responses"] = spec.responses
    base_url = spec.base_url or preset.base_url
    if preset.protocol == "mock" and base_url is None:
        base_url = f"http://llmswitch.mock/{pname}/v1"
    if base_url is None:
        issues.append(f"{_where(name, lines, ('providers', pname))}: type {spec.type!r} needs a base_url")
        base_url = ""
    provider = Provider(pname, preset, base_url, credentials, options, dict(spec.headers),
                        _models(spec, preset.models), spec.strict, spec.max_response_bytes)
    return provider, issues


def _models(spec: ProviderConfig, known_models: Mapping[str, ModelInfo]) -> dict[str, ModelInfo]:
    """The file's facts about models (capabilities, window, prices) over the catalog's."""
    out: dict[str, ModelInfo] = {}
    for model in {*spec.models, *spec.prices}:
        info = known_models.get(model) or ModelInfo()
        facts = spec.models.get(model)
        price = spec.prices.get(model)
        out[model] = ModelInfo(
            context_window=facts.context_window if facts and facts.context_window else info.context_window,
            max_output=facts.max_output if facts and facts.max_output else info.max_output,
            input_price=price.input if price else info.input_price,
            output_price=price.output if price else info.output_price,
            currency=price.currency if price else info.currency,
            capabilities=frozenset(facts.capabilities) if facts and facts.capabilities is not None
            else info.capabilities,
        )
    return out


def _check_routes(config: Config, name: str, lines: Lines, problems: list[str]) -> set[str]:
    """Targets must name a provider (provider/model) or another route; no cycles. Returns providers used."""
    used: set[str] = set()
    for rname, route in config.routes.items():
        where = _where(name, lines, ("routes", rname))
        if "/" in rname:
            problems.append(f"{where}: route names cannot contain '/'")
        if rname in config.providers:
            problems.append(f"{where}: the name {rname!r} is used for both a route and a provider")
        _check_route_limits(config, rname, route, name, lines, problems)
        seen: set[str] = set()
        for i, target in enumerate(route.targets):
            item: Path_ = ("routes", rname, "targets", i)
            line = lines.find((*item, "target"))  # the value itself when the item is a mapping
            here = f"{name}:{line}: {'.'.join(map(str, item))}" if line else _where(name, lines, item)
            if target.target in seen:
                problems.append(f"{here}: duplicate target {target.target!r}")
            seen.add(target.target)
            if target.target in config.routes:
                continue
            pname, sep, model = target.target.partition("/")
            if not sep or not model:
                problems.append(f"{here}: {target.target!r} is neither a route nor 'provider/model'")
            elif pname not in config.providers:
                known = ", ".join(sorted(config.providers)) or "none"
                problems.append(f"{here}: unknown provider {pname!r} (configured: {known})")
            else:
                used.add(pname)
                declared = config.providers[pname].models
                if declared and model not in declared:
                    problems.append(f"{here}: unknown model {model!r} for provider {pname!r} "
                                    f"(its models: {', '.join(sorted(declared))})")
    reported: set[frozenset[str]] = set()
    for rname in config.routes:
        cycle = _cycle(config, rname, [])
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            problems.append(f"{_where(name, lines, ('routes', cycle[0], 'targets'))}: "
                            f"route cycle {' -> '.join(cycle)}")
    return used


def _check_route_limits(config: Config, rname: str, route: RouteConfig, name: str, lines: Lines,
                        problems: list[str]) -> None:
    """Limits that contradict each other only once merged over ``defaults``."""
    merged = merge(config.defaults.timeouts, route.timeouts)
    explicit = set(route.timeouts.model_fields_set if route.timeouts else ())
    explicit |= config.defaults.timeouts.model_fields_set
    try:
        _check_against_total(merged, explicit)
    except ValueError as exc:
        problems.append(f"{_where(name, lines, ('routes', rname, 'timeouts'))}: {exc}")
    if route.hedge_after is not None and merged.total is not None and route.hedge_after >= merged.total:
        problems.append(f"{_where(name, lines, ('routes', rname, 'hedge_after'))}: hedge_after "
                        f"({route.hedge_after}s) is not shorter than total ({merged.total}s)")


def _cycle(config: Config, route: str, stack: list[str]) -> list[str] | None:
    if route in stack:
        return [*stack[stack.index(route):], route]
    for target in config.routes[route].targets:
        if target.target in config.routes:
            found = _cycle(config, target.target, [*stack, route])
            if found:
                return found
    return None


def _plain_keys(data: Mapping[str, Any], lines: Lines, name: str) -> list[str]:
    """Gateway client keys must come from the environment (``${VAR}``), never sit in the file."""
    gateway = data.get("gateway")
    keys = gateway.get("keys") if isinstance(gateway, Mapping) else None
    if not isinstance(keys, Mapping):
        return []
    return [f"{_where(name, lines, ('gateway', 'keys', kname, 'key'))}: give the key as ${{ENV_VAR}} "
            f"or as `sha256: <hex digest>`, never in plain text"
            for kname, spec in keys.items()
            if isinstance(spec, Mapping) and "key" in spec and not _ENV_ONLY.match(str(spec["key"]))]


def _check_gateway(config: Config, name: str, lines: Lines, problems: list[str]) -> None:
    """A key's allowed routes must exist and its models name configured providers."""
    for kname, key in config.gateway.keys.items():
        for i, route in enumerate(key.routes or ()):
            if route not in config.routes:
                known = ", ".join(sorted(config.routes)) or "none"
                problems.append(f"{_where(name, lines, ('gateway', 'keys', kname, 'routes', i))}: "
                                f"unknown route {route!r} (configured: {known})")
        for i, model in enumerate(key.models or ()):
            pname, sep, rest = model.partition("/")
            if not sep or not rest or pname not in config.providers:
                known = ", ".join(sorted(config.providers)) or "none"
                problems.append(f"{_where(name, lines, ('gateway', 'keys', kname, 'models', i))}: "
                                f"{model!r} is not 'provider/model' with a configured provider ({known})")
