"""CLI commands for territory design: design, rebalance, quality and compare."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from territory.cli_common import Deferred, account_options, console, err_console, handle_errors
from territory.cli_db import database_options, send

figure = Deferred("territory.formatting", "figure")

BALANCE = click.option(
    "--balance",
    default="revenue",
    show_default=True,
    help="Measure to balance (revenue, accounts, pipeline, potential, workload, a numeric "
    "block column), a mix (revenue:0.7,accounts:0.3) or several measures, each held within "
    "its own tolerance (revenue,accounts,workload).",
)
TOLERANCE = click.option(
    "--tolerance",
    default="0.05",
    show_default=True,
    help="Allowed deviation of each territory from its target (0.05 = ±5%); with several "
    "measures one for all or one each: revenue=0.02,accounts=0.05.",
)


def design_options(func):
    options = [
        click.option(
            "--accounts",
            type=click.Path(dir_okay=False),
            help="Accounts to sum per block (revenue, pipeline ...).",
        ),
        BALANCE,
        TOLERANCE,
        click.option("--block-id", help="Block id column of the block layer (e.g. GEOID)."),
        click.option(
            "--locked",
            type=click.Path(dir_okay=False),
            help="Table block_id -> territory_id of blocks that must not move.",
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Random seed: the same inputs and seed give the same plan.",
        ),
        click.option(
            "--visit-hours",
            type=float,
            default=1.0,
            show_default=True,
            help="Hours per account visit (workload).",
        ),
        click.option(
            "--speed-kmh",
            type=float,
            default=50.0,
            show_default=True,
            help="Travel speed (workload).",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False),
            default="design",
            show_default=True,
            help="Folder for alignment.csv, territories.geojson, quality.csv/json.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Refuse blocks with empty shapes, and exit with 2 when the plan cannot meet "
            "every request (flags).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.option("-k", "k", type=int, help="Number of territories (default: one per rep home).")
@click.option(
    "--homes",
    type=click.Path(dir_okay=False),
    help="Rep homes: territory_id (or rep), lat/lon; optional rep, parent.",
)
@click.option(
    "--max-home-km",
    type=float,
    help="With --homes: no block centre further than this from its home.",
)
@click.option("--regions", type=int, help="Group territories into this many balanced regions.")
@click.option(
    "--current",
    type=click.Path(dir_okay=False),
    help="Current alignment: baseline for disruption (and start with --rebalance).",
)
@click.option(
    "--rebalance",
    is_flag=True,
    help="Start from --current and move as little as possible to reach the tolerance.",
)
@click.option(
    "--lock-territory",
    "locked_territories",
    multiple=True,
    help="With --current: keep this territory exactly as it is (repeatable).",
)
@design_options
@account_options
@handle_errors
@database_options
def design(blocks, **kw):
    """Build balanced, contiguous, compact territories from building blocks.

    BLOCKS are polygons (counties, ZIP areas ...). Example:

        territory design counties.parquet --accounts accounts.csv -k 50 --balance revenue
        --tolerance 0.05
    """
    _design(blocks, **kw)


@click.command()
@click.argument("blocks", type=click.Path(dir_okay=False))
@click.option(
    "--current",
    type=click.Path(dir_okay=False),
    required=True,
    help="The current alignment block_id -> territory_id.",
)
@click.option(
    "--lock-territory",
    "locked_territories",
    multiple=True,
    help="Keep this territory exactly as it is (repeatable).",
)
@design_options
@account_options
@handle_errors
@database_options
def rebalance(blocks, **kw):
    """Bring the current alignment within the tolerance, moving as little as possible.

    Disruption (blocks, accounts and revenue moved) is reported per territory, and per rep
    when the current alignment has a rep column.
    """
    _design(blocks, rebalance=True, **kw)


def _design(blocks, *, out, strict, database, measures=(), max_home_km=None, **kw):
    from territory.designer import design as run_design
    from territory.designer.build import design_outputs

    inputs = [blocks, *(kw.get(k) for k in ("accounts", "homes", "locked", "current"))]
    files = design_outputs(out, inputs)
    files.check(["alignment.csv", "quality.csv", "territories.geojson", "quality.json"])
    target = database.target()
    with _progress() as progress:
        result = run_design(
            blocks,
            max_distance_km=max_home_km,
            measures=list(measures) if measures else None,
            strict=strict,
            progress=progress,
            **kw,
        )
    for note in result.notes:
        console.print(f"[dim]Note:[/] {escape(note)}", soft_wrap=True)
    _print_quality(result.quality, result.summary)
    if len(result.reps):
        _print_reps(result.reps)
    for flag in result.flags:
        err_console.print(f"[bold yellow]Not met:[/] {escape(flag)}", soft_wrap=True)
    written = result.write(out, inputs)
    console.print(f"Wrote {', '.join(escape(str(p)) for p in written)}")
    send(result, target, written)
    if strict and result.flags:
        sys.exit(2)


@contextlib.contextmanager
def _progress():
    """A progress bar on stderr (the step under way, share done, time taken) for a design; it
    disappears when the design is done."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("Design", total=1.0)

        def update(step: str, done: float) -> None:
            bar.update(task, description=escape(step), completed=done)

        yield update


