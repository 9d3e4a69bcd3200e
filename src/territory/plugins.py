"""Plugin manager: built-in plugins, installed plugins (entry points) and what they register.

Built-ins live in :mod:`territory.default_plugins` and use the same hooks as third-party
plugins. Installed distributions declare an entry point in the ``territory`` group::

    [project.entry-points.territory]
    latent_class = "territory_latent_class"

``TERRITORY_LOAD_PLUGINS`` restricts which installed plugins load: a comma-separated list of
entry point names or distribution (pip) names, or an empty string for none. A plugin that
fails to import, or implements a hook territory does not have (a misspelt name), is recorded
(and shown by ``territory plugins``) instead of breaking every command; a plan asking for
something such a plugin may provide gets a hint naming it.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import importlib
import os
import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pandas as pd
import pluggy

from territory import hookspecs
from territory.errors import PluginError
from territory.extensions import (
    Adjustment,
    KpiColumn,
    MapLayer,
    SegmentAxis,
    notify_hook_call,
    private,
)

ENTRY_POINT_GROUP = "territory"
DEFAULT_PLUGINS = (
    "territory.default_plugins.axes",
    "territory.default_plugins.adjustments",
    "territory.default_plugins.kpis",
    "territory.default_plugins.map_layers",
)
BUILTIN_PREFIX = "territory.default_plugins."


def hook_names(specs=hookspecs) -> tuple[str, ...]:
    """The hooks a spec module declares, in its order: the functions pluggy's HookspecMarker
    marked (it sets a ``<project>_spec`` attribute), so the names are never listed twice."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return tuple(n for n, fn in vars(specs).items() if callable(fn) and hasattr(fn, marker))


HOOKS = hook_names()
# registration hook -> (class registered, word in messages, key in listings)
REGISTRIES = {
    "register_segment_axes": (SegmentAxis, "segment axis", "segment_axes"),
    "register_adjustments": (Adjustment, "adjustment", "adjustments"),
    "register_kpis": (KpiColumn, "KPI", "kpis"),
    "register_map_layers": (MapLayer, "map layer", "map_layers"),
}


@dataclass
class Registry:
    """What one registration hook collected: ``found`` maps names to ``(plugin, object)``;
    ``problems`` lists ``(plugin, message)`` for registrations that failed or clashed."""

    hook: str
    found: dict[str, tuple[str, Any]] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def strict(self) -> dict[str, tuple[str, Any]]:
        """``found``, or the first problem as a :class:`PluginError`."""
        if self.problems:
            raise PluginError(self.problems[0][1])
        return self.found


