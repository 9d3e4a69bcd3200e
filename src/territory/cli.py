"""Command line interface: a thin layer over the Python API.

Every command checks its inputs and output paths first; any problem a user can fix prints one
paragraph naming the file, column, rows and fix, exits with code 1 and writes nothing. Ctrl-C
prints "Aborted" and exits with 130; outputs are then the whole previous set (see
:mod:`territory.outputs`).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from territory import __version__, cli_design
from territory.cli_common import (
    Deferred,
    ResultSource,
    account_options,
    console,
    engine_options,
    err_console,
    handle_errors,
    territory_options,
)
from territory.cli_db import database_options, print_report, send
from territory.errors import TerritoryError

if TYPE_CHECKING:
    from territory.plan import Plan
    from territory.result import PlanResult

# imported by the first command that uses them: --help and argument errors need none of these
formatting = Deferred("territory.formatting")
demo_plan = Deferred("territory.api", "demo_plan")
make_plan = Deferred("territory.api", "make_plan")
Plan = Deferred("territory.plan", "Plan")  # noqa: F811 (the class itself for type checkers)


# Pipes and CI logs get a wide console so KPI tables are not squeezed into 80 columns.
def _plan(accounts, territories, *, measures=(), **kw) -> Plan:
    return make_plan(accounts, territories, measures=list(measures) or None, **kw)


def _run(plan: Plan, engine: str = "local", scheduler: str | None = None,
         plugin_kpis: bool = True) -> PlanResult:  # fmt: skip
    """Run with the chosen engine; the local one shows a progress bar for batched input (and a
    progress line for slow plugins). ``plugin_kpis=False``: commands that show no KPIs."""
    if engine == "dask":
        return plan.run(engine="dask", scheduler=scheduler, plugin_kpis=plugin_kpis)
    if scheduler:
        raise TerritoryError("--scheduler needs --engine dask.")
    return plan.run(progress=True, plugin_kpis=plugin_kpis)


class TerritoryGroup(click.Group):
    """The command group; plugin commands (hook ``register_commands``) are added on first use,
    kept apart from the built-in ones (see :func:`territory.cli_common.add_plugin_commands`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plugin_commands = None
        # The console command lists plugin commands from the cache (territory.command_cache);
        # a group invoked from Python (tests, embedding) always loads the plugins.
        self.use_command_cache = False

    def main(self, *args, **kwargs):
        self._plugin_commands = None  # each invocation sees the plugins as they are now
        return super().main(*args, **kwargs)

    def plugin_commands(self):
        """The commands plugins added, their owners and problems (loaded once per run)."""
        if self._plugin_commands is None:
            from territory import plugins as plugin_module
            from territory.cli_common import add_plugin_commands

            self._plugin_commands = add_plugin_commands(self.commands,
                                                        plugin_module.get_plugins())  # fmt: skip
            found = self._plugin_commands
            if not found.errors and not found.plugins.load_errors:  # a clean listing: remember it
                from territory.command_cache import remember

                remember([(n, c.get_short_help_str(300)) for n, c in found.commands.items()])
        return self._plugin_commands

    def format_commands(self, ctx, formatter):
        """``--help``: plugin commands from the cache when it applies (no plugin imported)."""
        from territory.command_cache import cached_commands

        fresh = self._plugin_commands is None and self.use_command_cache
        cached = cached_commands() if fresh else None
        if cached is None:
            return super().format_commands(ctx, formatter)
        limit = formatter.width - 6 - max(len(n) for n in [*self.commands, *dict(cached)])
        rows = [(n, c.get_short_help_str(limit)) for n, c in self.commands.items() if not c.hidden]
        rows += [(n, click.utils.make_default_short_help(text, limit)) for n, text in cached]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.plugin_commands().commands})

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        return command if command is not None else self.plugin_commands().commands.get(name)


@click.group(cls=TerritoryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="territory")
def cli():
    """Geographic sales territory planning: assign accounts, measure and map territories.

    ACCOUNTS are CSV (also .csv.gz), Excel .xlsx, Parquet, GeoJSON, GeoPackage or GeoParquet
    files located by lat/lon columns, geometry or a postal code. TERRITORIES are polygons, or
    building blocks with --alignment. Any input can be a database table written URL#table:
    postgresql://user@host/db#schema.table or duckdb:///file.duckdb#table (passwords from
    PGPASSWORD or .pgpass).
    """


