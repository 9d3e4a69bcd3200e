"""What every command shares: consoles, error handling and the account/territory/engine options.

Command modules (:mod:`territory.cli`, :mod:`territory.cli_design`) import from here; neither
imports the other's commands, and :mod:`territory.cli` adds the design commands to the group.

Plugin commands use the same error handling through the public :func:`command_errors`
decorator (and get it anyway when they are added, see :func:`add_plugin_commands`); they print
with :data:`console` and :data:`err_console`.
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from territory.errors import TerritoryError


class Deferred:
    """A module, or a name in one, imported when first called or looked into.

    The command modules bind the heavy parts of the API (plans, results, formatting: pandas,
    geopandas, the designer) through these, so ``territory --help`` and argument errors answer
    without importing them; the command that needs one imports it on its first use.
    """

    def __init__(self, module: str, name: str | None = None):
        self._module, self._name, self._value = module, name, None

    def _load(self) -> Any:
        if self._value is None:
            value = importlib.import_module(self._module)
            self._value = getattr(value, self._name) if self._name else value
        return self._value

    def __call__(self, *args, **kwargs):
        return self._load()(*args, **kwargs)

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<deferred {self._module}{'.' + self._name if self._name else ''}>"


console = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 180)


def handle_errors(func):
    """Turn TerritoryError into a one-paragraph message and exit code 1; Ctrl-C into 130.

    Public as :func:`command_errors` for plugin commands::

        from territory.cli_common import command_errors

        @cli.command("hello")
        @command_errors
        def hello(): ...
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TerritoryError as exc:
            err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            err_console.print("Aborted")
            sys.exit(130)

    return wrapper


command_errors = handle_errors


@dataclass
class PluginCommands:
    """Commands plugins added: ``owners`` maps command names to plugins, ``helps`` plugins to
    ``(command, first help line)``, ``errors`` plugins to their problems (a raising hook, a
    name already taken)."""

    plugins: Any
    commands: dict[str, click.Command] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    helps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def add_plugin_commands(
    builtin: dict[str, click.Command], plugins, quiet: bool = False
) -> PluginCommands:
    """Run every ``register_commands`` hook on a group of its own and collect the commands.

    A name a built-in command or an earlier plugin already has is an error naming both, and
    that command is not added; a hook that raises is reported (on stderr unless ``quiet``), the
    other commands still work. Every plugin command gets :func:`command_errors`.
    """
    from territory.extensions import notify_hook_call

    out = PluginCommands(plugins)
    for impl in plugins.manager.hook.register_commands.get_hookimpls():  # registration order
        plugin, staging = impl.plugin_name, click.Group(name="territory")
        notify_hook_call("register_commands", plugin, "register")
        try:
            impl.function(cli=staging)
        except Exception as exc:  # one broken plugin must not break the CLI
            message = f"Plugin '{plugin}' failed to add commands: {type(exc).__name__}: {exc}"
            _command_problem(out, plugin, message, None if quiet else "Warning")
            continue
        for name, command in staging.commands.items():
            if name in builtin or name in out.commands:
                other = f"plugin '{out.owners[name]}'" if name in out.owners else "territory"
                _command_problem(out, plugin, f"Plugin '{plugin}' adds a command '{name}', but "
                                 f"{other} already has a command of that name; the plugin's "
                                 "command is not added. Rename it.",
                                 None if quiet else "Error")  # fmt: skip
                continue
            _wrap_errors(command, plugin)
            out.commands[name], out.owners[name] = command, plugin
            out.helps.setdefault(plugin, []).append((name, command.get_short_help_str(80)))
    return out


def _command_problem(out: PluginCommands, plugin: str, message: str, level: str | None) -> None:
    out.errors.setdefault(plugin, []).append(message)
    if level is None:
        return
    colour = "yellow" if level == "Warning" else "bold red"
    err_console.print(f"[{colour}]{level}:[/] {escape(message)}", soft_wrap=True)


def _wrap_errors(command: click.Command, plugin: str) -> None:
    if command.callback is not None:
        callback = handle_errors(command.callback)

        @functools.wraps(callback)
        def traced(*args, **kwargs):
            from territory.extensions import notify_hook_call

            notify_hook_call("register_commands", plugin, "use")
            return callback(*args, **kwargs)

        command.callback = traced
    for sub in getattr(command, "commands", {}).values():
        _wrap_errors(sub, plugin)


