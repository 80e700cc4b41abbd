"""What the workflow and tool registries share: built-ins named as "module:attribute" and
imported only when first asked for, plugins' entry points loaded with an error that says how to
fix them, and the message for a name nobody registered."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from agentrun.errors import ConfigError


def import_attribute(spec: str) -> Any:
    """The object a built-in's "module:attribute" names, importing its module now."""
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


def declared(group: str) -> dict[str, EntryPoint]:
    """The entry points installed plugins declare in `group`, by name (nothing is imported)."""
    return {point.name: point for point in entry_points(group=group)}


def entry_point_place(point: EntryPoint, group: str, name: str) -> str:
    """How messages name an entry point."""
    return f"plugin entry point {point.value!r} ({group}: {name})"


def load_entry_point(point: EntryPoint, group: str, name: str) -> Any:
    """What `point` names; a plugin that fails to import is a `ConfigError` naming it."""
    try:
        return point.load()
    except Exception as exc:
        raise ConfigError(
            f"{entry_point_place(point, group, name)} does not load: {type(exc).__name__}: "
            f"{exc}; reinstall the plugin or fix its entry point"
        ) from exc


def plugin_source(point: EntryPoint | None) -> str:
    """`plugin <distribution>`, or `plugin` when the distribution is unknown."""
    distribution = getattr(getattr(point, "dist", None), "name", None)
    return f"plugin {distribution}" if distribution else "plugin"


def unknown_name(kind: str, name: str, names: Iterable[str], listed_as: str = "known") -> str:
    """The message for an unknown `kind` called `name`: the closest known name, then all."""
    known = sorted(set(names))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} ({listed_as}: {', '.join(known)})"
