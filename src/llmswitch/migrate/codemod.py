"""The codemod: openai's client classes become llmswitch's, on libcst so formatting and comments survive.

Rewritten: ``from openai import OpenAI`` (aliased or not, alone or among other names: the others
stay with openai), ``openai.OpenAI(...)`` / ``openai.AsyncOpenAI`` after ``import openai`` (an
``import llmswitch`` is added, or replaces ``import openai`` when nothing else uses it), and
``AzureOpenAI`` / ``AsyncAzureOpenAI``, which become ``OpenAI`` / ``AsyncOpenAI`` whose endpoint,
key and api_version move to an ``azure`` provider in the providers file. Everything else —
``openai.types``, exceptions, other names — is left alone: it keeps working, since llmswitch's
clients subclass openai's and its errors subclass openai's errors.

While it reads, it gathers :class:`~.facts.Facts` for the providers-file draft: model names in
string literals, environment variables read by name, and how clients get their key and URL.
Running it on its own output changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .catalogmap import model_names
from .facts import Facts, Site

__all__ = ["Rewrite", "rewrite"]

CLIENTS = {"OpenAI": "OpenAI", "AsyncOpenAI": "AsyncOpenAI", "AzureOpenAI": "OpenAI",
           "AsyncAzureOpenAI": "AsyncOpenAI"}
AZURE = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})
# AzureOpenAI arguments that move to the providers file's azure provider (argument → provider field)
AZURE_MOVED = {"azure_endpoint": "base_url", "base_url": "base_url", "api_key": "api_key", "api_version": "api_version"}
# AzureOpenAI arguments llmswitch's azure provider cannot take: such a client is left as it is
AZURE_BLOCKERS = {
    "azure_deployment": "it pins one deployment, while llmswitch takes the deployment as the model",
    "azure_ad_token": "Entra ID tokens are not supported by the azure provider (api_key only)",
    "azure_ad_token_provider": "Entra ID tokens are not supported by the azure provider (api_key only)",
}


@dataclass
class Rewrite:
    """One file's migration: the new text, what changed, what could not, and what was learnt."""

    path: str
    before: str
    after: str
    changed: list[Site] = field(default_factory=list)
    skipped: list[Site] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)


