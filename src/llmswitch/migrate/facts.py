"""What the codemod learns from an app, for the summary and the providers-file draft."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Facts", "Site"]


@dataclass(frozen=True)
class Site:
    """A place in the code: what was (or could not be) changed there, and why."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


@dataclass
class Facts:
    """Gathered over every file: models named in string literals, how clients get keys and URLs."""

    models: dict[str, Site] = field(default_factory=dict)  # model name → where it was first seen
    env_vars: set[str] = field(default_factory=set)  # every environment variable the code reads by name
    optional_vars: set[str] = field(default_factory=set)  # client settings read with a fallback (getenv)
    clients: int = 0  # OpenAI / AsyncOpenAI constructions
    # Azure clients' settings: field → "${VAR}" or a literal (api_version, endpoint; never a key)
    azure: dict[str, str] = field(default_factory=dict)
    azure_clients: int = 0
    # plain clients' explicit settings, as for azure: api_key / base_url → "${VAR}" or a literal URL
    openai: dict[str, str] = field(default_factory=dict)
    warnings: list[Site] = field(default_factory=list)

    def merge(self, other: Facts) -> None:
        for name, site in other.models.items():
            self.models.setdefault(name, site)
        self.env_vars |= other.env_vars
        self.optional_vars |= other.optional_vars
        self.clients += other.clients
        self.azure_clients += other.azure_clients
        for mine, theirs in ((self.azure, other.azure), (self.openai, other.openai)):
            for key, value in theirs.items():
                mine.setdefault(key, value)
        self.warnings += other.warnings
