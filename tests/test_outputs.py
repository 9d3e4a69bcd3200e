"""Outputs you can trust: whole sets or nothing, inputs never overwritten, checks before work."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import territory
from territory import outputs
from territory.cli import cli
from territory.errors import TerritoryError, ValidationError
from territory.model import Plan
from territory.tracking import parse_day
from tests.conftest import DATA

SRC = str(Path(territory.__file__).parents[1])


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity, which are not JSON."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def write_plan(folder: Path, body: str = "", outputs_body: str = 'dir = "out"\nmap = ""\n') -> Path:
    plan = folder / "plan.toml"
    plan.write_text(
        'name = "Outputs test"\n[accounts]\npath = "accounts.csv"\n[territories]\n'
        f'path = "territories.geojson"\n[kpis]\nsegments = ["segment"]\n{body}'
        f"[outputs]\n{outputs_body}"
    )
    return plan


def assert_consistent(folder: Path, manifest: str = "manifest.json") -> dict:
    """The set in ``folder`` is whole and its files agree with each other (revenue totals)."""
    report = outputs.verify(folder, manifest)
    assert report.sets and report.sets[0].ok, report
    assignments = pd.read_csv(folder / "assignments.csv", dtype={"territory_id": str})
    kpis = pd.read_csv(folder / "kpis.csv")
    summary = strict_json((folder / "summary.json").read_text())
    assigned = assignments.loc[assignments["territory_id"].notna(), "revenue"].sum()
    assert kpis["revenue"].sum() == pytest.approx(assigned)
    assert summary["totals"]["revenue"]["assigned"] == pytest.approx(assigned)
    assert summary["accounts"] == len(assignments)
    return strict_json((folder / manifest).read_text())


def temp_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".territory-tmp-"))


@pytest.fixture
def plan_dir(tmp_path, accounts_csv, squares_geojson) -> Path:
    write_plan(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the result folder's included): relative name -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


# --- the set: manifest, publish order, interruption -----------------------------------------


def test_run_publishes_a_whole_set_with_a_manifest(plan_dir):
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 0, result.output
    manifest = assert_consistent(plan_dir / "out")
    names = {f["name"] for f in manifest["files"]}
    tables = ["territories", "overlaps", "accounts", "locations", "assignments", "labels", "kpis",
              "adjustments"]  # fmt: skip
    result = {f"result/{t}.parquet" for t in tables} | {"result/segments/0.parquet",
                                                        "result/result.json"}  # fmt: skip
    assert names == {"assignments.csv", "kpis.csv", "segment-kpis-segment.csv", "summary.json",
                     *result}  # fmt: skip
    accounts = next(i for i in manifest["inputs"] if i["path"].endswith("accounts.csv"))
    assert accounts["size"] == (plan_dir / "accounts.csv").stat().st_size
    assert temp_entries(plan_dir / "out") == []
    check = CliRunner().invoke(cli, ["check-outputs", str(plan_dir / "out")])
    assert check.exit_code == 0 and "whole" in check.output
    (plan_dir / "out" / "kpis.csv").write_text("territory_id\nedited\n")
    check = CliRunner().invoke(cli, ["check-outputs", str(plan_dir / "out")])
    assert check.exit_code == 1 and "kpis.csv differs from the manifest" in check.output


class Killed(BaseException):
    """Stands for SIGKILL: the process stops here, nothing runs after it."""


def test_interruption_while_publishing_is_detected_and_finished(plan_dir, monkeypatch):
    plan = Plan.from_file(plan_dir / "plan.toml")
    plan.run().write()
    first = assert_consistent(plan_dir / "out")
    accounts = pd.read_csv(plan_dir / "accounts.csv")
    accounts["revenue"] *= 3
    accounts.to_csv(plan_dir / "accounts.csv", index=False)

    real_replace, moved = os.replace, []

    def replace(src, dst):
        if Path(dst).parent == plan_dir / "out":
            if len(moved) == 2:
                raise Killed
            moved.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(Killed):
        Plan.from_file(plan_dir / "plan.toml").run().write()
    monkeypatch.setattr(outputs.os, "replace", real_replace)

    # New assignments and kpis sit beside the old summary: readers can tell.
    report = outputs.verify(plan_dir / "out")
    assert report.sets == [] and len(report.interrupted) == 1
    check = CliRunner().invoke(cli, ["check-outputs", str(plan_dir / "out")])
    assert check.exit_code == 1 and "Interrupted" in check.output
    check = CliRunner().invoke(cli, ["check-outputs", "--repair", str(plan_dir / "out")])
    assert check.exit_code == 0, check.output
    second = assert_consistent(plan_dir / "out")
    assert second["run_id"] != first["run_id"]
    assert temp_entries(plan_dir / "out") == []
    summary = strict_json((plan_dir / "out" / "summary.json").read_text())
    assert summary["totals"]["revenue"]["input"] == pytest.approx(accounts["revenue"].sum())


def test_write_error_while_publishing_keeps_what_repair_needs(plan_dir, monkeypatch):
    """A disk error past the commit point says so, and the set can still be finished."""
    Plan.from_file(plan_dir / "plan.toml").run().write()
    real_replace, moved = os.replace, []

    def replace(src, dst):
        if Path(dst).parent == plan_dir / "out":
            if len(moved) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
            moved.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(TerritoryError) as err:
        Plan.from_file(plan_dir / "plan.toml").run().write()
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert "--repair" in str(err.value) and "Nothing was half-written" not in str(err.value)
    check = CliRunner().invoke(cli, ["check-outputs", "--repair", str(plan_dir / "out")])
    assert check.exit_code == 0, check.output
    assert_consistent(plan_dir / "out")
    assert temp_entries(plan_dir / "out") == []


def test_error_before_the_commit_keeps_the_previous_set(plan_dir, monkeypatch):
    plan = Plan.from_file(plan_dir / "plan.toml")
    plan.run().write()
    before = snapshot(plan_dir / "out")

    real, calls = pd.DataFrame.to_csv, []

    def second_fails(self, *a, **k):  # the assignments are written, the KPI table is not
        calls.append(1)
        if len(calls) == 2:
            raise TerritoryError("rendering failed")
        return real(self, *a, **k)

    result = plan.run()
    result.assignments["revenue"] += 1
    monkeypatch.setattr(pd.DataFrame, "to_csv", second_fails)
    with pytest.raises(TerritoryError):
        result.write()
    after = snapshot(plan_dir / "out")
    assert after == before


def test_next_run_removes_stale_temporary_files_only(plan_dir):
    out = plan_dir / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale_dir = out / f".territory-tmp-{int(dead.stdout)}-0123abcd"
    stale_dir.mkdir()
    (stale_dir / "assignments.csv").write_text("half")
    legacy = out / ".kpis.csv.g59y7qzh.csv"  # what earlier versions left after SIGKILL
    legacy.write_text("half")
    mine = [out / "notes.txt", out / ".hidden.csv", out / ".kpis.csv.backup"]
    for p in mine:
        p.write_text("user file")
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 0, result.output
    assert not stale_dir.exists() and not legacy.exists()
    assert all(p.read_text() == "user file" for p in mine)
    assert_consistent(out)


def test_outputs_in_the_input_folder_keep_user_files_and_drop_only_their_own(plan_dir):
    write_plan(plan_dir, outputs_body='dir = "."\nmap = ""\n')
    (plan_dir / "notes.txt").write_text("mine")
    assert CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")]).exit_code == 0
    assert (plan_dir / "segment-kpis-segment.csv").exists()
    # The next plan has no segment column: its set no longer has that file.
    text = (plan_dir / "plan.toml").read_text().replace('segments = ["segment"]', "")
    (plan_dir / "plan.toml").write_text(text)
    assert CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")]).exit_code == 0
    assert not (plan_dir / "segment-kpis-segment.csv").exists()
    assert (plan_dir / "notes.txt").read_text() == "mine"
    assert (plan_dir / "accounts.csv").exists() and (plan_dir / "territories.geojson").exists()
    assert_consistent(plan_dir)


# --- killing a real `territory run` ---------------------------------------------------------


def big_accounts(path: Path, n: int, scale: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(n)],
            "lat": rng.uniform(30, 45, n).round(5),
            "lon": rng.uniform(-110, -80, n).round(5),
            "revenue": rng.integers(1, 1000, n) * scale,
            "segment": rng.choice(["x", "y", "z"], n),
        }
    ).to_csv(path, index=False)


def start_run(plan: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    command = [sys.executable, "-m", "territory", "run", str(plan)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_for(check, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_killed_runs_always_leave_a_whole_set(tmp_path):
    """SIGKILL and Ctrl-C at several points of a real run: the folder always holds a whole,
    self-consistent set (the previous or the new one), and a rerun cleans up."""
    rows = 30_000
    big_accounts(tmp_path / "accounts.csv", rows, scale=1.0)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[accounts]\npath = "accounts.csv"\n'
        f'[blocks]\npath = "{DATA / "us_counties.parquet"}"\nid = "GEOID"\n'
        f'[alignment]\npath = "{DATA / "demo_alignment.csv"}"\n'
        '[kpis]\nsegments = ["segment"]\n[outputs]\ndir = "out"\nmap = ""\n'
    )
    out = tmp_path / "out"
    first = start_run(plan)
    assert first.wait(120) == 0, first.stderr.read()
    runs = {assert_consistent(out)["run_id"]}

    def staging(name=None):  # the run is writing its files (``name`` is written)
        stages = [p for p in out.glob(".territory-tmp-*") if p.is_dir()]
        return any(name is None or (p / name).exists() for p in stages)

    rng = np.random.default_rng()
    # Increasing random delays (start-up, reading, assigning) and two moments of the writing.
    points = [0.5 + rng.uniform(0, 1), "staging", 2 + rng.uniform(0, 2), "kpis.csv"]
    sigs = [signal.SIGKILL, signal.SIGINT, signal.SIGINT, signal.SIGKILL]
    for i, (point, sig) in enumerate(zip(points, sigs, strict=True)):
        big_accounts(tmp_path / "accounts.csv", rows, scale=float(i + 2))  # new totals
        proc = start_run(plan)
        if isinstance(point, str):
            wait_for(lambda p=point: staging(None if p == "staging" else p), 120)
        else:
            time.sleep(point)
        proc.send_signal(sig)
        code = proc.wait(120)
        err = proc.stderr.read()
        if sig == signal.SIGINT and code == -signal.SIGINT:
            # Ctrl-C while Python was still importing: no command ran, Python's own exit.
            assert not isinstance(point, str) and "KeyboardInterrupt" in err, err
        elif sig == signal.SIGINT and code != 0:
            assert code == 130 and "Aborted" in err and "Traceback" not in err, err
            assert temp_entries(out) == []  # Ctrl-C cleans up after itself
        elif sig == signal.SIGINT:
            assert point != "staging"  # only a run that had not finished is stopped there
        report = outputs.verify(out)
        if report.interrupted:  # killed while renaming: the next run finishes it
            outputs.repair(out)
        runs.add(assert_consistent(out)["run_id"])
    final = start_run(plan)
    assert final.wait(120) == 0, final.stderr.read()
    manifest = assert_consistent(out)
    assert temp_entries(out) == []
    summary = strict_json((out / "summary.json").read_text())
    total = pd.read_csv(tmp_path / "accounts.csv")["revenue"].sum()
    assert summary["totals"]["revenue"]["input"] == pytest.approx(total)
    assert manifest["run_id"] not in runs


# --- disk full, permissions -----------------------------------------------------------------


class FullDisk:
    """A file system layer where files under ``folder`` fail with ``code`` after ``budget``
    bytes in total (patches ``open`` as pandas, pathlib and territory use it)."""

    def __init__(self, folder: Path, budget: int, code: int = errno.ENOSPC):
        self.folder, self.budget, self.code = Path(folder).resolve(), budget, code
        self.real = builtins.open

    def open(self, file, mode="r", *args, **kwargs):
        handle = self.real(file, mode, *args, **kwargs)
        inside = isinstance(file, (str, os.PathLike)) and self.folder in (
            Path(file).resolve().parents
        )
        if inside and any(m in mode for m in "wax+"):
            return _Limited(handle, self)
        return handle

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(builtins, "open", self.open)
        monkeypatch.setattr(io, "open", self.open)


class _Limited:
    def __init__(self, handle, disk: FullDisk):
        self._handle, self._disk = handle, disk

    def write(self, data):
        self._disk.budget -= len(data)
        if self._disk.budget < 0:
            raise OSError(self._disk.code, os.strerror(self._disk.code), self._handle.name)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __iter__(self):
        return iter(self._handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.mark.parametrize("budget", [2_000, 200, "after-assignments"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_write_errors_are_one_paragraph_and_keep_the_previous_set(
    plan_dir, monkeypatch, budget, code
):
    assert CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")]).exit_code == 0
    out = plan_dir / "out"
    before = snapshot(out)
    if budget == "after-assignments":
        budget = len(before["assignments.csv"]) + 50
    accounts = pd.read_csv(plan_dir / "accounts.csv")
    accounts["revenue"] += 1
    accounts.to_csv(plan_dir / "accounts.csv", index=False)
    FullDisk(out, budget, code).install(monkeypatch)
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    monkeypatch.undo()
    assert result.exit_code == 1 and not isinstance(result.exception, OSError), result.output
    reason = "disk is full" if code == errno.ENOSPC else "permission denied"
    assert reason in result.output and "Nothing was half-written" in result.output
    assert snapshot(out) == before
    assert_consistent(out)


def test_disk_full_message_and_exit_code_from_a_subprocess(plan_dir):
    (plan_dir / "out").mkdir()
    script = (
        "import sys\n"
        f"sys.path[:0] = [{SRC!r}, {str(Path(__file__).parents[1])!r}]\n"
        "import pytest\n"
        "from tests.test_outputs import FullDisk\n"
        "mp = pytest.MonkeyPatch()\n"
        f"FullDisk({str(plan_dir / 'out')!r}, 500).install(mp)\n"
        "from territory.cli import main\n"
        f"sys.argv = ['territory', 'run', {str(plan_dir / 'plan.toml')!r}]\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "disk is full" in run.stderr and "Traceback" not in run.stderr
    assert list((plan_dir / "out").iterdir()) == []


# --- inputs are never outputs, checks before the work ---------------------------------------


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the plan is run (the check must come before the work)."""

    def run(*a, **k):
        raise AssertionError("the plan ran before the output check")

    monkeypatch.setattr(Plan, "run", run)


