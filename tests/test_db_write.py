"""Results written back to a database: PostgreSQL/PostGIS (a real throwaway server) and DuckDB
files. Every table of a run goes in one transaction; what is read back with pandas/duckdb (the
oracle) equals the in-memory result, ids keep their leading zeros, names are quoted identifiers
and user strings stay values."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import box

import territory
from territory.cli import cli
from territory.db import write as db_write
from territory.db.target import DatabaseTarget
from territory.errors import TerritoryError, ValidationError
from territory.model import Plan
from tests import pgserver

SRC = str(Path(territory.__file__).parents[1])
HOSTILE = "x'); drop table accounts; --"
RUN_COLUMNS = ["run_id", "run_at"]


# --- a small plan with leading-zero ids, a segment column and an adjustment -----------------


def write_plan(folder: Path, outputs: str = "", revenue_scale: float = 1.0) -> Path:
    pd.DataFrame(
        {
            "account_id": ["0001", "0002", "0003", "0040", "far"],
            "lat": [0.5, 0.5, 0.2, 0.8, 9.0],
            "lon": [0.5, 1.5, 1.7, 0.2, 9.0],
            "revenue": [v * revenue_scale for v in (10.0, 20.0, 30.0, 40.0, 50.0)],
            "segment": ["smb", "ent", "smb", HOSTILE, "ent"],
        }
    ).to_csv(folder / "accounts.csv", index=False)
    gpd.GeoDataFrame(
        {"territory_id": ["007", "010"], "name": ["Bravo", HOSTILE], "target": [30.0, 70.0]},
        geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)],
        crs="EPSG:4326",
    ).to_file(folder / "territories.geojson")
    (folder / "mult.csv").write_text(f'territory_id,multiplier,reason\n007,1.5,"{HOSTILE}"\n')
    plan = folder / "plan.toml"
    plan.write_text(
        'name = "Database plan"\n[accounts]\npath = "accounts.csv"\n'
        '[territories]\npath = "territories.geojson"\n[kpis]\nsegments = ["segment"]\n'
        '[[adjustments]]\nadjustment = "manual_multipliers"\ntable = "mult.csv"\n'
        f'[outputs]\ndir = "out"\nmap = ""\n{outputs}'
    )
    return plan


def normalized(frame: pd.DataFrame, key: list[str], like: pd.DataFrame) -> pd.DataFrame:
    """Numbers (as in ``like``, the in-memory table) as float, everything else as text or None:
    what both sides must agree on."""
    frame = frame.reset_index(drop=True)
    out = {}
    for column in frame.columns:
        series = frame[column]
        dtype = like[column].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not isinstance(
            dtype, pd.CategoricalDtype
        )
        if numeric and not pd.api.types.is_bool_dtype(dtype):
            out[column] = series.astype("float64")
        else:
            out[column] = pd.Series([None if pd.isna(v) else str(v) for v in series], dtype=object)
    return pd.DataFrame(out).sort_values(key).reset_index(drop=True)


def expected_tables(result) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    """The in-memory result, table by table, with the key each table is sorted by."""
    segments = []
    for axis, table in result.segments.items():
        table = table.rename(columns={axis: "segment"})
        table.insert(2, "axis", axis)
        segments.append(table)
    tables = {
        "territory_assignments": (result.assignments, ["account_id"]),
        "territory_kpis": (result.kpis, ["territory_id"]),
    }
    if segments:
        tables["territory_segment_kpis"] = (pd.concat(segments), ["territory_id", "axis",
                                                                  "segment"])  # fmt: skip
    if result.adjustments is not None and len(result.adjustments):
        tables["territory_adjustments"] = (result.adjustments, ["territory_id", "adjustment"])
    return tables


def assert_tables_equal(read, result, run_ids=1) -> None:
    for name, (expected, key) in expected_tables(result).items():
        got = read(name)
        assert got["run_id"].nunique() == run_ids, name
        got = got.drop(columns=RUN_COLUMNS)
        assert list(got.columns) == [str(c) for c in expected.columns], name
        pd.testing.assert_frame_equal(
            normalized(got, key, expected), normalized(expected, key, expected), obj=name
        )


# --- PostgreSQL helpers -----------------------------------------------------------------------


def pg_reader(url: str, schema: str = "public"):
    import sqlalchemy as sa

    engine = sa.create_engine(url)

    def read(table: str, columns: str = "*") -> pd.DataFrame:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f'select {columns} from "{schema}"."{table}"'), conn)

    return read


def pg_snapshot(server, schema: str = "public") -> dict[str, list]:
    """Every table in ``schema`` with all its rows as text, as the superuser sees them."""
    names = server.psql(
        "select table_name from information_schema.tables where table_schema = "
        f"'{schema}' and table_type = 'BASE TABLE' and table_name <> 'spatial_ref_sys' order by 1"
    ).split()
    return {
        n: sorted(server.psql(f'select t::text from "{schema}"."{n}" t').splitlines())
        for n in names
    }


@pytest.fixture
def pg(postgis_server, postgis_url):
    """A clean database for each test: the territory role owns a fresh public schema."""
    postgis_server.psql(
        "drop schema if exists public cascade; drop schema if exists plans cascade; "
        f"create schema public authorization {pgserver.USER}; grant usage on schema public to "
        "public; drop role if exists reader; create extension if not exists postgis"
    )
    return postgis_server


def run_cli(args: list[str]):
    result = CliRunner().invoke(cli, args)
    return result


# --- PostgreSQL: round trip, geometry, types ----------------------------------------------------


def test_plan_run_writes_every_table_to_postgis_as_computed(tmp_path, pg, postgis_url):
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\n')
    result = run_cli(["run", str(plan)])
    assert result.exit_code == 0, result.output
    assert "territory_assignments (5 rows, replace" in result.output
    expected = Plan.from_file(plan).run()
    read = pg_reader(postgis_url)
    assert_tables_equal(read, expected)
    # ids are text with their leading zeros, measures double precision, run_at a timestamp
    types = dict(
        line.split("|")
        for line in pg.psql(
            "select column_name, data_type from information_schema.columns where table_name = "
            "'territory_assignments'"
        ).splitlines()
    )
    assert types["account_id"] == "text" and types["territory_id"] == "text"
    assert types["revenue"] == "double precision" and types["method"] == "text"
    assert types["run_at"] == "timestamp with time zone"
    assert set(read("territory_assignments")["territory_id"].dropna()) == {"007", "010"}
    # the territory polygons as PostGIS geometry with their SRID
    shapes = read(
        "territory_shapes", "territory_id, ST_SRID(geometry) srid, ST_AsBinary(geometry) g"
    )  # noqa: E501
    assert set(shapes["srid"]) == {4326}
    layer = gpd.read_file(tmp_path / "territories.geojson").set_index("territory_id")
    for row in shapes.itertuples():
        assert shapely.from_wkb(bytes(row.g)).equals(layer.geometry[row.territory_id])
    # the files were written too, before the database
    assert (tmp_path / "out" / "assignments.csv").exists()


def test_dates_text_and_counts_get_their_sql_types(pg, postgis_url):
    frame = pd.DataFrame(
        {
            "territory_id": ["007", None],
            "since": pd.to_datetime(["2017-01-31", None]),
            "closed": [dt.date(2017, 6, 30), None],
            "accounts": [3, 4],
            "share": [0.25, float("nan")],
        }
    )
    target = DatabaseTarget(postgis_url)
    db_write.write_tables(target, [("kpis", frame)])
    types = pg.psql(
        "select column_name || ':' || data_type from information_schema.columns where "
        "table_name = 'territory_kpis' order by ordinal_position"
    ).split("\n")
    assert types[:7] == [
        "run_id:text",
        "run_at:timestamp with time zone",
        "territory_id:text",
        "since:date",
        "closed:date",
        "accounts:bigint",
        "share:double precision",
    ]
    back = pg.psql(
        "select territory_id, since, closed, share is null from territory_kpis order by 1"
    )
    assert back.splitlines() == ["007|2017-01-31|2017-06-30|f", "|||t"]


# --- modes ----------------------------------------------------------------------------------------


def test_append_twice_keeps_both_runs_and_replace_keeps_only_the_last(tmp_path, pg, postgis_url):
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\nschema = "plans"\nmode = "append"\n')
    for _ in range(2):
        result = run_cli(["run", str(plan)])
        assert result.exit_code == 0, result.output
    read = pg_reader(postgis_url, "plans")
    assignments = read("territory_assignments")
    assert assignments["run_id"].nunique() == 2
    assert len(assignments) == 2 * 5
    assert len(read("territory_kpis")) == 2 * 2
    # the same run id again is refused and adds nothing
    run_id = assignments["run_id"].iloc[0]
    again = run_cli(["run", str(plan), "--run-id", run_id])
    assert again.exit_code == 1
    assert "already holds run" in again.output and "run_id" in again.output
    assert len(read("territory_assignments")) == 10
    # replace: the tables hold this run only
    result = run_cli(["run", str(plan), "--mode", "replace"])
    assert result.exit_code == 0, result.output
    assert_tables_equal(read, Plan.from_file(plan).run())


def without_adjustments_and_segments(plan: Path) -> None:
    text = plan.read_text()
    text = text.replace('[kpis]\nsegments = ["segment"]\n', "")
    text = text.replace(
        '[[adjustments]]\nadjustment = "manual_multipliers"\ntable = "mult.csv"\n', ""
    )
    assert "adjustments" not in text and "segments" not in text
    plan.write_text(text)


def test_a_replace_removes_the_tables_an_older_run_had_and_not_this_one(tmp_path, pg,
                                                                        postgis_url):  # fmt: skip
    """Every table of the set holds one run: an older run's adjustments and segment KPIs do
    not stay beside a run that has none (nor are they removed by an append)."""
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\n')
    assert run_cli(["run", str(plan)]).exit_code == 0
    tables = set(pg_snapshot(pg))
    assert {"territory_adjustments", "territory_segment_kpis"} <= tables
    without_adjustments_and_segments(plan)
    appended = run_cli(["run", str(plan), "--mode", "append"])
    assert appended.exit_code == 0, appended.output
    assert set(pg_snapshot(pg)) == tables
    result = run_cli(["run", str(plan)])
    assert result.exit_code == 0, result.output
    assert "territory_adjustments removed" in result.output
    assert set(pg_snapshot(pg)) == tables - {"territory_adjustments", "territory_segment_kpis"}
    read = pg_reader(postgis_url)
    runs = {
        read(t)["run_id"].unique().tolist()[0]
        for t in ("territory_assignments", "territory_kpis", "territory_shapes")
    }
    assert len(runs) == 1
    assert_tables_equal(read, Plan.from_file(plan).run())


def test_append_to_a_table_with_incompatible_columns_names_the_column(tmp_path, pg, postgis_url):
    pg.psql(f"create table territory_kpis (territory_id integer); alter table territory_kpis "
            f"owner to {pgserver.USER}")  # fmt: skip
    before = pg_snapshot(pg)
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\nmode = "append"\n')
    result = run_cli(["run", str(plan)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "table public.territory_kpis" in message and "'run_id'" in message
    assert "mode replace" in message and "Nothing was written" in message
    assert "Traceback" not in result.output
    assert pg_snapshot(pg) == before  # assignments (written first) rolled back too


# --- one transaction: a failure or a kill mid-write changes nothing -------------------------------


def test_a_run_failing_after_the_first_table_leaves_every_table_as_it_was(
    tmp_path, pg, postgis_url, monkeypatch
):
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\n')
    assert run_cli(["run", str(plan)]).exit_code == 0
    pg.psql("drop table territory_adjustments")  # a table the next run would create
    before = pg_snapshot(pg)
    write_plan(tmp_path, f'database = "{postgis_url}"\n', revenue_scale=3.0)
    copy, sent = db_write._pg_copy, []

    def copy_then_fail(cursor, schema, table):
        if sent:
            raise OSError("disk full")
        copy(cursor, schema, table)
        sent.append(table.name)

    monkeypatch.setattr(db_write, "_pg_copy", copy_then_fail)
    with pytest.raises(OSError):
        Plan.from_file(plan).run().to_database(postgis_url)
    assert sent == ["territory_assignments"]
    assert pg_snapshot(pg) == before


def test_a_database_error_mid_write_keeps_the_files_and_says_so(tmp_path, pg, postgis_url):
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\nmode = "append"\n')
    pg.psql(f"create table territory_segment_kpis (x text); alter table territory_segment_kpis "
            f"owner to {pgserver.USER}")  # fmt: skip
    before = pg_snapshot(pg)
    result = run_cli(["run", str(plan)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "The output files were written" in message and "assignments.csv" in message
    assert "every table is as it was" in message and "territory_segment_kpis" in message
    assert (tmp_path / "out" / "kpis.csv").exists()
    assert pg_snapshot(pg) == before


def start_paused_run(args: list[str], env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC, db_write.PAUSE_ENV: "60", **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "territory", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_first_table(proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if line.startswith("territory: sent table"):
            return line.split()[-1]
    proc.kill()
    raise AssertionError("the run ended before sending a table: " + "".join(seen))


@pytest.mark.slow
def test_a_run_killed_mid_write_leaves_the_postgis_tables_unchanged(tmp_path, pg, postgis_url):
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\n')
    assert run_cli(["run", str(plan)]).exit_code == 0
    before = pg_snapshot(pg)
    write_plan(tmp_path, f'database = "{postgis_url}"\n', revenue_scale=5.0)
    proc = start_paused_run(["run", str(plan)], {"PGPASSWORD": pgserver.PASSWORD})
    assert wait_for_first_table(proc) == "territory_assignments"
    # the first table is sent, inside an open transaction
    states = pg.psql(f"select state from pg_stat_activity where usename = '{pgserver.USER}'")
    assert "idle in transaction" in states
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while "idle in transaction" in pg.psql(
        f"select state from pg_stat_activity where usename = '{pgserver.USER}'"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert pg_snapshot(pg) == before


# --- names and values -------------------------------------------------------------------------


def test_hostile_names_are_identifiers_and_hostile_strings_are_values(tmp_path, pg, postgis_url):
    pg.psql(f"create table accounts (id int); alter table accounts owner to {pgserver.USER}")
    plan = write_plan(tmp_path)
    result = Plan.from_file(plan).run()
    report = result.to_database(postgis_url, schema=HOSTILE, tables={"kpis": HOSTILE})
    assert (f"{HOSTILE}.{HOSTILE}", 2) in report.tables
    assert pg.psql("select count(*) from accounts").strip() == "0"  # still there
    read = pg_reader(postgis_url, HOSTILE)
    kpis = read(HOSTILE)
    assert HOSTILE in set(kpis["name"])
    adjustments = read("territory_adjustments")
    assert HOSTILE in set(adjustments["reason"])
    segments = read("territory_segment_kpis")
    assert HOSTILE in set(segments["segment"])


# --- errors: permissions, connection, password ---------------------------------------------


def test_a_read_only_role_gets_a_clear_error_and_nothing_is_written(
    tmp_path, pg, postgis_url, monkeypatch
):
    plan = write_plan(tmp_path, f'database = "{postgis_url}"\n')
    assert run_cli(["run", str(plan)]).exit_code == 0
    pg.psql(
        "create role reader login password 'reader-pw'; grant select on all tables in schema "
        "public to reader"
    )
    before = pg_snapshot(pg)
    monkeypatch.setenv("PGPASSWORD", "reader-pw")
    url = pg.url(user="reader")
    for mode in ("replace", "append"):
        result = run_cli(["run", str(plan), "--to-database", url, "--mode", mode])
        assert result.exit_code == 1, result.output
        message = " ".join(result.output.split())
        assert "table public.territory_assignments" in message, message
        assert "GRANT" in message and "Nothing was written" in message
        assert "Traceback" not in result.output
    assert pg_snapshot(pg) == before


def test_wrong_password_and_no_server_are_reported_before_the_run(tmp_path, pg, postgis_url,
                                                                  monkeypatch):  # fmt: skip
    plan = write_plan(tmp_path)
    monkeypatch.setenv("PGPASSWORD", "not-the-password-123")
    result = run_cli(["run", str(plan), "--to-database", postgis_url])
    assert result.exit_code == 1
    assert "refused the password" in result.output and "PGPASSWORD" in result.output
    assert "not-the-password-123" not in result.output
    assert not (tmp_path / "out").exists()  # checked before any work
    nowhere = f"postgresql://{pgserver.USER}@/territory?host={tmp_path / 'no-socket-here'}"
    result = run_cli(["run", str(plan), "--to-database", nowhere])
    assert result.exit_code == 1
    assert "no server is listening" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_password_in_the_plan_is_refused_and_never_shown(tmp_path):
    plan = write_plan(tmp_path, 'database = "postgresql://planner:s3cret-pw@db/sales"\n')
    with pytest.raises(TerritoryError) as err:
        Plan.from_file(plan)
    assert "PGPASSWORD" in str(err.value) and "s3cret-pw" not in str(err.value)


def test_database_settings_in_the_plan_are_checked_at_load(tmp_path):
    plan = write_plan(tmp_path, 'database = "duckdb:///x.duckdb"\nmode = "upsert"\n')
    with pytest.raises(ValidationError, match="'replace'.*'append'"):
        Plan.from_file(plan)
    plan = write_plan(tmp_path, 'database = "duckdb:///x.duckdb"\ntables = {kpi = "k"}\n')
    with pytest.raises(ValidationError, match="'kpi'.*assignments, kpis"):
        Plan.from_file(plan)
    plan = write_plan(tmp_path, 'mode = "append"\n')
    with pytest.raises(ValidationError, match="needs database"):
        Plan.from_file(plan)
    result = run_cli(["run", str(write_plan(tmp_path)), "--mode", "append"])
    assert result.exit_code == 1 and "need --to-database" in result.output


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_awkward_text_stays_exactly_as_given(backend, tmp_path, request):
    """Empty text is not NULL, NULL is not text, and quotes, commas, line breaks, backslashes
    and COPY's own NULL marker arrive unchanged."""
    values = ['a"b', "line\nbreak", "\\N", "", None, "x,y", "tab\there", " padded ", "0042"]
    frame = pd.DataFrame({"territory_id": [f"T{i}" for i in range(len(values))],
                          "name": pd.Series(values, dtype=object)})  # fmt: skip
    if backend == "postgresql":
        request.getfixturevalue("pg")
        url = request.getfixturevalue("postgis_url")
    else:
        url = f"duckdb:///{tmp_path / 'text.duckdb'}"
    db_write.write_tables(DatabaseTarget(url), [("kpis", frame)])
    if backend == "postgresql":
        back = pg_reader(url)("territory_kpis")
    else:
        con = duckdb.connect(str(tmp_path / "text.duckdb"), read_only=True)
        back = con.execute("select * exclude (run_at) from territory_kpis").df()
        con.close()
    back = back.sort_values("territory_id", key=lambda s: s.str[1:].astype(int))
    got = [None if pd.isna(v) else v for v in back["name"]]
    assert got == values


def test_an_empty_table_is_appended_as_no_rows(pg, postgis_url):
    empty = pd.DataFrame({"territory_id": pd.Series([], dtype=object), "revenue": []})
    target = DatabaseTarget(postgis_url, mode="append")
    for _ in range(2):
        report = db_write.write_tables(target, [("kpis", empty)])
        assert report.tables == [("public.territory_kpis", 0)]
    assert pg.psql("select count(*) from territory_kpis").strip() == "0"
