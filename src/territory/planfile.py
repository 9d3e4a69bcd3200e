"""Plan files: TOML -> :class:`~territory.plan.Plan`, every value type-checked.

A plan file looks like this::

    name = "FY2017 plan"
    credits = "Data: CRM export 2017-12-31"   # source line shown on the map
    as_of = 2017-12-31                         # date the data describes (map subtitle)

    [accounts]                 # path, id, lat, lon, postal_code, postal_table, measures, crs
    path = "accounts.csv"

    [blocks]                   # or [territories] with path, id, crs, strict (refuse empty
    path = "counties.parquet"  # shapes instead of keeping and reporting them)
    id = "GEOID"

    [alignment]                # path, block, territory, parent
    path = "alignment.csv"

    [targets]                  # path = "targets.csv", or from = "revenue_2016", growth = 0.1
    from = "revenue_2016"
    growth = 0.10              # a fraction, or a percentage in quotes: "10%"

    [assign]                   # max_distance_km, overlap ("smallest" | "first")
    max_distance_km = 10

    [kpis]                     # balance, segments (account columns to break KPIs down by),
    segments = ["segment"]     # currency (ISO 4217 code of the money figures; default none)
    currency = "EUR"

    [outputs]                  # dir, assignments, kpis, segments, summary, map ("" = skip),
    dir = "out"                # manifest (the set's manifest file, default manifest.json)
    database = "postgresql://planner@/sales"  # also write the tables there (or duckdb:///f.duckdb)
    schema = "territory"       # mode = "replace" | "append"; tables = {kpis = "fy27_kpis"}

Relative paths are resolved from the plan file's folder. Every value is type-checked when the
plan is loaded; a wrong type names the key, the value and the expected type. ``[[segments]]``
and ``[[adjustments]]`` entries are checked against what the plugins register and the
parameters they declare, also at load, before any data is read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from territory.adjust import AdjustmentSpec
from territory.assignment import AssignOptions
from territory.currency import currency_code
from territory.errors import InputError, ValidationError
from territory.plan import AccountsSpec, OutputsSpec, Plan, TargetsSpec, TerritoriesSpec
from territory.segments import AxisSpec
from territory.targets import TargetRule
from territory.tracking import TrackingSpec


def read_plan_file(path: str | Path, plugins=None) -> Plan:
    """Load a plan from a TOML file (see the module docstring for the format); axes and
    adjustments are checked against ``plugins`` (default: the built-ins and installed ones)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"Plan file not found: {p}.")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"Plan file {p} is not valid TOML: {exc}. Fix the syntax.") from exc
    return plan_from_dict(data, base=p.parent, source=str(p), plugins=plugins)


def plan_from_dict(data: dict, *, base: Path = Path("."), source: str = "the plan",
                   plugins=None) -> Plan:  # fmt: skip
    """Build a plan from a dict shaped like the TOML file; paths relative to ``base``."""
    plan = _PlanReader(data, base, source).plan()
    if plan.all_axes or plan.adjustments:
        from territory import plugins as plugin_module
        from territory.stages.segment import check_requests

        check_requests(plan, plugins or plugin_module.get_plugins())
    return plan


def _iso_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


def _toml_type(value: Any) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text",
             list: "a list", dict: "a table"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, default=str) if not isinstance(value, dict) else "a table"