def test_assign_refuses_to_overwrite_its_input(tmp_path, accounts_csv, squares_geojson, no_work):
    original = accounts_csv.read_bytes()
    (tmp_path / "link.csv").symlink_to(accounts_csv)
    for target in (accounts_csv, tmp_path / "link.csv", tmp_path / "." / "accounts.csv"):
        result = CliRunner().invoke(
            cli, ["assign", str(accounts_csv), str(squares_geojson), "-o", str(target)]
        )
        assert result.exit_code == 1, result.output
        assert "is the input file" in result.output and "overwrite" in result.output
    assert accounts_csv.read_bytes() == original


def test_plan_output_that_is_an_input_is_refused(plan_dir, no_work):
    original = (plan_dir / "accounts.csv").read_bytes()
    write_plan(plan_dir, outputs_body='dir = "."\nassignments = "accounts.csv"\n')
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 1 and "is the input file" in result.output, result.output
    write_plan(plan_dir, outputs_body='dir = "."\nkpis = "territories.geojson"\n')
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 1 and "is the input file" in result.output, result.output
    assert (plan_dir / "accounts.csv").read_bytes() == original


def test_map_refuses_an_input_as_its_output(plan_dir, no_work):
    for target in ("accounts.csv", "plan.toml"):
        result = CliRunner().invoke(
            cli, ["map", str(plan_dir / "plan.toml"), "-o", str(plan_dir / target)]
        )
        assert result.exit_code == 1 and "is the input file" in result.output, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["assign", "{acc}", "{terr}", "-o", "{file}/a.csv"],
        ["assign", "{acc}", "{terr}", "-o", "{file}/sub/a.csv"],
        ["run", "{plan}", "--out", "{file}/sub"],
    ],
)
def test_output_folder_under_a_file_fails_before_the_work(plan_dir, no_work, args):
    (plan_dir / "afile").write_text("not a folder")
    names = {"acc": plan_dir / "accounts.csv", "terr": plan_dir / "territories.geojson",
             "plan": plan_dir / "plan.toml", "file": plan_dir / "afile"}  # fmt: skip
    result = CliRunner().invoke(cli, [a.format(**names) for a in args])
    assert result.exit_code == 1, result.output
    assert "is a file" in result.output and "afile" in result.output
    assert result.exception.__class__ is SystemExit