def rewrite(source: str, path: str = "<string>") -> Rewrite:
    """Migrate one module's source (raises ``libcst.ParserSyntaxError`` on code that does not parse)."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    scan = _Scan(path)
    wrapper.visit(scan)
    result = Rewrite(path, source, source, skipped=scan.skipped, facts=scan.facts)
    if not scan.locals and not scan.modules:
        return result
    rewriter = _Rewriter(scan, result.changed)
    module = wrapper.visit(rewriter)
    if rewriter.module_uses:
        module = module.visit(_ImportLlmswitch(scan.modules, _still_used(module, scan.modules)))
    result.after = module.code
    return result


# -- reading -------------------------------------------------------------------------------------

def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _env_var(node: cst.BaseExpression) -> str | None:
    """The variable name in ``os.environ["X"]``, ``os.environ.get("X", …)`` or ``os.getenv("X", …)``."""
    if isinstance(node, cst.Subscript) and _dotted(node.value) in ("os.environ", "environ") and node.slice:
        element = node.slice[0].slice
        return _string(element.value) if isinstance(element, cst.Index) else None
    if isinstance(node, cst.Call) and node.args and _dotted(node.func) in (
            "os.environ.get", "environ.get", "os.getenv", "getenv"):
        return _string(node.args[0].value)
    return None


class _Scan(cst.CSTVisitor):
    """First pass: which names mean openai's clients here, and the facts for the draft."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, path: str) -> None:
        self.path = path
        self.locals: dict[str, str] = {}  # local name → openai class (from `from openai import …`)
        self.modules: set[str] = set()  # names bound to the openai module
        self.azure_blocked = False
        self.skipped: list[Site] = []
        self.facts = Facts()
        self._known_models = model_names()

    def site(self, node: cst.CSTNode, what: str) -> Site:
        return Site(self.path, self.get_metadata(PositionProvider, node).start.line, what)

    def client_class(self, func: cst.BaseExpression) -> str | None:
        if isinstance(func, cst.Name):
            return self.locals.get(func.value)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in self.modules:
            return func.attr.value if func.attr.value in CLIENTS else None
        return None

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or _dotted(node.module) != "openai":
            return
        if isinstance(node.names, cst.ImportStar):
            self.skipped.append(self.site(node, "`from openai import *`: the client names cannot be told apart; "
                                                "import them by name"))
            return
        for alias in node.names:
            name = _dotted(alias.name)
            if name in CLIENTS:
                local = alias.asname.name if alias.asname is not None else alias.name
                self.locals[_dotted(local)] = name

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            if _dotted(alias.name) == "openai":
                self.modules.add(_dotted(alias.asname.name) if alias.asname else "openai")

    def visit_Call(self, node: cst.Call) -> None:
        var = _env_var(node)
        if var:
            self.facts.env_vars.add(var)
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "model":
                model = _string(arg.value)
                if model:
                    self.facts.models.setdefault(model, self.site(arg, f"model {model!r}"))
        cls = self.client_class(node.func)
        if cls is None:
            return
        if cls in AZURE:
            self._azure(node, cls)
        else:
            self.facts.clients += 1
            self._settings(node, self.facts.openai, {"api_key": "api_key", "base_url": "base_url"})

    def visit_Subscript(self, node: cst.Subscript) -> None:
        var = _env_var(node)
        if var:
            self.facts.env_vars.add(var)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = _string(node)
        if value in self._known_models:
            self.facts.models.setdefault(value, self.site(node, f"model {value!r}"))

    def _azure(self, node: cst.Call, cls: str) -> None:
        for arg in node.args:
            why = AZURE_BLOCKERS.get(arg.keyword.value) if arg.keyword is not None else None
            if arg.star:
                why = f"`{arg.star}` arguments may carry Azure settings the codemod cannot see"
            if why:
                self.azure_blocked = True
                self.skipped.append(self.site(node, f"{cls}(...) left as it is: {why}"))
                return
        self.facts.azure_clients += 1  # one that moves to the azure provider
        self._settings(node, self.facts.azure, AZURE_MOVED)

    def _settings(self, node: cst.Call, into: dict[str, str], fields: dict[str, str]) -> None:
        """Record where a client's key, URL and version come from: ``${VAR}``, or a literal (not a key)."""
        for arg in node.args:
            if arg.keyword is None or arg.keyword.value not in fields:
                continue
            target = fields[arg.keyword.value]
            var, literal = _env_var(arg.value), _string(arg.value)
            if var:
                into.setdefault(target, f"${{{var}}}")
                if isinstance(arg.value, cst.Call):  # .get() / getenv(): the code copes when it is unset
                    self.facts.optional_vars.add(var)
            elif literal is not None and target == "api_key":
                self.facts.warnings.append(self.site(arg, "a literal API key: not copied into the providers file "
                                                          "(it uses an environment variable); move it out of the code"))
            elif literal is not None:
                into.setdefault(target, literal)


