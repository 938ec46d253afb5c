"""The catalog: what llmswitch knows about each provider, as data.

A preset names the wire protocol (the adapter), the default base URL, how to authenticate, the
quirks of the vendor's dialect, and the models it serves (context window, capabilities, prices).
Preset data lives in the sibling modules, one per family of providers; this module only defines
the shapes and looks presets up. Nothing is loaded until the first lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ModelInfo",
    "Preset",
    "Quirks",
    "Range",
    "ResponsesAPI",
    "get_preset",
    "preset_names",
]

Currency = Literal["CNY", "USD"]
AuthStyle = Literal["bearer", "api-key", "x-api-key", "none", "custom"]

#: capabilities a model may have; capability filtering in the router reads these
CAPABILITIES = frozenset({"chat", "stream", "tools", "vision", "json_mode", "embeddings", "reasoning"})


@dataclass(frozen=True)
class Range:
    """An accepted numeric interval; open ends are exclusive (e.g. SenseNova top_p in (0, 1))."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def clamp(self, value: float) -> float:
        """The nearest accepted value; for an open end, a small step inside it."""
        if self.low is not None and (value < self.low or (self.low_open and value <= self.low)):
            return self.low + 0.01 if self.low_open else self.low
        if self.high is not None and (value > self.high or (self.high_open and value >= self.high)):
            return self.high - 0.01 if self.high_open else self.high
        return value

    def __str__(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{left}{low}, {high}{right}"


@dataclass(frozen=True)
class Quirks:
    """How a vendor's dialect of the OpenAI protocol differs, and how requests are adjusted.

    ``rename``: parameters sent under another name. ``unsupported``: parameters the vendor rejects
    or ignores — dropped in lenient mode, an error in strict mode. ``ranges``: accepted intervals,
    clamped in lenient mode. The remaining flags describe response dialects.
    """

    rename: Mapping[str, str] = field(default_factory=dict)
    unsupported: frozenset[str] = frozenset()
    ranges: Mapping[str, Range] = field(default_factory=dict)
    unsupported_values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    stream_options: bool = True  # accepts stream_options.include_usage
    usage_in_choice: bool = False  # Moonshot: final chunk carries usage in choices[0].usage
    reasoning_field: str | None = None  # vendor name for reasoning_content (SenseNova: "reasoning")
    echo_reasoning: bool = False  # DeepSeek: assistant tool turns must carry reasoning_content back
    empty_finish_reason: bool = False  # "" instead of null on content chunks
    embeddings: bool = True  # serves /embeddings on the same base URL
    # error classification beyond the HTTP status: vendor code → kind, then message substrings
    error_codes: Mapping[str, str] = field(default_factory=dict)
    error_patterns: tuple[tuple[str, str], ...] = ()
    # a status object some vendors put in every body, e.g. MiniMax's base_resp{status_code, status_msg}
    status_envelope: str | None = None
    # the best response_format the dialect takes: json_schema, json_object only (the schema then goes
    # in the system prompt), or prompt (no JSON mode: the instruction only, with a warning)
    structured: Literal["json_schema", "json_object", "prompt"] = "json_schema"


@dataclass(frozen=True)
class ModelInfo:
    """Per-model facts. Prices are per million tokens in ``currency``."""

    context_window: int | None = None
    max_output: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    currency: Currency = "USD"
    capabilities: frozenset[str] = frozenset({"chat", "stream", "tools", "json_mode"})

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True)
class ResponsesAPI:
    """The vendor serves OpenAI's Responses API itself, so ``/responses`` passes through unbridged.

    ``base_url`` is where it differs from the preset's (used only while a provider keeps the
    preset's default); ``path`` is the endpoint under it; ``models`` limits it to those models.
    """

    base_url: str | None = None
    path: str = "/responses"
    models: frozenset[str] | None = None


@dataclass(frozen=True)
class Preset:
    """A provider type usable as ``type:`` in the providers file."""

    name: str
    protocol: str  # the adapter registry key
    base_url: str | None
    auth: AuthStyle = "bearer"
    env_key: str | None = None  # environment variable read when the file gives no api_key
    credentials: tuple[str, ...] = ("api_key",)  # credential fields this type takes
    required_credentials: tuple[str, ...] = ("api_key",)
    quirks: Quirks = field(default_factory=Quirks)
    models: Mapping[str, ModelInfo] = field(default_factory=dict)
    default_model: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # protocol options (api_version, …)
    description: str = ""
    responses: ResponsesAPI | None = None  # serves /responses natively (else llmswitch bridges it)

    def model_info(self, model: str) -> ModelInfo | None:
        return self.models.get(model)


# data modules, each exporting PRESETS: tuple[Preset, ...]; a vendor with a native adapter owns
# one module holding its native preset and its "<name>-compat" preset
_SOURCES = tuple(
    f"llmswitch.catalog.{name}"
    for name in (
        "compat",
        "sensenova",
        "dashscope",
        "qianfan",
        "hunyuan",
        "zhipu",
        "minimax",
        "anthropic",
        "gemini",
        "ollama",
    )
)
_presets: dict[str, Preset] | None = None


def _load() -> dict[str, Preset]:
    global _presets
    if _presets is None:
        found: dict[str, Preset] = {}
        for source in _SOURCES:
            try:
                module = importlib.import_module(source)
            except ModuleNotFoundError as exc:
                if exc.name != source:
                    raise
                continue
            for preset in module.PRESETS:
                if preset.name in found:
                    raise RuntimeError(f"catalog preset {preset.name!r} defined twice ({source})")
                found[preset.name] = preset
        _presets = found
    return _presets


def get_preset(name: str) -> Preset | None:
    return _load().get(name)


def preset_names() -> list[str]:
    return sorted(_load())