def test_plan_outputs_dir_that_is_a_file_fails_before_the_work(plan_dir, no_work):
    (plan_dir / "out").write_text("a file")
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 1 and "is a file, not a folder" in result.output, result.output


def test_unwritable_output_folder_fails_before_the_work(plan_dir, no_work, monkeypatch):
    real = os.access
    out = (plan_dir / "out").resolve()
    out.mkdir()
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == out else real(p, m))
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 1 and "not writable" in result.output, result.output


# --- plan value types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "toml, key, shown, expected",
    [
        ('[assign]\nmax_distance_km = "ten"\n', "[assign] max_distance_km", '"ten"', "a number"),
        ("[assign]\nmax_distance_km = true\n", "[assign] max_distance_km", "true", "a number"),
        ("[assign]\noverlap = 1\n", "[assign] overlap", "1", "text"),
        ('[targets]\nfrom = "revenue"\ngrowth = "ten"\n', "[targets] growth", '"ten"', '"10%"'),
        ('[targets]\nfrom = "revenue"\ngrowth = [1]\n', "[targets] growth", "[1]", "percentage"),
        ('[kpis]\nbalance = ["revenue"]\n', "[kpis] balance", '["revenue"]', "text"),
        ("name = 5\n", "name", "5", "text"),
        ('[tracking]\norders = "o.csv"\nfiscal_year_start = "april"\n',
         "[tracking] fiscal_year_start", '"april"', "a whole number"),
        ('[tracking]\norders = "o.csv"\nahead = "5%"\n', "[tracking] ahead", '"5%"', "a number"),
        ("[outputs]\nmap = false\n", "[outputs] map", "false", "text"),
    ],
)  # fmt: skip
def test_plan_value_of_the_wrong_type_names_key_value_and_type(toml, key, shown, expected):
    base = {"accounts": {"path": "a.csv"}, "territories": {"path": "t.geojson"}}

    data = {**base, **tomllib.loads(toml)}
    with pytest.raises(ValidationError) as err:
        Plan.from_dict(data, source="plan.toml")
    message = str(err.value)
    assert key in message and shown in message and expected in message, message


