"""Hook specifications: the ways a plugin extends territory.

A plugin is a module or object with functions marked ``@territory.hookimpl`` whose names match
the specs below. Registration hooks receive a ``register`` callback: call it once per thing the
plugin provides. The core owns names, validation and collisions (two plugins registering the
same name is an error that names both). Plugin code gets private copies of the tables, and
everything it returns is checked before use; a failure is a ``PluginError`` naming the plugin,
the hook and the object. Warnings it raises become notes of the run; its time is recorded in
``summary["plugin_seconds"]``.

Every hook is documented in ``docs/plugins.md`` and has a test; a meta-test checks both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("territory")


@hookspec
def register_segment_axes(register: Callable[[Any], None]) -> None:
    """Register segmentation axes.

    When it runs: once per plugin manager, the first time axes are needed (a plan with
    ``[[segments]]``, ``territory plugins``).

    Receives ``register``; call ``register(territory.SegmentAxis(...))`` for each axis. An axis
    has a unique ``name``, declared ``params`` and a ``compute(context, **params)`` function
    that returns one string label per account (a ``pandas.Series`` aligned with
    ``context.accounts``). ``whole_table=True`` when a label depends on the other accounts
    (quantiles, fitted models): the axis then runs once on all accounts, on every engine.
    Returns nothing.
    """


@hookspec
def register_adjustments(register: Callable[[Any], None]) -> None:
    """Register regional marketing adjustments.

    When it runs: once per plugin manager, the first time adjustments are needed.

    Receives ``register``; call ``register(territory.Adjustment(...))`` for each adjustment.
    Its ``compute(context, **params)`` returns a DataFrame with one row per territory:
    ``territory_id``, ``reason`` and any of ``target_multiplier`` (float, 1 = unchanged,
    ``0 < m <= 1000``),
    ``language``, ``currency``, ``timezone``, ``message`` or other attribute columns.
    Returns nothing.
    """


@hookspec
def register_kpis(register: Callable[[Any], None]) -> None:
    """Register extra KPI columns.

    When it runs: once per plugin manager, the first time KPIs are computed.

    Receives ``register``; call ``register(territory.KpiColumn(name, compute))``. ``compute(
    rows, keys)`` gets the assigned account rows (assignments joined with account attributes)
    and the grouping columns, and returns a numeric Series indexed by those keys: the same
    function fills the column for every territory and for every territory x segment cell.
    ``KpiColumn(name, from_sums=f)`` computes it from the additive sums instead (any engine).
    A Series with keys the table lacks, duplicate keys, text or infinite values is an error.
    Returns nothing.
    """


@hookspec
def register_map_layers(register: Callable[[Any], None]) -> None:
    """Register extra map layers.

    When it runs: once per plugin manager, when a map is built.

    Receives ``register``; call ``register(territory.MapLayer(name, build))``. ``build(result,
    fmap)`` receives the PlanResult and the folium Map and adds its layers to the map (usually
    a ``folium.FeatureGroup`` per layer, so the layer control lists it). Layer names are plain
    text (the layer control escapes them); put other user text into HTML only through
    ``territory.maps.safe.text`` and into scripts through ``territory.maps.safe.script_json``.
    Returns nothing.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``territory`` command line.

    When it runs: once, when the CLI needs its plugin commands (help, a command that is not
    built in, ``territory plugins``).

    Receives a click group; add commands with ``@cli.command()``. Commands should call the
    Python API and raise ``territory.TerritoryError`` subclasses for user errors: the core
    wraps every plugin command in ``territory.cli_common.command_errors``, so they print one
    clear message and exit with code 1. A name a built-in or another plugin already has is an
    error naming both (the command is not added). Returns nothing.
    """


hookimpl = pluggy.HookimplMarker("territory")
"""Marker for plugin hook implementations (re-exported as ``territory.hookimpl``)."""
