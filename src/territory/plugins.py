"""Plugin manager: built-in plugins, installed plugins (entry points) and what they register.

Built-ins live in :mod:`territory.default_plugins` and use the same hooks as third-party
plugins. Installed distributions declare an entry point in the ``territory`` group::

    [project.entry-points.territory]
    latent_class = "territory_latent_class"

``TERRITORY_LOAD_PLUGINS`` restricts which installed plugins load: a comma-separated list of
entry point names, or an empty string for none. A plugin that fails to import is recorded (and
shown by ``territory plugins``) instead of breaking every command.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from typing import Any

import pluggy

from territory import hookspecs
from territory.errors import PluginError
from territory.extensions import Adjustment, KpiColumn, MapLayer, SegmentAxis

ENTRY_POINT_GROUP = "territory"
DEFAULT_PLUGINS = (
    "territory.default_plugins.axes",
    "territory.default_plugins.adjustments",
    "territory.default_plugins.kpis",
    "territory.default_plugins.map_layers",
)


def hook_names(specs=hookspecs) -> tuple[str, ...]:
    """The hooks a spec module declares, in its order: the functions pluggy's HookspecMarker
    marked (it sets a ``<project>_spec`` attribute), so the names are never listed twice."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return tuple(n for n, fn in vars(specs).items() if callable(fn) and hasattr(fn, marker))


HOOKS = hook_names()


@dataclass
class Plugins:
    """A plugin manager plus what its plugins registered, with attribution.

    ``axes``, ``adjustments``, ``kpis`` and ``map_layers`` map names to ``(plugin name,
    object)``; they are collected on first use. ``load_errors`` maps entry point names to the
    error raised while importing them.
    """

    manager: pluggy.PluginManager
    load_errors: dict[str, str] = field(default_factory=dict)
    distributions: dict[str, tuple[str, str]] = field(default_factory=dict)

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object or module (e.g. in tests or notebooks)."""
        self.manager.register(plugin, name=name)
        for attr in ("axes", "adjustments", "kpis", "map_layers"):
            self.__dict__.pop(attr, None)

    @cached_property
    def axes(self) -> dict[str, tuple[str, SegmentAxis]]:
        return self._collect("register_segment_axes", SegmentAxis, "segment axis")

    @cached_property
    def adjustments(self) -> dict[str, tuple[str, Adjustment]]:
        return self._collect("register_adjustments", Adjustment, "adjustment")

    @cached_property
    def kpis(self) -> dict[str, tuple[str, KpiColumn]]:
        return self._collect("register_kpis", KpiColumn, "KPI")

    @cached_property
    def map_layers(self) -> dict[str, tuple[str, MapLayer]]:
        return self._collect("register_map_layers", MapLayer, "map layer")

    def _collect(self, hook: str, kind: type, word: str) -> dict[str, tuple[str, Any]]:
        found: dict[str, tuple[str, Any]] = {}
        # Call each implementation on its own so every registration is attributed to a plugin.
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):
            plugin = impl.plugin_name

            def register(obj, plugin=plugin):
                if not isinstance(obj, kind):
                    raise PluginError(
                        f"Plugin '{plugin}' hook {hook} registered {obj!r}; expected a "
                        f"territory.{kind.__name__}."
                    )
                if not isinstance(obj.name, str) or not obj.name:
                    raise PluginError(f"Plugin '{plugin}' hook {hook} registered a {word} "
                                      "without a name.")  # fmt: skip
                if obj.name in found:
                    raise PluginError(
                        f"Plugins '{found[obj.name][0]}' and '{plugin}' both register a {word} "
                        f"named '{obj.name}' (hook {hook}). Rename one, or restrict loading "
                        "with TERRITORY_LOAD_PLUGINS."
                    )
                found[obj.name] = (plugin, obj)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"Plugin '{plugin}' failed in hook {hook}: {type(exc).__name__}: {exc}"
                ) from exc
        return found

    def describe(self, include_builtin: bool = False) -> list[dict[str, Any]]:
        """Plugins with their version, hooks and what they register (for ``territory plugins``)."""
        rows = []
        registered = {
            "segment_axes": self.axes,
            "adjustments": self.adjustments,
            "kpis": self.kpis,
            "map_layers": self.map_layers,
        }
        for name, plugin in self.manager.list_name_plugin():
            builtin = name.startswith("territory.default_plugins.")
            if builtin and not include_builtin:
                continue
            dist, version = self.distributions.get(name, (None, None))
            hooks = sorted(impl.name for impl in self.manager.get_hookcallers(plugin) or [])
            if builtin:
                from territory import __version__ as version
            row = {
                "name": name,
                "builtin": builtin,
                "version": version,
                "distribution": dist or ("territory" if builtin else None),
                "hooks": hooks,
            }
            for key, table in registered.items():
                names = sorted(n for n, (owner, _) in table.items() if owner == name)
                if names:
                    row[key] = names
            rows.append(row)
        for name, error in self.load_errors.items():
            rows.append({"name": name, "builtin": False, "error": error, "hooks": []})
        return rows


def get_plugins(load_entrypoints: bool = True) -> Plugins:
    """Build a plugin manager with the built-ins and (optionally) installed plugins."""
    pm = pluggy.PluginManager("territory")
    pm.add_hookspecs(hookspecs)
    for module in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module), name=module)
    plugins = Plugins(pm)
    if load_entrypoints:
        _load_entrypoints(plugins)
    return plugins


def _load_entrypoints(plugins: Plugins) -> None:
    allowed = os.environ.get("TERRITORY_LOAD_PLUGINS")
    wanted = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        if plugins.manager.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            plugins.manager.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not break every command
            plugins.load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        if ep.dist is not None:
            plugins.distributions[ep.name] = (ep.dist.metadata["name"], ep.dist.version)