class _PlanReader:
    """Reads the TOML dict with strict keys, so a typo is an error and not a silent default."""

    SECTIONS = {
        "name",
        "credits",
        "as_of",
        "accounts",
        "territories",
        "blocks",
        "alignment",
        "targets",
        "assign",
        "kpis",
        "outputs",
        "segments",
        "adjustments",
        "tracking",
    }

    def __init__(self, data: dict, base: Path, source: str):
        self.data, self.base, self.source = data, base, source

    def section(self, name: str, allowed: set[str]) -> dict:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ValidationError(f"[{name}] in {self.source} must be a table of settings.")
        unknown = set(value) - allowed
        if unknown:
            raise ValidationError(
                f"Unknown setting(s) {', '.join(sorted(unknown))} in [{name}] of {self.source}. "
                f"Known settings: {', '.join(sorted(allowed))}."
            )
        return value

    def value(self, table: dict, section: str | None, key: str, kind: str, default=None):
        """``table[key]`` checked against ``kind``: str, number, int, bool, strings or growth.

        A wrong type is a :class:`ValidationError` naming the key, the value and the type.
        """
        if key not in table:
            return default
        value = table[key]
        where = f"[{section}] {key}" if section else key
        ok = {
            "str": isinstance(value, str),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "growth": isinstance(value, (int, float, str)) and not isinstance(value, bool),
        }[kind]
        if ok and kind == "growth" and isinstance(value, str):
            text = value.replace(" ", "")
            ok = bool(re.fullmatch(r"[+-]?\d+(\.\d+)?%", text))
            if ok:
                return float(text[:-1]) / 100
        if ok and kind == "number":
            return float(value)
        if not ok:
            expected = {
                "str": 'text in quotes, e.g. "name"',
                "number": "a number, e.g. 10 or 2.5",
                "int": "a whole number, e.g. 7",
                "bool": "true or false",
                "strings": 'a list of texts, e.g. ["segment"]',
                "growth": 'a fraction or a percentage, e.g. 0.1 or "10%"',
            }[kind]
            raise ValidationError(
                f"{where} in {self.source} is {_toml_repr(value)} ({_toml_type(value)}); "
                f"expected {expected}."
            )
        return value

    def text(self, table: dict, section: str | None, key: str, default=None):
        return self.value(table, section, key, "str", default)

    def path(self, value: Any, what: str):
        if value is None:
            return None
        if isinstance(value, dict):  # a database table or query: { database = ..., table = ... }
            from territory.db.source import from_plan

            return from_plan(value, f"{what} in {self.source}", self.base)
        if not isinstance(value, str) or not value:
            raise ValidationError(
                f"{what} in {self.source} is {_toml_repr(value)} ({_toml_type(value)}); "
                'expected a file path in quotes, e.g. "accounts.csv", or a database source, '
                'e.g. { database = "postgresql://user@host/db", table = "accounts" }.'
            )
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def input(self, table: dict, section: str):
        """A section's input: ``path = "file"`` or ``source = { database = ..., table = ... }``
        (None when it has neither)."""
        if "path" in table and "source" in table:
            raise ValidationError(
                f"[{section}] in {self.source} has both path and source; keep one of them."
            )
        if "source" in table:
            value = table["source"]
            if not isinstance(value, dict):
                raise ValidationError(
                    f"[{section}] source in {self.source} is {_toml_repr(value)}; expected a "
                    'database source, e.g. { database = "postgresql://user@host/db", '
                    f'table = "{section}" }} (a file goes into path = "...").'
                )
            return self.path(value, f"[{section}] source")
        return self.path(table.get("path"), f"[{section}] path")

    def plan(self) -> Plan:
        unknown = set(self.data) - self.SECTIONS
        if unknown:
            raise ValidationError(
                f"Unknown section(s) {', '.join(sorted(unknown))} in {self.source}. "
                f"Known: {', '.join(sorted(self.SECTIONS))}."
            )
        return Plan(
            accounts=self.accounts(),
            territories=self.territories(),
            name=self.text(self.data, None, "name", "Territory plan"),
            targets=self.targets(),
            assign=self.assign(),
            **self.kpis(),
            axes=tuple(
                AxisSpec(axis, name, params, where)
                for axis, name, params, where in self.entries("segments", "axis")
            ),
            adjustments=tuple(
                AdjustmentSpec(adj, name, params, where)
                for adj, name, params, where in self.entries("adjustments", "adjustment")
            ),
            outputs=self.outputs(),
            credits=self.text(self.data, None, "credits"),
            as_of=self.day(self.data, None, "as_of"),
            source=self.source,
            base=self.base,
            tracking=self.tracking(),
        )

    def accounts(self) -> AccountsSpec:
        """``[accounts]``: the path and how to read it."""
        acc = self.section("accounts", {f.name for f in fields(AccountsSpec)} | {"path"})
        if ("path" in acc) == ("source" in acc):
            raise ValidationError(
                f"[accounts] in {self.source} needs a path (a file) or a source (a database "
                'table or query: source = { database = "...", table = "accounts" }), one of them.'
            )
        acc_text = {
            k: self.text(acc, "accounts", k) for k in ("id", "lat", "lon", "postal_code", "crs")
        }
        measures = self.value(acc, "accounts", "measures", "strings")
        return AccountsSpec(
            source=self.input(acc, "accounts"),
            postal_table=self.path(acc.get("postal_table"), "[accounts] postal_table"),
            measures=tuple(measures) if measures is not None else None,
            **acc_text,
        )

    def territories(self) -> TerritoriesSpec:
        """``[territories]`` or ``[blocks]`` with ``[alignment]``."""
        terr = self.section("territories", {"path", "source", "id", "crs", "strict"})
        blocks = self.section("blocks", {"path", "source", "id", "crs", "strict"})
        align = self.section("alignment", {"path", "source", "block", "territory", "parent"})
        if bool(terr) == bool(blocks):
            raise ValidationError(
                f"{self.source} needs exactly one of [territories] (polygons) or [blocks] "
                "(with [alignment])."
            )
        return TerritoriesSpec(
            territories=self.input(terr, "territories"),
            blocks=self.input(blocks, "blocks"),
            alignment=self.input(align, "alignment"),
            territory_id=self.text(terr, "territories", "id"),
            block_id=self.text(blocks, "blocks", "id"),
            alignment_block=self.text(align, "alignment", "block"),
            alignment_territory=self.text(align, "alignment", "territory"),
            alignment_parent=self.text(align, "alignment", "parent"),
            crs=self.text(terr, "territories", "crs") or self.text(blocks, "blocks", "crs"),
            strict=bool(
                self.value(terr, "territories", "strict", "bool", False)
                or self.value(blocks, "blocks", "strict", "bool", False)
            ),
        )

    def targets(self) -> TargetsSpec:
        """``[targets]``: a table, or a growth rule over a measure."""
        tgt = self.section("targets", {"path", "source", "from", "growth"})
        if ("path" in tgt or "source" in tgt) and "from" in tgt:
            raise ValidationError(f"[targets] in {self.source}: give either path or from.")
        spec = TargetsSpec(
            table=self.input(tgt, "targets"),
            rule=TargetRule(
                self.text(tgt, "targets", "from"),
                self.value(tgt, "targets", "growth", "growth", 0.0),
            )
            if "from" in tgt
            else None,
        )
        if "growth" in tgt and "from" not in tgt:
            raise ValidationError(
                f'[targets] growth in {self.source} needs from = "<measure>" (the measure it '
                "grows)."
            )
        return spec

    def assign(self) -> AssignOptions:
        """``[assign]``: the nearest-rule distance and the overlap rule."""
        asg = self.section("assign", {"max_distance_km", "overlap"})
        return AssignOptions(
            max_distance_km=self.value(asg, "assign", "max_distance_km", "number", 10.0),
            overlap=self.text(asg, "assign", "overlap", "smallest"),
        )

    def kpis(self) -> dict:
        """``[kpis]``: the balance measure and the segment columns, as Plan arguments."""
        kp = self.section("kpis", {"balance", "segments", "currency"})
        currency = self.text(kp, "kpis", "currency")
        return {
            "balance": self.text(kp, "kpis", "balance"),
            "segments": tuple(self.value(kp, "kpis", "segments", "strings", [])),
            "currency": currency_code(currency, f"[kpis] currency in {self.source}"),
        }

    def day(self, table: dict, section: str | None, key: str) -> str | None:
        """A date setting: a TOML date (2017-12-31) or ISO text ("2017-12-31"), as ISO text."""
        value = table.get(key)
        if isinstance(value, dt.date):
            return value.isoformat()[:10]
        text = self.text(table, section, key)
        if text is not None and not _iso_day(text.strip()):
            where = f"[{section}] {key}" if section else key
            raise ValidationError(
                f"{where} in {self.source} is {text!r}; expected a date YYYY-MM-DD, e.g. "
                "2017-12-31."
            )
        return None if text is None else text.strip()

    def outputs(self) -> OutputsSpec:
        """``[outputs]``: the folder and file names."""
        database_keys = {"schema", "mode", "tables", "run_id"}
        outs = self.section("outputs", {f.name for f in fields(OutputsSpec)} | database_keys)
        names = {k: self.text(outs, "outputs", k) for k in outs
                 if k not in ("dir", "database", *database_keys)}  # fmt: skip
        return OutputsSpec(**{**names, "dir": self.path(outs.get("dir", "out"), "[outputs] dir"),
                              "database": self.database_output(outs, database_keys)})  # fmt: skip

    def database_output(self, outs: dict, keys: set[str]):
        """``[outputs] database`` with ``schema``, ``mode`` and ``tables``: the tables written
        to a database after the files (None without ``database``)."""
        from territory.db.target import DatabaseTarget

        url = self.text(outs, "outputs", "database")
        if not url:
            given = sorted(keys & set(outs))
            if given:
                raise ValidationError(
                    f"[outputs] {given[0]} in {self.source} needs "
                    'database = "postgresql://..." or "duckdb:///...".'
                )
            return None
        tables = outs.get("tables", {})
        if not isinstance(tables, dict) or not all(isinstance(v, str) for v in tables.values()):
            raise ValidationError(
                f"[outputs] tables in {self.source} must be a table of names, e.g. "
                'tables = {assignments = "fy27_assignments", kpis = "fy27_kpis"}.'
            )
        from territory.db.source import from_folder

        # no password in the plan; a relative DuckDB file is in the plan's folder, like dir
        url = from_folder(url, self.base, f"[outputs] database of {self.source}")
        return DatabaseTarget(url, self.text(outs, "outputs", "schema"),
                              self.text(outs, "outputs", "mode") or "replace", tables,
                              self.text(outs, "outputs", "run_id"),
                              where=f"[outputs] in {self.source}")  # fmt: skip

    def tracking(self) -> TrackingSpec | None:
        """``[tracking]``: order lines, opportunities, periods, target setting, thresholds."""
        allowed = {f.name for f in fields(TrackingSpec)}
        section = self.section("tracking", allowed)
        if not section:
            return None
        if "orders" not in section:
            raise ValidationError(f'[tracking] in {self.source} needs orders = "<file>".')
        kinds = {"fiscal_year_start": "int", "growth": "growth", "ahead": "number",
                 "behind": "number"}  # fmt: skip
        values = {}
        for key, value in section.items():
            if key in ("orders", "opportunities", "weights", "targets"):
                values[key] = self.path(value, f"[tracking] {key}")
            elif key == "as_of" and isinstance(value, dt.date):
                values[key] = value.isoformat()  # a TOML date: 2017-06-30 without quotes
            else:
                values[key] = self.value(section, "tracking", key, kinds.get(key, "str"))
        return TrackingSpec(**values)

    def entries(self, section: str, key: str) -> list[tuple[str, str | None, dict, str]]:
        """``[[segments]]`` / ``[[adjustments]]``: (registered name, output name, parameters,
        where it was given, for messages).

        Names and parameters are checked against what the plugins declare by
        :func:`plan_from_dict` (and again before a run).
        """
        value = self.data.get(section, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ValidationError(
                f"{section} in {self.source} must be written as [[{section}]] tables."
            )
        out = []
        for i, entry in enumerate(value, 1):
            if not isinstance(entry.get(key), str):
                raise ValidationError(
                    f'[[{section}]] number {i} in {self.source} needs {key} = "..." (the '
                    f"registered name; `territory plugins --all` lists them)."
                )
            params = {k: v for k, v in entry.items() if k not in (key, "name")}
            out.append((entry[key], entry.get("name"), params,
                        f"[[{section}]] number {i} of {self.source}"))  # fmt: skip
        return out