def account_options(func):
    """Options that say how to read the accounts (all auto-detected by default)."""
    options = [
        click.option("--account-id", help="Account id column (default: account_id, id ...)."),
        click.option("--lat", help="Latitude column (default: lat, latitude ...)."),
        click.option("--lon", help="Longitude column (default: lon, lng, longitude ...)."),
        click.option("--postal-code", help="Locate accounts by this postal/ZIP code column."),
        click.option(
            "--measure",
            "measures",
            multiple=True,
            help="Numeric column to sum per territory (repeatable; default: revenue, "
            "pipeline, potential where present).",
        ),
        click.option("--crs", help="CRS for layers that have none, e.g. EPSG:4326."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def territory_options(func):
    """Options that say how to read territories or blocks + alignment."""
    options = [
        click.option(
            "--alignment",
            type=click.Path(dir_okay=False),
            help="Alignment CSV block_id -> territory_id: TERRITORIES is then the "
            "building-block layer (counties, ZIP areas ...).",
        ),
        click.option("--territory-id", help="Territory id column of the territory layer."),
        click.option("--block-id", help="Block id column of the block layer (e.g. GEOID)."),
        click.option(
            "--max-distance-km",
            type=float,
            default=10.0,
            show_default=True,
            help="Accounts outside every territory go to the nearest one within this "
            "distance; 0 turns that off.",
        ),
        click.option(
            "--overlap",
            type=click.Choice(["smallest", "first"]),
            default="smallest",
            show_default=True,
            help="Which of several overlapping territories gets an account.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Refuse territory or block shapes that are empty (by default they are kept, "
            "hold no accounts, and are reported).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def engine_options(func):
    """Where the plan runs: this machine (default) or a Dask cluster."""
    options = [
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
                     show_default=True, help="Run here, or on Dask (dask-geopandas partitions)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address (tcp://host:8786); default: a local cluster "
                          "with one worker per core."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


class ResultSource:
    """What a reporting command (map, track, quality, compare) reads: a plan file, run first,
    or the result folder a run left (see :mod:`territory.resultdir`), read directly.

    Options are checked against it before any work: :meth:`check_kpi` needs only the plan
    file or the folder's index.
    """

    def __init__(self, target):
        from pathlib import Path

        from territory.resultdir import is_result_path

        self.target = Path(target)
        missing = not self.target.exists() and self.target.suffix.lower() != ".toml"
        self.plan_file = not (is_result_path(self.target) or missing)
        self._plan = None

    @property
    def what(self) -> str:
        return f"{'plan' if self.plan_file else 'result folder'} {self.target}"

    @property
    def plan(self):
        """The plan: read from the plan file, or rebuilt from the folder's settings."""
        if self._plan is None:
            if self.plan_file:
                from territory.plan import Plan

                self._plan = Plan.from_file(self.target)
            else:
                from territory.resultdir import result_plan

                self._plan = result_plan(self.target)
        return self._plan

    def kpi_names(self, quick: bool = False) -> list[str] | None:
        """The KPIs a map can be coloured by (``territory`` first). ``quick``: for a plan file,
        from its TOML and the remembered plugin KPIs only (None when they are not known)."""
        from territory import resultdir

        if not self.plan_file:
            names = resultdir.result_kpi_names(self.target)
        elif quick:
            names = resultdir.plan_file_kpi_names(self.target)
        else:
            names = resultdir.plan_kpi_names(self.plan)
        return None if names is None else ["territory", *names]

    def check_kpi(self, kpi: str | None, option: str = "--kpi") -> None:
        """A usage error (exit code 2) when ``kpi`` is not one of :meth:`kpi_names`."""
        if kpi is None:
            return
        names = self.kpi_names(quick=True)
        if names is None:  # plugin KPIs not remembered: load the plan and its plugins
            names = self.kpi_names()
        if kpi not in names:
            raise click.BadParameter(
                f"Cannot colour the map by '{kpi}': not a KPI of the {self.what}. "
                f"KPIs: {', '.join(names)}.",
                param_hint=f"'{option}'",
            )

    def inputs(self) -> list:
        """The files an output must not overwrite: the plan's inputs, or the folder's set."""
        from pathlib import Path

        from territory.outputs import plan_inputs, read_manifest
        from territory.resultdir import find_result, listed_files

        if self.plan_file:
            return plan_inputs(self.plan)
        folder, manifest, _ = find_result(self.target)
        recorded = read_manifest(folder / manifest) or {}
        # the run's own inputs too (the manifest records them): a map drawn from the folder
        # must not overwrite the accounts file any more than one drawn from the plan
        used = [Path(e["path"]) for e in recorded.get("inputs", [])
                if isinstance(e, dict) and isinstance(e.get("path"), str)]  # fmt: skip
        return [folder / manifest, *(folder / name for name in listed_files(recorded)), *used]

    def result(self):
        """The plan's result: run now, or read from the folder (checked against its manifest)."""
        if self.plan_file:
            return self.plan.run()
        from territory.resultdir import load_result

        return load_result(self.target)