@dataclass
class Plugins:
    """A plugin manager plus what its plugins registered, with attribution.

    ``axes``, ``adjustments``, ``kpis`` and ``map_layers`` map names to ``(plugin name,
    object)``; they are collected on first use and raise a :class:`PluginError` if a plugin
    failed to register (:meth:`registry` gives the lenient view). ``load_errors`` maps entry
    point names to the error raised while loading them; ``filtered`` the entry points that
    ``TERRITORY_LOAD_PLUGINS`` left out to their distribution name; ``load_seconds`` the
    import time of each installed plugin.
    """

    manager: pluggy.PluginManager
    load_errors: dict[str, str] = field(default_factory=dict)
    distributions: dict[str, tuple[str, str]] = field(default_factory=dict)
    filtered: dict[str, str | None] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    _registries: dict[str, Registry] = field(default_factory=dict, repr=False)

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin object or module (e.g. in tests or notebooks).

        A hook implementation whose name is not a territory hook raises a
        :class:`PluginError` naming the plugin and the hook (and the plugin is not kept).
        """
        name = self.manager.register(plugin, name=name)
        problems = unknown_hooks(self.manager)
        if problems:
            self.manager.unregister(name=name)
            raise PluginError(problems[0][1])
        self._registries.clear()

    def registry(self, hook: str) -> Registry:
        """Everything registered through ``hook``, with the problems beside it (never raises)."""
        if hook not in self._registries:
            self._registries[hook] = self._collect(hook, *REGISTRIES[hook][:2])
        return self._registries[hook]

    @property
    def axes(self) -> dict[str, tuple[str, SegmentAxis]]:
        return self.registry("register_segment_axes").strict()

    @property
    def adjustments(self) -> dict[str, tuple[str, Adjustment]]:
        return self.registry("register_adjustments").strict()

    @property
    def kpis(self) -> dict[str, tuple[str, KpiColumn]]:
        return self.registry("register_kpis").strict()

    @property
    def map_layers(self) -> dict[str, tuple[str, MapLayer]]:
        found = self.registry("register_map_layers").strict()
        return {n: (p, _isolated_layer(p, layer)) for n, (p, layer) in found.items()}

    def _collect(self, hook: str, kind: type, word: str) -> Registry:
        reg = Registry(hook)
        # Call each implementation on its own so every registration is attributed to a plugin.
        for impl in getattr(self.manager.hook, hook).get_hookimpls():  # registration order
            plugin = impl.plugin_name

            def register(obj, plugin=plugin):
                problem = _registration_problem(obj, plugin, hook, kind, word, reg.found)
                if problem:
                    reg.problems.append((plugin, problem))
                else:
                    reg.found[obj.name] = (plugin, obj)

            notify_hook_call(hook, plugin, "register")
            try:
                impl.function(register=register)
            except Exception as exc:
                reg.problems.append(
                    (
                        plugin,
                        f"Plugin '{plugin}' failed in hook {hook}: {type(exc).__name__}: {exc}",
                    )  # fmt: skip
                )
        return reg

    def not_loaded_hint(self) -> str:
        """A sentence naming the installed plugins that did not load (empty if none)."""
        parts = [f"'{n}' failed to load ({e})" for n, e in self.load_errors.items()]
        if self.filtered:
            allowed = os.environ.get("TERRITORY_LOAD_PLUGINS", "")
            for name, dist in self.filtered.items():
                pip = f" (distribution {dist})" if dist else ""
                parts.append(
                    f"'{name}'{pip} is not loaded because TERRITORY_LOAD_PLUGINS={allowed!r} "
                    "does not name it (it takes entry point or distribution names)"
                )
        if not parts:
            return ""
        return " Installed plugins that could provide it: " + "; ".join(parts) + "."

    def problems(self) -> dict[str, list[str]]:
        """Per plugin, every problem found loading it or collecting what it registers."""
        out: dict[str, list[str]] = {}
        for hook in REGISTRIES:
            for plugin, message in self.registry(hook).problems:
                out.setdefault(plugin, []).append(message)
        return out

    def describe(self, include_builtin: bool = False, params: bool = False,
                 commands: dict[str, list[tuple[str, str]]] | None = None,
                 errors: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Plugins with their version, hooks and what they register (for ``territory plugins``).

        Never raises for a faulty plugin: its problems are listed under ``errors``. ``commands``
        maps plugins to ``(command, help)`` they added and ``errors`` adds more problems (both
        from the command line). With ``params`` each registered item lists its parameters.
        """
        problems = self.problems()
        for plugin, messages in (errors or {}).items():
            problems.setdefault(plugin, []).extend(messages)
        rows = []
        for name, plugin in self.manager.list_name_plugin():
            builtin = name.startswith(BUILTIN_PREFIX)
            if builtin and not include_builtin:
                continue
            rows.append(self._describe_plugin(name, plugin, builtin, params, commands or {}))
            if problems.get(name):
                rows[-1]["errors"] = problems[name]
        for name, error in self.load_errors.items():
            rows.append({"name": name, "builtin": False, "error": error, "hooks": []})
        return rows

    def _describe_plugin(self, name, plugin, builtin, params, commands) -> dict[str, Any]:
        dist, version = self.distributions.get(name, (None, None))
        hooks = sorted(impl.name for impl in self.manager.get_hookcallers(plugin) or [])
        if builtin:
            from territory import __version__ as version
        row = {"name": name, "builtin": builtin, "version": version,
               "distribution": dist or ("territory" if builtin else None),
               "hooks": hooks}  # fmt: skip
        if name in self.load_seconds:
            row["load_seconds"] = round(self.load_seconds[name], 4)
        items = []
        for hook, (_, word, key) in REGISTRIES.items():
            owned = sorted((n, obj) for n, (owner, obj) in self.registry(hook).found.items()
                           if owner == name)  # fmt: skip
            if owned:
                row[key] = [n for n, _ in owned]
                items += [describe_item(word, obj, params) for _, obj in owned]
        if commands.get(name):
            row["commands"] = [c for c, _ in commands[name]]
            items += [{"kind": "command", "name": c, "description": h} for c, h in commands[name]]
        if items:
            row["items"] = items
        return row