@click.command()
@click.argument("blocks", metavar="BLOCKS|RUN_DIR", type=click.Path())
@click.argument("alignment", required=False, type=click.Path(dir_okay=False))
@click.option("--accounts", type=click.Path(dir_okay=False), help="Accounts to sum per block.")
@BALANCE
@TOLERANCE
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="An earlier alignment: adds disruption (what moved).",
)
@click.option("--block-id", help="Block id column of the block layer.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the per-territory quality table here.",
)
@account_options
@handle_errors
def quality(
    blocks,
    alignment,
    accounts,
    balance,
    tolerance,
    baseline,
    block_id,
    output,
    measures=(),
    crs=None,
    **kw,
):
    """Quality report of any alignment: balance, Gini, compactness, contiguity, disruption.

    BLOCKS is the block layer and ALIGNMENT the alignment; or give RUN_DIR, the result folder
    of a run of a plan made of blocks: its blocks, alignment (unless ALIGNMENT is given) and
    accounts (unless --accounts is given) are read from there, the plan is not run again.
    Give the --balance and --tolerance the alignment was designed with: the figures are then
    those `territory design` reported (targets raised for blocks too heavy for a territory).
    """
    from territory.designer import plan_report
    from territory.io import check_table_output, write_table
    from territory.outputs import check_targets
    from territory.resultdir import is_result_path

    if not is_result_path(blocks) and alignment is None:
        raise click.UsageError("Missing argument 'ALIGNMENT' (or give a result folder, RUN_DIR).")
    if output:
        check_targets([Path(output)], [blocks, alignment, accounts, baseline,
                                       *_folder_files(blocks)])  # fmt: skip
        check_table_output(output, "quality table")
    given = _from_folder(blocks, accounts, block_id, measures)
    if given is not None:
        blocks, block_id, accounts, measures = (given["blocks"], given["block_id"],
                                                given["accounts"], given["measures"])  # fmt: skip
        alignment = alignment or given["alignment"]
    table, summary = plan_report(
        blocks,
        alignment,
        accounts,
        balance=balance,
        tolerance=tolerance,
        baseline=baseline,
        block_id=block_id,
        crs=crs,
        measures=list(measures) if measures else None,
        **kw,
    )
    _print_quality(table, summary)
    if output:
        write_table(table, output)
        console.print(f"Wrote {escape(str(output))}")


def _from_folder(target, accounts, block_id, measures, what: str = "BLOCKS") -> dict | None:
    """The blocks, alignment and accounts of the result folder ``target`` (None when it is a
    file); ``--accounts`` and ``--measure`` given on the command line win."""
    from territory.resultdir import is_result_path

    if not is_result_path(target):
        return None
    if block_id:
        raise click.UsageError(f"--block-id is for a block layer file; {what} is a result "
                               "folder, whose blocks have block_id.")  # fmt: skip
    from territory.cli_common import ResultSource
    from territory.resultdir import block_inputs

    given = block_inputs(ResultSource(target).result())
    if accounts:
        given["accounts"] = accounts
        given["measures"] = list(measures)
    elif measures:
        given["measures"] = list(measures)
    return given


def _folder_files(target) -> list:
    """The files of the result set at ``target`` (an output must not overwrite them)."""
    from territory.cli_common import ResultSource
    from territory.resultdir import is_result_path

    return ResultSource(target).inputs() if is_result_path(target) else []