@cli.command()
@click.argument("accounts", type=click.Path(dir_okay=False))
@click.argument("territories", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="assignments.csv",
    show_default=True,
    help="Assignments file (.csv, .parquet).",
)
@account_options
@territory_options
@engine_options
@handle_errors
@database_options
def assign(accounts, territories, output, engine, scheduler, database, **kw):
    """Assign every account to exactly one territory.

    Writes one row per account with territory_id, method (inside, boundary, overlap, nearest,
    unassigned), distance and reason. With --engine dask the assignments are written as a
    Parquet folder, one file per partition.
    """
    from territory.io import check_table_output, write_table
    from territory.outputs import check_targets, plan_inputs

    if engine == "dask":  # a folder of Parquet files
        output = str(Path(output).with_suffix(".parquet"))
    plan = _plan(accounts, territories, **kw)
    folders = [Path(output)] if engine == "dask" else []
    check_targets([Path(output)], plan_inputs(plan), folders=folders)  # never over an input
    check_table_output(output, "assignments")
    target = database.target()
    result = _run(plan, engine, scheduler, plugin_kpis=False)
    _print_notes(result)
    if engine == "dask":
        from territory.io import atomic_folder

        with atomic_folder(output) as folder:
            result.assignments.to_parquet(str(folder), write_index=False)
    else:
        write_table(result.assignments, output)
    _print_methods(result)
    console.print(f"Wrote {escape(str(output))}")
    try:
        send(result, target, [output], only=("assignments",))
    finally:
        result.close()


@cli.command()
@click.argument("accounts", type=click.Path(dir_okay=False))
@click.argument("territories", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the KPI table here.")
@click.option(
    "--by",
    "segments",
    multiple=True,
    help="Also break KPIs down by this account column (repeatable).",
)
@click.option("--balance", help="Measure for share/deviation/Gini (default revenue).")
@click.option(
    "--targets",
    type=click.Path(dir_okay=False),
    help="Targets table with territory_id and target columns.",
)
@click.option("--target-from", help="Set targets from this account measure (e.g. last year).")
@click.option(
    "--target-growth",
    type=float,
    default=0.0,
    show_default=True,
    help="Growth over --target-from, e.g. 0.1 for +10 %.",
)
@account_options
@territory_options
@engine_options
@handle_errors
@database_options
def kpis(accounts, territories, output, engine, scheduler, database, **kw):
    """Compute the common KPI set per territory (and per segment with --by).

    With -o, the KPI file and one file per segment column are published as one set with
    ``<name>-manifest.json``.
    """
    from territory.io import check_table_output, without_suffix
    from territory.outputs import OutputSet, plan_inputs
    from territory.result import segment_file

    plan = _plan(accounts, territories, **kw)
    files = None
    if output:
        path = Path(output)
        manifest = f"{without_suffix(path.name)}-manifest.json"
        files = OutputSet(path.parent, manifest, command="kpis",
                          inputs=plan_inputs(plan))  # fmt: skip
        files.check([path.name, *(segment_file(path.name, s) for s in plan.segments)])
        check_table_output(output, "KPI table")
    target = database.target()
    result = _run(plan, engine, scheduler)
    _print_notes(result)
    _print_kpis(result)
    _print_methods(result)
    if files is not None:
        with files:
            files.add_table(path.name, result.kpis)
            for seg, table in result.segments.items():
                files.add_table(segment_file(path.name, seg), table)
        console.print(f"Wrote {escape(str(output))}")
    try:
        send(result, target, files.written if files else [], only=("kpis", "segments"))
    finally:
        result.close()


@cli.command()
@click.argument("accounts", type=click.Path(dir_okay=False))
@click.argument("territories", type=click.Path(dir_okay=False))
@account_options
@territory_options
@engine_options
@handle_errors
def validate(accounts, territories, engine, scheduler, **kw):
    """Check accounts and territories without writing anything.

    Exits with 0 when the inputs can be planned with (repairs and notes are listed), 1 with the
    first problem to fix otherwise.
    """
    result = _run(_plan(accounts, territories, **kw), engine, scheduler, plugin_kpis=False)
    _print_notes(result)
    s = result.summary
    console.print(
        f"[green]OK[/]: {s['accounts']:,} accounts, {s['territories']} territories; "
        f"{s['assigned']:,} assigned, {s['unassigned']:,} unassigned."
    )
    _print_methods(result)
    result.close()


@cli.command()
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (overrides the plan).")
@engine_options
@handle_errors
@database_options
def run(plan_file, out, engine, scheduler, database):
    """Run a plan file (TOML): read, check, assign, measure, write outputs.

    With --to-database (or [outputs] database in the plan) the result tables are also written
    to that database, after the files, in one transaction.
    """
    plan = Plan.from_file(plan_file)
    if out:
        plan = plan.with_outputs(dir=Path(out))
    plan = plan.with_outputs(database=database.target(plan.outputs.database))
    _run_and_write(plan, engine, scheduler)


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="maps",
    show_default=True,
    help="Folder for demo.html, demo-kpis.csv and demo-assignments.csv.",
)
@handle_errors
def demo(out):
    """Run the embedded demo: Sample Superstore customers on US county territories."""
    plan = demo_plan().with_outputs(
        dir=Path(out),
        assignments="demo-assignments.csv",
        kpis="demo-kpis.csv",
        segments="demo-segment-kpis.csv",
        adjustments="demo-adjustments.csv",
        summary="demo-summary.json",
        map="demo.html",
        manifest="demo-manifest.json",
        result="demo-result",
    )
    from territory.outputs import plan_inputs
    from territory.report import tracking_outputs

    tracking_outputs(plan.outputs.dir, "demo-", plan_inputs(plan)).check()
    result = _run_and_write(plan)
    _track_and_write(plan, None, revise=False, prefix="demo-", result=result)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--params", "show_params", is_flag=True,
              help="Also list the parameters each axis and adjustment declares.")  # fmt: skip