def describe_item(word: str, obj: Any, params: bool) -> dict[str, Any]:
    """One registered item: kind, name, description (and declared parameters)."""
    item = {"kind": word, "name": obj.name, "description": obj.description}
    if getattr(obj, "whole_table", False):
        item["whole_table"] = True
    if params and hasattr(obj, "params"):
        from territory.extensions import REQUIRED

        item["params"] = [
            {
                "name": key,
                "kind": p.kind,
                "required": p.default is REQUIRED,
                "default": None if p.default is REQUIRED else _jsonable(p.default),
                "choices": [_jsonable(c) for c in p.choices],
                "help": p.help,
            }  # fmt: skip
            for key, p in obj.params.items()
        ]
    return item


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)


def _registration_problem(obj, plugin, hook, kind, word, found) -> str | None:
    if not isinstance(obj, kind):
        return (f"Plugin '{plugin}' hook {hook} registered {obj!r}; expected a "
                f"territory.{kind.__name__}.")  # fmt: skip
    if not isinstance(obj.name, str) or not obj.name:
        return f"Plugin '{plugin}' hook {hook} registered a {word} without a name."
    if obj.name in found:
        return (
            f"Plugins '{found[obj.name][0]}' and '{plugin}' both register a {word} named "
            f"'{obj.name}' (hook {hook}). Rename one, or restrict loading with "
            "TERRITORY_LOAD_PLUGINS."
        )
    return None


def _isolated_layer(plugin: str, layer: MapLayer) -> MapLayer:
    """The layer with a ``build`` that gets a copy of the result, so a layer that changes
    tables cannot change what is written."""

    def build(result, fmap):
        notify_hook_call("register_map_layers", plugin, "use")
        return layer.build(result_copy(result), fmap)

    return dataclasses.replace(layer, build=build)


def result_copy(result: Any) -> Any:
    """A copy of a PlanResult whose tables a plugin may change without effect on the run."""
    changes = {}
    for f in ("assignments", "kpis", "labels", "adjustments"):
        value = getattr(result, f)
        if isinstance(value, pd.DataFrame):  # dask frames are immutable already
            changes[f] = private(value)
    changes["segments"] = {k: private(v) for k, v in result.segments.items()}
    changes["summary"] = copy.deepcopy(result.summary)
    changes["notes"] = list(result.notes)
    return dataclasses.replace(result, **changes)


def unknown_hooks(manager: pluggy.PluginManager) -> list[tuple[str, str]]:
    """``(plugin, message)`` for every hook implementation without a spec (pluggy's
    ``check_pending``, with a message that names the plugin and the nearest hook)."""
    out = []
    for hook_name, caller in vars(manager.hook).items():
        if hook_name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            near = difflib.get_close_matches(hook_name, HOOKS, n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            out.append((impl.plugin_name,
                        f"Plugin '{impl.plugin_name}' implements '{hook_name}', which is not a "
                        f"territory hook.{hint} Hooks: {', '.join(HOOKS)}."))  # fmt: skip
    return out


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


_IMPORT_SECONDS: dict[str, float] = {}  # entry point -> seconds its first load took


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name.strip()).lower()


def _load_entrypoints(plugins: Plugins) -> None:
    allowed = os.environ.get("TERRITORY_LOAD_PLUGINS")
    wanted = None if allowed is None else {_norm(n) for n in allowed.split(",") if n.strip()}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.metadata["name"] if ep.dist is not None else None
        if wanted is not None and not ({_norm(ep.name), _norm(dist or ep.name)} & wanted):
            plugins.filtered[ep.name] = dist
            continue
        if plugins.manager.get_plugin(ep.name) is not None:
            continue
        start = time.perf_counter()
        try:
            plugin = ep.load()
            plugins.manager.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not break every command
            plugins.load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        finally:  # the first load imports; later managers in the process reuse the module
            _IMPORT_SECONDS.setdefault(ep.name, time.perf_counter() - start)
            plugins.load_seconds[ep.name] = _IMPORT_SECONDS[ep.name]
        problems = unknown_hooks(plugins.manager)
        if problems:  # a misspelt hook: reject the plugin, say why
            plugins.manager.unregister(name=ep.name)
            plugins.load_errors[ep.name] = problems[0][1]
            continue
        if ep.dist is not None:
            plugins.distributions[ep.name] = (dist, ep.dist.version)