def test_plan_segments_that_are_not_a_list_are_refused():
    data = {"accounts": {"path": "a.csv"}, "territories": {"path": "t.geojson"},
            "kpis": {"segments": "segment"}}  # fmt: skip
    with pytest.raises(ValidationError, match=r"\[kpis\] segments .*\"segment\" \(text\)"):
        Plan.from_dict(data, source="plan.toml")


def test_plan_type_error_in_the_cli_is_a_message(plan_dir):
    write_plan(plan_dir, body='[assign]\nmax_distance_km = "ten"\n')
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 1 and "[assign] max_distance_km" in result.output
    assert result.exception.__class__ is SystemExit


@pytest.mark.parametrize("growth, value", [("0.1", 0.1), ('"10%"', 0.1), ('"-2.5 %"', -0.025)])
def test_growth_is_a_fraction_or_a_percentage(growth, value):
    data = tomllib.loads(
        f'[accounts]\npath = "a.csv"\n[territories]\npath = "t.geojson"\n'
        f'[targets]\nfrom = "revenue"\ngrowth = {growth}\n'
        f'[tracking]\norders = "o.csv"\ngrowth = {growth}\n'
    )
    plan = Plan.from_dict(data)
    assert plan.targets.rule.growth == pytest.approx(value)
    assert plan.tracking.growth == pytest.approx(value)


