"""What every command shares: consoles, error handling and the account/territory/engine options.

Command modules (:mod:`territory.cli`, :mod:`territory.cli_design`) import from here; neither
imports the other's commands, and :mod:`territory.cli` adds the design commands to the group.
"""

from __future__ import annotations

import functools
import importlib
import sys
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
    """Turn TerritoryError into a one-paragraph message and exit code 1; Ctrl-C into 130."""

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
