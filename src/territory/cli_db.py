"""CLI options for a database destination: ``--to-database URL --mode --schema --run-id``.

Commands that write results (run, assign, kpis, design, rebalance) take these options through
:func:`database_options`; the tables are written after the files, in one transaction, and a
database failure says which files were kept and that no table changed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import click
from rich.markup import escape

from territory.cli_common import console
from territory.errors import OutputError, ValidationError

OPTIONS = (
    click.option(
        "--to-database",
        metavar="URL",
        help="Also write the result tables to this database, after the files and in one "
        "transaction: postgresql://user@host/db (password from PGPASSWORD or .pgpass) or "
        "duckdb:///file.duckdb.",
    ),
    click.option(
        "--mode",
        type=click.Choice(["replace", "append"]),
        help="replace: each table holds this run only (default); append: add rows tagged "
        "with run_id and run_at.",
    ),
    click.option("--schema", help="Database schema for the tables (created when missing)."),
    click.option("--run-id", help="Run id for the rows (default: UTC time and a random suffix)."),
)


@dataclass(frozen=True)
class DatabaseOptions:
    """The database options as given on the command line."""

    url: str | None = None
    mode: str | None = None
    schema: str | None = None
    run_id: str | None = None

    def target(self, base=None, check: bool = True):
        """The destination (``base``: the plan's ``[outputs] database``), or None. With
        ``check`` the connection is tried now, before any work."""
        from territory.db.target import DatabaseTarget

        if self.url:
            target = DatabaseTarget(self.url, self.schema, self.mode or "replace",
                                    run_id=self.run_id, where="--to-database")  # fmt: skip
        elif base is not None:
            target = base.with_changes(mode=self.mode, schema=self.schema, run_id=self.run_id)
        elif self.mode or self.schema or self.run_id:
            raise ValidationError("--mode, --schema and --run-id need --to-database URL.")
        else:
            return None
        if check:
            from territory.db.write import check_connection

            check_connection(target)
        return target


def database_options(func):
    """Add the options; the command receives them as ``database`` (:class:`DatabaseOptions`)."""

    @functools.wraps(func)
    def wrapper(*args, to_database=None, mode=None, schema=None, run_id=None, **kwargs):
        kwargs["database"] = DatabaseOptions(to_database, mode, schema, run_id)
        return func(*args, **kwargs)

    for option in reversed(OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def send(result, target, written: list, only: tuple[str, ...] | None = None) -> None:
    """Write ``result`` (a plan run or design) to ``target`` after ``written`` files and print
    what went where; on failure the error says the files were kept."""
    if target is None:
        return
    from territory.db.results import write_database

    try:
        with console.status("Writing to the database..."):
            report = write_database(result, target, only=only)
    except OutputError as exc:
        kept = ", ".join(str(Path(p)) for p in written) or "no files"
        raise OutputError(f"The output files were written ({kept}). {exc}") from None
    print_report(report)


def print_report(report) -> None:
    for line in report.lines():
        console.print(f"Wrote {escape(line)}", soft_wrap=True)
