"""The providers file: YAML/TOML/JSON (or a dict) → frozen, validated models.

Every problem is reported at once, each naming the file, the line and the field. Variables
(``${VAR}``, ``${VAR:-default}``) are read from the environment at load time; a provider whose
variables are unset can still be listed, but using it (or routing to it) is an error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import catalog
from ._secret import Secret
from .adapters.base import Provider
from .catalog import ModelInfo
from .errors import ConfigError

__all__ = [
    "Backoff",
    "BreakerConfig",
    "Config",
    "Policy",
    "ProviderConfig",
    "RetryConfig",
    "RouteConfig",
    "Settings",
    "TargetConfig",
    "Timeouts",
    "load",
    "load_settings",
]

FallbackClass = Literal[
    "rate_limit", "server_error", "timeout", "connection", "auth", "context_window", "content_filter",
    "billing", "not_found", "stream_interrupted",
]
DEFAULT_FALLBACK_ON: tuple[FallbackClass, ...] = ("rate_limit", "server_error", "timeout", "connection")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Backoff(_Frozen):
    initial: float = Field(0.5, ge=0)
    max: float = Field(8.0, ge=0)
    multiplier: float = Field(2.0, ge=1)
    jitter: float = Field(0.25, ge=0, le=1)  # openai's: up to 25% less than the nominal wait


class RetryConfig(_Frozen):
    max_attempts: int = Field(3, ge=1, le=20)  # 1 try + 2 retries, as openai's client
    backoff: Backoff = Backoff()
    in_place: bool = False  # retry a failing target before moving on to the next one
    budget: float = Field(0.2, ge=0, le=1)  # retries may add at most this share of traffic per target


class Timeouts(_Frozen):
    connect: float | None = Field(5.0, gt=0)
    first_token: float | None = Field(None, gt=0)
    idle: float | None = Field(None, gt=0)
    total: float | None = Field(600.0, gt=0)

    @model_validator(mode="after")
    def _possible(self) -> Timeouts:
        if self.total is not None:
            for name in ("connect", "first_token", "idle"):
                value = getattr(self, name)
                if name not in self.model_fields_set:  # a default never makes a short total impossible
                    continue
                if value is not None and value > self.total:
                    raise ValueError(f"{name} ({value}s) is longer than total ({self.total}s)")
        return self


class BreakerConfig(_Frozen):
    enabled: bool = True
    failures: int = Field(5, ge=1)
    window: float = Field(60.0, gt=0)
    cooldown: float = Field(30.0, gt=0)
    half_open_probes: int = Field(1, ge=1)


class Policy(_Frozen):
    retry: RetryConfig = RetryConfig()
    timeouts: Timeouts = Timeouts()
    circuit_breaker: BreakerConfig = BreakerConfig()
    fallback_on: tuple[FallbackClass, ...] = DEFAULT_FALLBACK_ON


class TargetConfig(_Frozen):
    target: str
    weight: float = Field(1.0, gt=0)


class RouteConfig(_Frozen):
    strategy: Literal["fallback", "weighted", "round_robin", "least_latency", "cheapest"] = "fallback"
    targets: tuple[TargetConfig, ...] = Field(min_length=1)
    retry: RetryConfig | None = None
    timeouts: Timeouts | None = None
    circuit_breaker: BreakerConfig | None = None
    fallback_on: tuple[FallbackClass, ...] | None = None
    hedge_after: float | None = Field(None, gt=0)

    @field_validator("targets", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"target": v} if isinstance(v, str) else v for v in value]
        return value


class PriceConfig(_Frozen):
    input: float = Field(ge=0)
    output: float = Field(0.0, ge=0)
    currency: Literal["CNY", "USD"] = "USD"


_SECRET_KEY = re.compile(r"(^|_)(key|secret|token|password)$", re.IGNORECASE)


class ProviderConfig(BaseModel):
    """Known keys are typed; credential and option keys are checked against the preset."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    base_url: str | None = None
    headers: dict[str, str] = {}
    strict: bool = False
    timeouts: Timeouts | None = None
    prices: dict[str, PriceConfig] = {}
    models: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _mask(cls, data: Any) -> Any:
        """Credential-looking extra keys become Secrets at once, so no repr ever shows them."""
        if isinstance(data, dict):
            return {k: Secret(str(v)) if _SECRET_KEY.search(k) and isinstance(v, (str, int)) else v
                    for k, v in data.items()}
        return data

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http(s) URL, got {value!r}")
        if not parts.netloc:
            raise ValueError(f"base_url has no host: {value!r}")
        return value