@click.option(
    "--check",
    is_flag=True,
    help="Exit with code 1 when any plugin has a problem (else 0, problems shown).",
)
@handle_errors
def plugins(show_all, as_json, show_params, check):
    """List installed plugins, their version, hooks and what they register.

    Lists commands, segment axes, adjustments, KPIs and map layers with their descriptions
    (and with --params their parameters). A plugin that failed to load, register or add a
    command is listed with its error beside it; the exit code is 0 unless --check is given.
    TERRITORY_LOAD_PLUGINS (comma-separated entry point or distribution names, or empty for
    none) restricts which installed plugins load.
    """
    from territory import plugins as plugin_module
    from territory.cli_common import add_plugin_commands

    found = plugin_module.get_plugins()
    group = click.get_current_context().find_root().command
    builtin = group.commands if isinstance(group, click.Group) else {}
    added = add_plugin_commands(builtin, found, quiet=True)  # problems go into the listing
    rows = found.describe(include_builtin=show_all, params=show_params, commands=added.helps,
                          errors=added.errors)  # fmt: skip
    problems = any(row.get("error") or row.get("errors") for row in rows)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        console.print("No plugins installed (use --all to list the built-in ones).")
    else:
        _print_plugins(rows, show_params)
    if check and problems:
        sys.exit(1)


def _print_plugins(rows: list[dict], show_params: bool) -> None:
    table = Table(title="territory plugins", title_justify="left")
    for col in ("name", "version", "hooks", "registers"):
        table.add_column(col)
    for row in rows:
        lines = []
        for item in row.get("items", []):
            text = f"{item['kind']} [bold]{escape(item['name'])}[/]"
            if item.get("description"):
                text += f": {escape(item['description'])}"
            lines.append(text)
            for p in item.get("params", []) if show_params else []:
                need = "required" if p["required"] else f"default {p['default']!r}"
                choices = f"; one of {', '.join(map(str, p['choices']))}" if p["choices"] else ""
                lines.append(escape(f"    {p['name']} ({p['kind']}, {need}{choices}) {p['help']}"))
        if row.get("error"):
            lines.append(f"[red]failed to load: {escape(row['error'])}[/]")
        lines += [f"[red]error: {escape(e)}[/]" for e in row.get("errors", [])]
        version = str(row.get("version") or "")
        if "load_seconds" in row:
            version += f"\nimport {row['load_seconds']:.2f} s"
        table.add_row(
            escape(row["name"]), escape(version),
            escape(", ".join(row["hooks"])), "\n".join(lines),
        )  # fmt: skip
    console.print(table)