# --- JSON and dates -------------------------------------------------------------------------


def test_summary_json_is_strict_json(plan_dir, two_squares):
    two_squares.drop(columns="target").to_file(plan_dir / "territories.geojson")
    result = CliRunner().invoke(cli, ["run", str(plan_dir / "plan.toml")])
    assert result.exit_code == 0, result.output
    summary = strict_json((plan_dir / "out" / "summary.json").read_text())
    assert "target_total" in summary and summary["target_total"] is None  # no targets: null
    strict_json((plan_dir / "out" / "manifest.json").read_text())


def test_ambiguous_as_of_is_refused_before_the_work(no_work):
    plan = DATA / "demo_plan.toml"
    for day in ("01/06/2017", "1.6.2017", "06-01-17"):
        result = CliRunner().invoke(cli, ["track", str(plan), "--as-of", day])
        assert result.exit_code == 1 and "ambiguous" in result.output, result.output
        assert "--dayfirst" in result.output and "YYYY-MM-DD" in result.output


def test_as_of_in_iso_or_with_a_named_order():
    june = pd.Timestamp("2017-06-01")
    assert parse_day("2017-06-01") == june
    assert parse_day("01/06/2017", "dayfirst") == june
    assert parse_day("06/01/2017", "monthfirst") == june
    assert parse_day("1.6.17", "dayfirst") == june
    with pytest.raises(TerritoryError, match="DD/MM/YYYY"):
        parse_day("13/13/2017", "dayfirst")