class Config(_Frozen):
    providers: dict[str, ProviderConfig] = {}
    routes: dict[str, RouteConfig] = {}
    defaults: Policy = Policy()
    default_route: str | None = None


@dataclass(frozen=True)
class Settings:
    """A loaded, checked providers file: what the router works from."""

    config: Config
    providers: Mapping[str, Provider]
    source: str = "<dict>"
    unresolved: Mapping[str, list[str]] = field(default_factory=dict)  # provider → problems

    def provider(self, name: str) -> Provider:
        problems = self.unresolved.get(name)
        if problems:
            raise ConfigError("\n".join(problems), problems=problems)
        return self.providers[name]

    def policy_for(self, route: str | None) -> Policy:
        base = self.config.defaults
        spec = self.config.routes.get(route) if route else None
        if spec is None:
            return base
        return Policy(
            retry=spec.retry or base.retry,
            timeouts=spec.timeouts or base.timeouts,
            circuit_breaker=spec.circuit_breaker or base.circuit_breaker,
            fallback_on=spec.fallback_on if spec.fallback_on is not None else base.fallback_on,
        )


# -- reading files -------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
Path_ = tuple[str | int, ...]


class _Lines:
    """Line numbers by field path, from YAML nodes (JSON/TOML get them by a key search)."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}

    def find(self, path: Path_) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _yaml_with_lines(text: str, lines: _Lines) -> Any:
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return {}

    def build(n: Any, path: Path_) -> Any:
        lines.lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in n.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                if key in out:
                    raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
                lines.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return yaml.safe_load(yaml.serialize(n))

    return build(node, ())


def _text_lines(text: str, data: Any, lines: _Lines, path: Path_ = ()) -> None:
    """Best effort for JSON/TOML: the first line mentioning each key."""
    if isinstance(data, dict):
        for key, value in data.items():
            for number, line in enumerate(text.splitlines(), 1):
                if re.search(rf'(^|["\s\[.]){re.escape(str(key))}(["\s\]=:.]|$)', line):
                    lines.lines[(*path, key)] = number
                    break
            _text_lines(text, value, lines, (*path, key))


def _interpolate(value: Any, path: Path_, missing: list[tuple[Path_, str]]) -> Any:
    if isinstance(value, str) and "${" in value:
        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is None or (found == "" and default is not None):
                if default is not None:
                    return default
                missing.append((path, name))
                return ""
            return found

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), missing) for i, v in enumerate(value)]
    return value


def read(source: str | os.PathLike[str]) -> tuple[Any, _Lines, str]:
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the providers file: {exc.strerror or exc}") from None
    lines = _Lines()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            _text_lines(text, data, lines)
        elif path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
            _text_lines(text, data, lines)
        else:
            data = _yaml_with_lines(text, lines)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except Exception as exc:  # the parsers' own errors carry line/column
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the providers file must be a mapping with 'providers' and 'routes'")
    return data, lines, str(path)


def load(source: str | os.PathLike[str] | Mapping[str, Any]) -> Settings:
    """Read and check a providers file (or dict) without sending anything."""
    if isinstance(source, Mapping):
        data, lines, name = dict(source), _Lines(), "<config>"
    else:
        data, lines, name = read(source)
    return _check(data, lines, name)


def load_settings(config: str | os.PathLike[str] | Mapping[str, Any] | Settings | None) -> Settings | None:
    if config is None or isinstance(config, Settings):
        return config
    return load(config)


def _where(name: str, lines: _Lines, path: Path_) -> str:
    line = lines.find(path)
    field_name = ".".join(str(p) for p in path) or "(top level)"
    return f"{name}:{line}: {field_name}" if line else f"{name}: {field_name}"


def _check(data: dict[str, Any], lines: _Lines, name: str) -> Settings:
    missing: list[tuple[Path_, str]] = []
    data = _interpolate(data, (), missing)
    problems: list[str] = []
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            loc = tuple(p for p in loc if p not in ("str", "TargetConfig"))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{_where(name, lines, loc)}: {message}")
        raise ConfigError(_summary(name, problems), problems=problems) from None

    providers: dict[str, Provider] = {}
    unresolved: dict[str, list[str]] = {}
    for pname, spec in config.providers.items():
        provider, issues = _provider(pname, spec, name, lines)
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
    if problems:
        raise ConfigError(_summary(name, problems), problems=problems)
    return Settings(config, providers, name, unresolved)


def _summary(name: str, problems: list[str]) -> str:
    head = f"{name}: {len(problems)} problem(s) in the providers file"
    return "\n".join([head, *("  " + p for p in problems)])


def _deferred(issue: str) -> bool:
    return "missing credential" in issue


def _provider(pname: str, spec: ProviderConfig, name: str, lines: _Lines) -> tuple[Provider | None, list[str]]:
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
            credentials[key] = value if isinstance(value, Secret) else Secret(str(value))
        elif key in preset.options:
            options[key] = value
        else:
            allowed = sorted({"base_url", "headers", "strict", "timeouts", "prices", "models",
                              *preset.credentials, *preset.options})
            issues.append(f"{here}: unknown key for type {spec.type!r}; allowed: {', '.join(allowed)}")
    if "api_key" in preset.credentials and "api_key" not in credentials and preset.env_key:
        env = os.environ.get(preset.env_key)
        if env:
            credentials["api_key"] = Secret(env)
    for cred in preset.required_credentials:
        if not credentials.get(cred):
            hint = f" (or set {preset.env_key})" if cred == "api_key" and preset.env_key else ""
            issues.append(f"{_where(name, lines, ('providers', pname))}: missing credential {cred!r}{hint}")
    base_url = spec.base_url or preset.base_url
    if preset.protocol == "mock" and base_url is None:
        base_url = f"http://llmswitch.mock/{pname}/v1"
    if base_url is None:
        issues.append(f"{_where(name, lines, ('providers', pname))}: type {spec.type!r} needs a base_url")
        base_url = ""
    models: dict[str, ModelInfo] = {}
    for model, price in spec.prices.items():
        known = preset.models.get(model) or ModelInfo()
        models[model] = ModelInfo(known.context_window, known.max_output, price.input, price.output,
                                  price.currency, known.capabilities)
    provider = Provider(pname, preset, base_url, credentials, options, dict(spec.headers), models, spec.strict)
    return provider, issues


def _check_routes(config: Config, name: str, lines: _Lines, problems: list[str]) -> set[str]:
    """Targets must name a provider (provider/model) or another route; no cycles. Returns providers used."""
    used: set[str] = set()
    for rname, route in config.routes.items():
        if "/" in rname:
            problems.append(f"{_where(name, lines, ('routes', rname))}: route names cannot contain '/'")
        for i, target in enumerate(route.targets):
            here = _where(name, lines, ("routes", rname, "targets", i))
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
    for rname in config.routes:
        cycle = _cycle(config, rname, [])
        if cycle:
            problems.append(f"{_where(name, lines, ('routes', rname))}: route cycle {' -> '.join(cycle)}")
            break
    return used


def _cycle(config: Config, route: str, stack: list[str]) -> list[str] | None:
    if route in stack:
        return [*stack[stack.index(route):], route]
    for target in config.routes[route].targets:
        if target.target in config.routes:
            found = _cycle(config, target.target, [*stack, route])
            if found:
                return found
    return None