@cli.command()
@click.argument("target", metavar="PLAN|RUN_DIR", type=click.Path())
@click.option("--as-of", help="Tracking date as YYYY-MM-DD, e.g. 2017-06-30 (default: [tracking] "
                             "as_of). Other forms need --dayfirst or --monthfirst.")  # fmt: skip
@click.option("--dayfirst", "order", flag_value="dayfirst",
              help="Read --as-of as day/month/year (01/06/2017 = 1 June 2017).")  # fmt: skip
@click.option("--monthfirst", "order", flag_value="monthfirst",
              help="Read --as-of as month/day/year (06/01/2017 = 1 June 2017).")  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False), help="Output folder (default: the plan's, or "
    "RUN_DIR)."
)  # fmt: skip
@click.option(
    "--revise",
    is_flag=True,
    help="Reallocate the remaining target by run rate (total kept), recording changes.",
)
@handle_errors
def track(target, as_of, order, out, revise):
    """Track targets, actuals and pipeline of a plan at a date; write the dashboard.

    PLAN is a plan file (run first); RUN_DIR the result folder a run left (read directly, the
    plan is not run again). Needs a [tracking] section (order lines, optional opportunities,
    period, target setting). Writes dashboard.html (offline), tracking-*.csv, tracking.xlsx,
    tracking-map.html (actual against the pace expected by the date) and
    tracking-status-map.html (ahead / on track / behind).
    """
    source = ResultSource(target)
    plan = source.plan
    if out:
        plan = plan.with_outputs(dir=Path(out))
    load = None if source.plan_file else source.result
    _track_and_write(plan, as_of, revise, prefix="", order=order, load=load)


def _track_and_write(
    plan: Plan,
    as_of: str | None,
    revise: bool,
    prefix: str,
    result: PlanResult | None = None,
    order: str | None = None,
    load=None,
) -> None:
    """``load``: reads the result instead of running the plan (after every check)."""
    from territory.api import track, tracking_day
    from territory.outputs import plan_inputs
    from territory.report import tracking_outputs, write_tracking

    day = tracking_day(plan, as_of, order)  # every check before the work
    tracking_outputs(plan.outputs.dir, prefix, plan_inputs(plan)).check()
    result = result or (load() if load is not None else plan.run())
    tracked = track(plan, day, revise=revise, result=result)
    _print_tracking(tracked, plan.name)
    written = write_tracking(
        tracked, Path(plan.outputs.dir), f"{plan.name}: tracking at {day:%Y-%m-%d}",
        prefix=prefix, result=result, inputs=plan_inputs(plan),
    )  # fmt: skip
    for path in written:
        console.print(f"Wrote {escape(str(path))}")


def _print_tracking(tracked, name: str) -> None:
    table = Table(title=f"{escape(name)}: {tracked.period.label} at {tracked.as_of:%Y-%m-%d}",
                  title_justify="left")  # fmt: skip
    cols = ["territory_id", "name", "target", "actual", "attainment", "pacing",
            "run_rate_forecast", "weighted_pipeline", "trend", "status"]  # fmt: skip
    for c in cols:
        table.add_column(c, justify="left" if c in ("territory_id", "name", "status") else "right")
    for row in tracked.territories[cols].itertuples(index=False):
        table.add_row(*(_cell(c, v) for c, v in zip(cols, row, strict=True)))
    console.print(table)
    if len(tracked.issues):
        kinds = tracked.issues["problem"].value_counts()
        for problem, count in kinds.items():
            console.print(f"  data issue ({count:,}): {escape(problem)}")


@cli.command("map")
@click.argument("target", metavar="PLAN|RUN_DIR", type=click.Path())
@click.option("--kpi", help="KPI to colour territories by (default revenue); 'territory' colours "
                            "by identity, neighbours differing; 'attainment' uses a diverging "
                            "scale around 100%.")  # fmt: skip