def _still_used(module: cst.Module, names: set[str]) -> set[str]:
    """Which of ``names`` the module still uses outside its import statements."""

    class Uses(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: set[str] = set()

        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            if node.value in names:
                self.found.add(node.value)

    uses = Uses()
    module.visit(uses)
    return uses.found


# -- writing -------------------------------------------------------------------------------------

class _Rewriter(cst.CSTTransformer):
    """Second pass: rewrite imports, ``openai.X`` references and Azure constructions."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, scan: _Scan, changed: list[Site]) -> None:
        self.scan = scan
        self.changed = changed
        moving = {local: cls for local, cls in scan.locals.items() if cls not in AZURE or not scan.azure_blocked}
        self.moving = moving
        # unaliased Azure names are renamed at every use: AzureOpenAI → OpenAI
        self.renames = {local: CLIENTS[cls] for local, cls in moving.items() if cls in AZURE and local == cls}
        self.module_uses = False  # an `openai.X` reference became `llmswitch.X`
        self._attrs: set[int] = set()  # ids of Name nodes that are attribute names, never renamed

    def site(self, node: cst.CSTNode, what: str) -> None:
        self.changed.append(Site(self.scan.path, self.get_metadata(PositionProvider, node).start.line, what))

    def _azure_call(self, func: cst.BaseExpression) -> bool:
        cls = self.scan.client_class(func)
        return cls in AZURE and not self.scan.azure_blocked

    # imports
    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
                                  ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        body: list[cst.BaseSmallStatement] = []
        changed = False
        for index, statement in enumerate(original.body):
            split = self._split(statement) if isinstance(statement, cst.ImportFrom) else None
            if split is None:
                body.append(updated.body[index])
            else:
                changed = True
                body += [s for s in split if s is not None]
        if not changed:
            return updated
        if len(original.body) == 1 and len(body) == 2:  # what stays with openai, then the llmswitch import
            return cst.FlattenSentinel([updated.with_changes(body=body[:1]), cst.SimpleStatementLine(body=body[1:])])
        return updated.with_changes(body=body)

    def _split(self, node: cst.ImportFrom) -> tuple[cst.ImportFrom | None, cst.ImportFrom] | None:
        """``from openai import …`` → (what stays with openai or None, the llmswitch import)."""
        if node.relative or node.module is None or _dotted(node.module) != "openai" or isinstance(
                node.names, cst.ImportStar):
            return None
        stay: list[cst.ImportAlias] = []
        moved: list[cst.ImportAlias] = []
        for alias in node.names:
            local = _dotted(alias.asname.name) if alias.asname else _dotted(alias.name)
            if local not in self.moving:
                stay.append(alias)
                continue
            name = CLIENTS[_dotted(alias.name)]
            local = self.renames.get(local, local)
            alias = cst.ImportAlias(name=cst.Name(name), asname=None if local == name else cst.AsName(cst.Name(local)))
            if all(_alias_text(alias) != _alias_text(m) for m in moved):  # OpenAI, AzureOpenAI → OpenAI once
                moved.append(alias)
        if not moved:
            return None
        names = ", ".join(_alias_text(a) for a in node.names if a not in stay)
        self.site(node, f"from openai import {names} → from llmswitch import {', '.join(map(_alias_text, moved))}")
        new = cst.ImportFrom(module=cst.Name("llmswitch"), names=_commas(moved))
        if not stay:
            return None, new
        if stay[-1] is not node.names[-1]:
            stay[-1] = stay[-1].with_changes(comma=node.names[-1].comma)
        return node.with_changes(names=stay), new

    # references
    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._attrs.add(id(node.attr))

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        new = self.renames.get(original.value)
        if new is None or id(original) in self._attrs:
            return updated
        return updated.with_changes(value=new)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        value = original.value
        if not (isinstance(value, cst.Name) and value.value in self.scan.modules and original.attr.value in CLIENTS):
            return updated
        if original.attr.value in AZURE and self.scan.azure_blocked:
            return updated
        self.module_uses = True
        name = CLIENTS[original.attr.value]
        self.site(original, f"{value.value}.{original.attr.value} → llmswitch.{name}")
        return updated.with_changes(value=cst.Name("llmswitch"), attr=cst.Name(name))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if not self._azure_call(original.func):
            return updated
        kept = [a for a in updated.args if a.keyword is None or a.keyword.value not in AZURE_MOVED]
        if len(kept) == len(updated.args):
            return updated
        self.site(original, "Azure client: endpoint, key and api_version moved to the providers file (azure provider)")
        if not kept:
            return updated.with_changes(args=[], whitespace_before_args=cst.SimpleWhitespace(""))
        if kept[-1] is not updated.args[-1]:
            kept[-1] = kept[-1].with_changes(comma=updated.args[-1].comma)
        return updated.with_changes(args=kept)


class _ImportLlmswitch(cst.CSTTransformer):
    """``import openai`` gets an ``import llmswitch`` after it, or becomes it when nothing else uses openai."""

    def __init__(self, modules: set[str], used: set[str]) -> None:
        self.modules = modules
        self.used = used

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
                                  ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        if len(updated.body) != 1 or not isinstance(updated.body[0], cst.Import):
            return updated
        names = updated.body[0].names
        bound = [(_dotted(a.asname.name) if a.asname else _dotted(a.name)) for a in names]
        if not any(_dotted(a.name) == "openai" and b in self.modules for a, b in zip(names, bound, strict=True)):
            return updated
        new = cst.Import(names=[cst.ImportAlias(name=cst.Name("llmswitch"))])
        if len(names) == 1 and bound[0] not in self.used:
            return updated.with_changes(body=[new])
        return cst.FlattenSentinel([updated, cst.SimpleStatementLine(body=[new])])


def _alias_text(alias: cst.ImportAlias) -> str:
    name = _dotted(alias.name)
    return f"{name} as {_dotted(alias.asname.name)}" if alias.asname else name


def _commas(aliases: Sequence[cst.ImportAlias]) -> list[cst.ImportAlias]:
    return [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in aliases]