@pytest.mark.slow
def test_track_with_dayfirst_uses_the_named_order(tmp_path):
    result = CliRunner().invoke(
        cli, ["track", str(DATA / "demo_plan.toml"), "--as-of", "30/06/2017", "--dayfirst",
              "--out", str(tmp_path)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tracking at 2017-06-30" in (tmp_path / "dashboard.html").read_text()
    assert outputs.verify(tmp_path, "tracking-manifest.json").ok


# --- the other commands that write sets ------------------------------------------------------


def test_design_publishes_a_set_and_refuses_to_overwrite_its_current_alignment(
    tmp_path, grid_blocks, grid_alignment
):
    grid_blocks.assign(pop=1.0).to_file(tmp_path / "blocks.gpkg")
    out = tmp_path / "design"
    design = ["design", str(tmp_path / "blocks.gpkg"), "-k", "2", "--balance", "pop"]
    result = CliRunner().invoke(cli, [*design, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = outputs.verify(out, "design-manifest.json")
    assert report.ok and {"alignment.csv", "territories.geojson", "quality.json"} <= set(
        report.sets[0].files
    )
    strict_json((out / "quality.json").read_text())
    grid_alignment.to_csv(out / "alignment.csv", index=False)  # the user edits it, then:
    original = (out / "alignment.csv").read_bytes()
    result = CliRunner().invoke(
        cli,
        ["rebalance", str(tmp_path / "blocks.gpkg"), "--balance", "pop", "--current",
         str(out / "alignment.csv"), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1 and "is the input file" in result.output, result.output
    assert (out / "alignment.csv").read_bytes() == original


def test_kpis_output_is_a_set_and_never_an_input(tmp_path, accounts_csv, squares_geojson):
    target = tmp_path / "k" / "kpis.csv"
    args = ["kpis", str(accounts_csv), str(squares_geojson), "--by", "segment", "-o"]
    result = CliRunner().invoke(cli, [*args, str(target)])
    assert result.exit_code == 0, result.output
    report = outputs.verify(target.parent, "kpis-manifest.json")
    assert report.ok and report.sets[0].files == ["kpis.csv", "kpis-segment.csv"]
    result = CliRunner().invoke(cli, [*args, str(squares_geojson)])
    assert result.exit_code == 1 and "is the input file" in result.output, result.output


def test_a_folder_output_is_replaced_whole_or_not_at_all(tmp_path):
    """A partitioned Parquet output (``assign --engine dask``): a write that fails half-way
    leaves the previous dataset exactly as it was; one that succeeds replaces it whole (no part
    of the previous run left inside), with no temporary entry left beside it."""
    from territory.io import atomic_folder

    target = tmp_path / "assignments.parquet"
    old = pd.DataFrame({"account_id": ["a", "b"], "territory_id": ["T1", "T2"]})
    target.mkdir()
    for k in range(3):
        old.to_parquet(target / f"part.{k}.parquet", index=False)
    before = sorted(p.name for p in target.iterdir())

    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        folder.mkdir()
        old.head(1).to_parquet(folder / "part.0.parquet", index=False)
        raise RuntimeError("worker lost")
    assert sorted(p.name for p in target.iterdir()) == before
    assert len(pd.read_parquet(target)) == 6

    new = pd.DataFrame({"account_id": ["c"], "territory_id": ["T3"]})
    with atomic_folder(target) as folder:
        new.to_parquet(folder, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(target), new)
    assert [p.name for p in tmp_path.iterdir()] == ["assignments.parquet"]


def test_dask_outputs_are_checked_as_the_folder_they_will_be(tmp_path):
    """With the Dask engine the assignments are written as ``assignments.parquet/``: a plan
    reading its accounts from that very folder is refused before any work, and a folder left by
    an earlier Dask run is not mistaken for a file output."""
    out = tmp_path / "out"
    book = out / "assignments.parquet"
    book.mkdir(parents=True)
    pd.DataFrame({"account_id": ["a"], "lat": [40.0], "lon": [-100.0]}).to_parquet(
        book / "part.0.parquet", index=False
    )
    states = str(DATA / "us_states.parquet")
    plan = territory.make_plan(str(book), states)
    plan = plan.with_outputs(dir=str(out))
    with pytest.raises(TerritoryError, match="input"):
        plan.check_outputs(engine="dask")
    plan.check_outputs(engine="local")  # assignments.csv: another file

    other = territory.make_plan(str(tmp_path / "book.csv"), states)
    pd.DataFrame({"account_id": ["a"], "lat": [40.0], "lon": [-100.0]}).to_csv(
        tmp_path / "book.csv", index=False
    )
    other.with_outputs(dir=str(out)).check_outputs(engine="dask")  # the old run's folder is fine


def test_a_ctrl_c_after_the_command_ended_changes_nothing():
    """A Ctrl-C that arrives while Python exits, after the command has finished (its set
    published): the exit is the command's own, silent, not a KeyboardInterrupt (nor, in the
    interpreter's last moments, an end by the signal). The signal is sent from an exit
    handler registered before the command runs, so it always lands after it."""
    script = (
        "import atexit, os, signal, sys, time\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))\n"
        "sys.argv = ['territory', '--version']\n"
        "from territory.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "KeyboardInterrupt" not in done.stderr and "version" in done.stdout


def test_compressed_segment_tables_keep_their_suffix(tmp_path):
    """``segments = "seg.csv.gz"``: one gzip CSV per axis, named ``seg-<axis>.csv.gz``, each
    reading back as the segment KPIs of the run."""
    from territory.cli import demo_plan

    plan = demo_plan().with_outputs(dir=tmp_path, segments="seg.csv.gz", map="", result="")
    plan.check_outputs()
    result = plan.run()
    result.write()
    for axis, table in result.segments.items():
        slug = axis.replace("_", "-")
        back = pd.read_csv(tmp_path / f"seg-{slug}.csv.gz", compression="gzip")
        assert len(back) == len(table) and list(back.columns) == list(table.columns)
    assert not list(tmp_path.glob("*.csv-*"))