@click.option("--tiles", help="Tile URL template or folium tile name for online use (default: "
                              "none, the map works offline).")  # fmt: skip
@click.option("--offline/--online", default=True, show_default=True,
              help="Offline: everything inlined, no tiles (opens with no network at all). "
                   "--online --tiles URL adds a background map from a tile server.")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="map.html",
              show_default=True, help="The HTML file to write.")  # fmt: skip
@handle_errors
def map_command(target, kpi, tiles, offline, output):
    """Render a plan file (PLAN, run first) or the result folder a run left (RUN_DIR, read
    directly) as one self-contained HTML map."""
    if tiles and offline:
        raise click.UsageError(
            "--tiles loads a background from a tile server, so the map would not be offline: "
            "add --online to use tiles, or drop --tiles for a map that opens with no network."
        )
    source = ResultSource(target)
    source.check_kpi(kpi)  # before anything heavy is imported, read or run
    from territory.outputs import check_targets

    check_targets([Path(output)], source.inputs())
    result = source.result()
    if source.plan_file:
        _print_notes(result)
    page = result.to_map(kpi=kpi, tiles=tiles).get_root().render()
    from territory.io import atomic_path

    with atomic_path(output) as tmp:
        tmp.write_text(page, encoding="utf-8")
    result.close()
    console.print(f"Wrote {escape(str(output))}")


@cli.command("check-outputs")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--manifest", help="Check only this manifest (default: every *manifest.json).")
@click.option("--repair", is_flag=True, help="Finish publishes a killed run left half done; "
                                             "remove stale temporary files.")  # fmt: skip
@handle_errors
def check_outputs(folder, manifest, repair):
    """Check that the output sets in FOLDER are whole (every file matches its manifest).

    Exits with 0 when every set is whole and nothing is left over, 1 otherwise.
    """
    from territory.outputs import repair as repair_folder
    from territory.outputs import verify

    if repair:
        for line in repair_folder(folder):
            console.print(f"Repaired: {escape(line)}")
    report = verify(folder, manifest)
    for s in report.sets:
        state = "[green]whole[/]" if s.ok else "[red]NOT whole[/]"
        console.print(f"{escape(s.manifest)}: {state}, {len(s.files)} files, "
                      f"written by {escape(str(s.command))} at {escape(str(s.created))} "
                      f"(run id {escape(str(s.run_id))})")  # fmt: skip
        for problem in s.problems:
            console.print(f"  {escape(problem)}")
    for line in report.interrupted:
        console.print(f"[red]Interrupted:[/] {escape(line)}; run with --repair to finish it.")
    for name in report.leftovers:
        console.print(f"[yellow]Leftover:[/] {escape(name)} (removed by --repair or the next run)")
    if not report.sets and not report.interrupted:
        console.print(f"No output sets in {escape(str(folder))}.")
    sys.exit(0 if report.ok else 1)


def _run_and_write(plan: Plan, engine: str = "local", scheduler: str | None = None) -> PlanResult:
    plan.check_outputs(engine=engine)
    result = _run(plan, engine, scheduler)
    _print_notes(result)
    _print_kpis(result)
    _print_methods(result)
    try:
        with console.status("Writing outputs..."):
            written = result.write()
    finally:
        result.close()
    for path in written:
        console.print(f"Wrote {escape(str(path))}")
    if result.database_report is not None:
        print_report(result.database_report)
    return result


def _print_notes(result: PlanResult) -> None:
    for note in result.notes:
        err_console.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
    per_plugin: dict[str, float] = {}
    for row in result.summary.get("plugin_seconds", []):
        per_plugin[row["plugin"]] = per_plugin.get(row["plugin"], 0.0) + row["seconds"]
    if per_plugin:
        shown = sorted(per_plugin.items(), key=lambda kv: -kv[1])
        err_console.print("Plugin time: " + ", ".join(f"{escape(p)} {s:.2f} s" for p, s in shown),
                          soft_wrap=True)  # fmt: skip


