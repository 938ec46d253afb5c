"""Model names → catalog presets, read from the catalog itself (no table of our own).

Where a model is served by a native preset and its ``-compat`` twin, the native one is chosen, as
the plain name is the native protocol (``qwen-plus`` → ``dashscope``). The ``mock`` preset is never
chosen: its model names are ours, not an app's.
"""

from __future__ import annotations

import functools

from .. import catalog
from ..catalog import ModelInfo, Preset

__all__ = ["model_names", "preset_for"]


@functools.cache
def _index() -> dict[str, tuple[Preset, ModelInfo]]:
    found: dict[str, tuple[Preset, ModelInfo]] = {}
    for name in catalog.preset_names():
        preset = catalog.get_preset(name)
        if preset is None or name == "mock":
            continue
        for model, info in preset.models.items():
            current = found.get(model)
            if current is None or (current[0].name.endswith("-compat") and not name.endswith("-compat")):
                found[model] = (preset, info)
    return found


@functools.cache
def model_names() -> frozenset[str]:
    return frozenset(_index())


def preset_for(model: str) -> tuple[Preset, ModelInfo] | None:
    """The catalog preset serving ``model`` and what the catalog knows of it, if anything."""
    return _index().get(model)