@click.command()
@click.argument("a", metavar="A", type=click.Path())
@click.argument("b", metavar="B", type=click.Path())
@click.option(
    "--blocks",
    type=click.Path(dir_okay=False),
    help="The block layer both alignments use (default: that of the result folder A or B).",
)
@click.option("--accounts", type=click.Path(dir_okay=False), help="Accounts to sum per block.")
@BALANCE
@TOLERANCE
@click.option("--block-id", help="Block id column of the block layer.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for blocks_moved.csv, accounts_moved.csv, territories.csv, summary.csv.",
)
@account_options
@handle_errors
def compare(a, b, blocks, accounts, balance, tolerance, block_id, out, measures=(), crs=None, **kw):
    """Compare alignments A and B: what moved, KPI and quality deltas side by side.

    A and B are alignment files, or result folders of runs of plans made of blocks (their
    alignments; the blocks and accounts of the first folder unless --blocks / --accounts are
    given). Territories are matched between A and B by the largest overlap before moves are
    counted.
    """
    from territory.designer import compare as run_compare
    from territory.outputs import OutputSet
    from territory.resultdir import is_result_path

    folders = [t for t in (a, b) if is_result_path(t)]
    if not folders and blocks is None:
        raise click.UsageError("Missing option '--blocks' (or give a result folder as A or B).")
    names = [f"{n}.csv" for n in ("blocks_moved", "accounts_moved", "territories", "summary")]
    files = None
    if out:
        inputs = [a, b, blocks, accounts, *(p for t in folders for p in _folder_files(t))]
        files = OutputSet(out, "compare-manifest.json", command="compare", inputs=inputs)
        files.check(names)
    sides = {t: _from_folder(t, None, None, (), what=t) for t in folders}
    first = sides[folders[0]] if folders else None
    if first is not None and blocks is None:
        blocks, block_id = first["blocks"], "block_id"
        if accounts is None:
            accounts, measures = first["accounts"], measures or first["measures"] or ()
    result = run_compare(
        sides[a]["alignment"] if a in sides else a,
        sides[b]["alignment"] if b in sides else b,
        blocks,
        accounts,
        balance=balance,
        tolerance=tolerance,
        block_id=block_id,
        crs=crs,
        measures=list(measures) if measures else None,
        **kw,
    )
    table = Table(title=f"{escape(Path(a).name)} -> {escape(Path(b).name)}", title_justify="left")
    for col in ("figure", "A", "B", "delta"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for row in result.summary.itertuples(index=False):
        values = (row.a, row.b, row.delta)
        table.add_row(escape(str(row.figure)), *(escape(figure(v)) for v in values))
    console.print(table)
    console.print(
        f"{len(result.blocks_moved):,} blocks and {len(result.accounts_moved):,} "
        "accounts changed territory."
    )
    if files is not None:
        with files:
            for name in names:
                files.add_table(name, getattr(result, name.removesuffix(".csv")))
        console.print(f"Wrote {escape(str(out))}/")


def _print_quality(table, summary: dict, limit: int = 60) -> None:
    s = summary
    contiguity = "all contiguous"
    if not s["contiguous"]:
        contiguity = "NOT contiguous: " + ", ".join(map(str, s["not_contiguous"][:5]))
    line = (
        f"{s['territories']} territories from {s['blocks']:,} blocks; max deviation "
        f"{s['max_deviation_pct']:.2f}%, Gini {s['gini']:.3f}, Polsby-Popper mean "
        f"{s['polsby_popper_mean']:.3f} (min {s['polsby_popper_min']:.3f}), "
        f"{contiguity}"
    )
    if s.get("raised_targets"):
        line += (
            f"; {s['raised_targets']} territories hold blocks too heavy for an even share and "
            "aim at their own weight (balance_target)"
        )
    measures = [k.removesuffix("_max_deviation_pct") for k in s if k.endswith("_max_deviation_pct")]
    for m in measures:
        line += (
            f"; {m}: max deviation {s[f'{m}_max_deviation_pct']:.2f}% "
            f"(tolerance {s[f'{m}_tolerance_pct']:.1f}%), Gini {s[f'{m}_gini']:.3f}"
        )
    if "blocks_moved" in s:
        line += f"; moved {s['blocks_moved']:,} blocks"
        for m in ("accounts", "revenue"):
            if f"{m}_moved" in s:
                line += f", {s[f'{m}_moved']:,.0f} {m} ({s[f'{m}_moved_pct']:.1f}%)"
    if "runtime_s" in s:
        line += f"; {s['runtime_s']:.1f} s"
    console.print(escape(line), soft_wrap=True)
    cols = [
        c
        for c in (
            "territory_id",
            "parent",
            "blocks",
            "accounts",
            "revenue",
            "balance",
            "balance_target",
            "deviation_pct",
            *(f"{m}_deviation_pct" for m in measures),
            "polsby_popper",
            "contiguous",
            "blocks_in",
            "blocks_out",
            "revenue_in",
            "revenue_out",
        )
        if c in table
    ]
    view = Table(title_justify="left")
    for c in cols:
        view.add_column(c, justify="left" if c in ("territory_id", "parent") else "right")
    for row in table[cols].head(limit).itertuples(index=False):
        view.add_row(*(escape(figure(v)) for v in row))
    console.print(view)
    if len(table) > limit:
        console.print(f"... {len(table) - limit} more territories in the quality table.")


def _print_reps(reps, limit: int = 60) -> None:
    cols = [
        c
        for c in ("rep", "territories", "accounts", "revenue", "blocks_in", "blocks_out")
        + ("accounts_in", "accounts_out", "revenue_in", "revenue_out")
        if c in reps
    ]
    view = Table(title="Per rep", title_justify="left")
    for c in cols:
        view.add_column(c, justify="left" if c in ("rep", "territories") else "right")
    for row in reps[cols].head(limit).itertuples(index=False):
        view.add_row(*(escape(figure(v)) for v in row))
    console.print(view)


COMMANDS = (design, rebalance, quality, compare)