def _print_methods(result: PlanResult) -> None:
    methods = result.summary["methods"]
    parts = [f"{k} {v:,}" for k, v in methods.items() if v]
    console.print("Assignment methods: " + ", ".join(parts))
    unassigned = result.unassigned
    if len(unassigned):
        # one line per kind of reason: each account's own distance and quoted values left out,
        # the limits kept
        kinds = (
            unassigned["reason"]
            .astype(str)
            .str.replace(r"nearest is \d+(?:\.\d+)? km away", "nearest is {km} km away", regex=True)
            .str.replace(r"'[^']*'", "'…'", regex=True)
        )
        for reason, count in kinds.value_counts().head(5).items():
            if "{km}" in reason:
                km = unassigned["distance_km"][kinds == reason].astype(float)
                low, high = f"{km.min():,.1f}", f"{km.max():,.1f}"
                reason = reason.replace("{km}", low if low == high else f"{low}–{high}")
            console.print(f"  unassigned ({count:,}): {escape(reason)}")


def _print_kpis(result: PlanResult, limit: int = 60) -> None:
    kpis = result.kpis
    table = Table(title=f"{escape(result.plan.name)}: KPIs per territory", title_justify="left")
    shown = [
        c
        for c in (
            "territory_id",
            "name",
            "parent",
            "accounts",
            *list(result.summary["totals"]),
            "target",
            "attainment",
            "share",
            "deviation",
            "area_km2",
            "density",
            "compactness",
        )
        if c in kpis.columns
    ]
    for c in shown:
        table.add_column(c, justify="left" if c in ("territory_id", "name", "parent") else "right")
    for row in kpis[shown].head(limit).itertuples(index=False):
        table.add_row(*(_cell(c, v) for c, v in zip(shown, row, strict=True)))
    if len(kpis) > limit:
        table.add_row(f"… {len(kpis) - limit:,} more (all in the KPI file)")
    s = result.summary

    def sums_row(label: str, accounts: int, part: str) -> list[str]:
        cells = {"territory_id": label, "accounts": f"{accounts:,}"}
        cells |= {m: _cell(m, t[part]) for m, t in s["totals"].items()}
        return [cells.get(c, "") for c in shown]

    table.add_section()
    table.add_row(*sums_row("TOTAL", s["assigned"], "assigned"))
    if s["unassigned"]:  # the territories plus the unassigned accounts make the input
        table.add_row(*sums_row("UNASSIGNED", s["unassigned"], "unassigned"))
        table.add_row(*sums_row("INPUT", s["accounts"], "input"))
    console.print(table)
    console.print(
        f"Balance on {escape(str(s['balance_measure']))}: "
        f"max deviation {formatting.percent(s['max_deviation'])}, "
        f"Gini {s['gini']:.3f}; compactness mean {s['compactness_mean']:.2f}, "
        f"min {s['compactness_min']:.2f}"
        + (f"; attainment {formatting.percent(s['attainment'])}" if "attainment" in s else "")
        + (
            f" (over the {s['attainment_territories']:,} territories with a target)"
            if "attainment_territories" in s
            else ""
        )
    )


def _cell(column: str, value) -> str:
    return escape(formatting.cell(column, value))


@cli.command()
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False))
@click.argument("alignment", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (overrides the plan).")
@handle_errors
def apply(plan_file, alignment, out):
    """Run PLAN with another ALIGNMENT (block_id,territory_id) and write every output again.

    Use it with the CSV exported from the map editor or written by `territory design`.
    """
    plan = Plan.from_file(plan_file).with_alignment(Path(alignment))
    if out:
        plan = plan.with_outputs(dir=Path(out))
    _run_and_write(plan)


for _command in cli_design.COMMANDS:  # design, rebalance, quality, compare
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point: click's own handling, except that Ctrl-C outside a command
    (while plugin commands load, say) is "Aborted", exit 130, as inside one.

    Once the command has ended (its outputs published, or its error reported), a Ctrl-C no
    longer changes anything, so it is ignored while Python exits: otherwise one arriving in
    the last moments of the interpreter would end the process by the signal, with no word.
    """
    cli.use_command_cache = True
    try:
        returned = cli.main(standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except SystemExit as exc:  # a command's own exit (errors: 1, Ctrl-C: 130)
        code = exc.code
    except (KeyboardInterrupt, EOFError, click.exceptions.Abort):
        err_console.print("Aborted")
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    main()


__all__ = ["cli", "demo_plan", "main"]
