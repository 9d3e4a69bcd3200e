"""Plan (a whole scenario) and PlanResult (its output).

A plan is built in Python or loaded from TOML::

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

Relative paths are resolved from the plan file's folder. Every value is type-checked when the
plan is loaded; a wrong type names the key, the value and the expected type.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from territory.adjust import AdjustmentSpec, apply_adjustments
from territory.assignment import AssignOptions, assign_accounts
from territory.currency import currency_code
from territory.errors import InputError, ValidationError
from territory.extensions import AdjustmentContext
from territory.kpi import (
    add_extra_kpis,
    balance_measure,
    segment_kpis,
    territory_kpis,
)
from territory.outputs import OutputSet, json_text, plan_inputs
from territory.plugins import Plugins
from territory.segments import AxisSpec
from territory.targets import TargetRule, read_targets, resolve_targets
from territory.territories import TerritoryLayer, load_territories
from territory.tracking import TrackingSpec
from territory.validate import WGS84, Accounts, prepare_accounts


@dataclass(frozen=True)
class AccountsSpec:
    """Where the accounts come from and which columns mean what (None = auto-detect)."""

    source: Any
    id: str | None = None
    lat: str | None = None
    lon: str | None = None
    postal_code: str | None = None
    postal_table: Any = None
    measures: tuple[str, ...] | None = None
    crs: str | None = None

    def load(self, also_measures: tuple[str, ...] = (), data=None, source=None) -> Accounts:
        """Check the accounts (``data`` overrides the source: a batch or partition of it)."""
        return prepare_accounts(
            self.source if data is None else data,
            id=self.id,
            lat=self.lat,
            lon=self.lon,
            postal_code=self.postal_code,
            postal_table=self.postal_table,
            measures=list(self.measures) if self.measures is not None else None,
            also_measures=also_measures,
            crs=self.crs,
            source=source,
        )


@dataclass(frozen=True)
class TerritoriesSpec:
    """A territory polygon layer, or building blocks plus an alignment table."""

    territories: Any = None
    blocks: Any = None
    alignment: Any = None
    territory_id: str | None = None
    block_id: str | None = None
    alignment_block: str | None = None
    alignment_territory: str | None = None
    alignment_parent: str | None = None
    crs: str | None = None
    strict: bool = False

    def load(self) -> TerritoryLayer:
        return load_territories(
            self.territories,
            blocks=self.blocks,
            alignment=self.alignment,
            territory_id=self.territory_id,
            block_id=self.block_id,
            alignment_block=self.alignment_block,
            alignment_territory=self.alignment_territory,
            alignment_parent=self.alignment_parent,
            crs=self.crs,
            strict=self.strict,
        )


@dataclass(frozen=True)
class TargetsSpec:
    """Targets from a table (``territory_id``, ``target``) or a growth rule; see targets."""

    table: Any = None
    rule: TargetRule | None = None


@dataclass(frozen=True)
class OutputsSpec:
    """Files a run writes into ``dir``; an empty name skips that output."""

    dir: Path = Path("out")
    assignments: str = "assignments.csv"
    kpis: str = "kpis.csv"
    segments: str = "segment-kpis.csv"
    adjustments: str = "adjustments.csv"
    summary: str = "summary.json"
    map: str = "map.html"
    manifest: str = "manifest.json"


@dataclass(frozen=True)
class Plan:
    """A whole scenario: accounts, territories, targets and options. ``run()`` computes it."""

    accounts: AccountsSpec
    territories: TerritoriesSpec
    name: str = "Territory plan"
    targets: TargetsSpec = field(default_factory=TargetsSpec)
    assign: AssignOptions = field(default_factory=AssignOptions)
    balance: str | None = None
    segments: tuple[str, ...] = ()
    axes: tuple[AxisSpec, ...] = ()
    adjustments: tuple[AdjustmentSpec, ...] = ()
    outputs: OutputsSpec = field(default_factory=OutputsSpec)
    credits: str | None = None
    source: str | None = None
    base: Path | None = None
    tracking: TrackingSpec | None = None
    currency: str | None = None
    as_of: str | None = None

    def __post_init__(self):
        where = f"currency of {self.source or 'the plan'}"
        object.__setattr__(self, "currency", currency_code(self.currency, where))

    @classmethod
    def from_file(cls, path: str | Path) -> Plan:
        """Load a plan from a TOML file (see the module docstring for the format)."""
        p = Path(path)
        if not p.exists():
            raise InputError(f"Plan file not found: {p}.")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"Plan file {p} is not valid TOML: {exc}. Fix the syntax.") from exc
        return cls.from_dict(data, base=p.parent, source=str(p))

    @classmethod
    def from_dict(cls, data: dict, *, base: Path = Path("."), source: str = "the plan") -> Plan:
        """Build a plan from a dict shaped like the TOML file; paths relative to ``base``."""
        return _PlanReader(data, base, source).plan()

    @property
    def all_axes(self) -> tuple[AxisSpec, ...]:
        """``segments`` columns (as ``column`` axes) followed by the ``[[segments]]`` axes."""
        columns = tuple(AxisSpec("column", c, {"column": c}) for c in self.segments)
        return columns + self.axes

    def run(self, plugins: Plugins | None = None, engine: str = "local", **options) -> PlanResult:
        """Read, check, assign, segment, adjust and measure. Nothing is written; see
        :meth:`PlanResult.write`.

        ``plugins`` defaults to the built-ins plus installed ones. ``engine`` is ``"local"``
        (``batch_rows``, ``progress``) or ``"dask"`` (``scheduler``, ``client``,
        ``partition_rows``); see :mod:`territory.engines`.
        """
        from territory.engines import run_plan

        return run_plan(self, engine, plugins, **options)

    def assign_only(self) -> tuple[Accounts, TerritoryLayer, pd.DataFrame]:
        """Read, check and assign, without computing KPIs: ``(accounts, layer, assignments)``."""
        layer = self.territories.load()
        accounts, assignments = self.load_and_assign(layer)
        return accounts, layer, assignments

    def load_and_assign(
        self, layer: TerritoryLayer, data=None, source=None
    ) -> tuple[Accounts, pd.DataFrame]:
        """Check the accounts (or ``data``, a batch or partition of them) and assign them."""
        rule = self.targets.rule
        accounts = self.accounts.load(
            also_measures=(rule.from_measure,) if rule else (), data=data, source=source
        ).to_crs(layer.crs)
        return accounts, assign_accounts(accounts, layer, self.assign)

    def with_alignment(self, alignment: Any) -> Plan:
        """This plan with another alignment of its building blocks (a path or DataFrame), e.g.
        one exported from the map editor or written by ``territory design``."""
        spec = self.territories
        if spec.blocks is None and spec.alignment is None:
            raise ValidationError(
                f"{self.source or 'This plan'} uses territory polygons, not building blocks with "
                "an alignment, so an alignment cannot be applied to it. Use a plan with "
                "[territories] blocks = ... and alignment = ..."
            )
        return replace(self, territories=replace(spec, alignment=alignment))

    def output_set(self, outputs: OutputsSpec | None = None) -> OutputSet:
        """The :class:`~territory.outputs.OutputSet` the plan's outputs are published as."""
        out = outputs or self.outputs
        return OutputSet(out.dir, out.manifest, command="run", inputs=plan_inputs(self),
                         plan=self.source)  # fmt: skip

    def check_outputs(self, outputs: OutputsSpec | None = None) -> None:
        """Fail before any work if the outputs cannot be written: the folder is a file or not
        writable, an output is a folder, or an output is one of the plan's input files."""
        out = outputs or self.outputs
        names = [out.assignments, out.kpis, out.summary, out.map]
        if self.adjustments:
            names.append(out.adjustments)
        self.output_set(out).check([n for n in names if n])

    def with_outputs(self, **changes) -> Plan:
        """A copy of this plan with some output settings changed (e.g. ``dir=...``)."""
        return replace(self, outputs=replace(self.outputs, **changes))


def agg_balance(plan: Plan, agg) -> str:
    return balance_measure(list(agg.measures), plan.balance)


def measure_aggregates(plan: Plan, layer: TerritoryLayer, agg, plugins: Plugins, rows, accounts):
    """KPI tables from additive sums (any engine): ``(kpis, segments, adjustments)``.

    ``rows`` and ``accounts`` are callables returning the joined account rows (for plugin KPIs
    without ``from_sums``) and the accounts with location (for adjustments); they are called
    only when needed.
    """
    balance = agg_balance(plan, agg)
    ids = pd.Index(layer.territories["territory_id"])
    sums = agg.territory[list(agg.measures)] if agg.measures else pd.DataFrame(index=ids)
    table = read_targets(plan.targets.table) if plan.targets.table is not None else None
    layer_target = layer.territories.set_index("territory_id").get("target")
    targets = resolve_targets(ids, sums, table=table, rule=plan.targets.rule, layer=layer_target)

    adjustments = pd.DataFrame()
    if plan.adjustments:
        context = AdjustmentContext(
            territories=pd.DataFrame(layer.territories.drop(columns="geometry"))
            .assign(target=targets.to_numpy())
            .join(sums, on="territory_id"),
            accounts=accounts(),
            measures=tuple(agg.measures),
        )
        adjustments, multiplier = apply_adjustments(plan.adjustments, plugins, context, plan.base)
        base_targets, targets = targets, targets * multiplier.reindex(ids).fillna(1.0)

    kpis = territory_kpis(agg, layer, targets=targets, balance=balance)
    if plan.adjustments:
        kpis.insert(kpis.columns.get_loc("target"), "target_before_adjustments",
                    base_targets.to_numpy())  # fmt: skip
    kpis = add_extra_kpis(kpis, agg.territory, rows, ["territory_id"], plugins)
    segments = {}
    for axis in agg.cells:
        cells = segment_kpis(agg, axis, layer, balance=balance)
        segments[axis] = add_extra_kpis(cells, agg.cells[axis], rows, ["territory_id", axis],
                                        plugins)  # fmt: skip
    return kpis, segments, adjustments


def accounts_with_location(accounts: Accounts, assignments: pd.DataFrame) -> pd.DataFrame:
    """Account attributes + territory_id + lon/lat (WGS84), for adjustments."""
    lonlat = accounts.to_crs(WGS84)
    out = accounts.frame.copy()
    out["territory_id"] = assignments["territory_id"].to_numpy()
    out["lon"], out["lat"] = lonlat.x, lonlat.y
    return out


@dataclass
class PlanResult:
    """Output of :meth:`Plan.run`.

    Attributes
    ----------
    assignments : DataFrame
        One row per input account: territory_id, method, distance_km, reason, measures and one
        label column per segment axis. A dask DataFrame with the Dask engine.
    kpis : DataFrame
        The common KPI set per territory.
    segments : dict of str -> DataFrame
        The KPI set per territory x segment, one table per segment column.
    summary : dict
        Plan-level figures (counts by method, conserved totals, balance, compactness).
    notes : list of str
        Everything that was repaired or worth knowing (reprojections, blank cells, overlaps).
    labels : DataFrame
        One column per segment axis, one row per account.
    adjustments : DataFrame
        One row per territory and adjustment: multiplier, reason and regional attributes.
    """

    plan: Plan
    accounts: Accounts
    layer: TerritoryLayer
    assignments: pd.DataFrame
    kpis: pd.DataFrame
    segments: dict[str, pd.DataFrame]
    summary: dict
    notes: list[str]
    labels: pd.DataFrame | None = None
    adjustments: pd.DataFrame | None = None
    plugins: Plugins | None = None
    engine: Any = None

    def close(self) -> None:
        """Release the engine's resources (the Dask client and a cluster it started)."""
        if self.engine is not None:
            cluster = getattr(self.engine, "cluster", None)
            self.engine.close()
            if cluster is not None:
                cluster.close()
            self.engine = None

    @property
    def unassigned(self) -> pd.DataFrame:
        """Accounts without a territory, with the reason (computed from Dask if needed)."""
        rows = self.assignments[self.assignments["territory_id"].isna()]
        return rows if isinstance(rows, pd.DataFrame) else rows.compute()

    def to_map(self, **options):
        """Render the sales-by-territory map (see :func:`territory.maps.build_map`)."""
        from territory.maps import build_map

        return build_map(self, **options)

    def write(self, outputs: OutputsSpec | None = None) -> list[Path]:
        """Write the outputs configured in the plan as one set; returns the paths written.

        Everything is rendered first, then published with a manifest (see
        :mod:`territory.outputs`): after an error or an interruption the folder holds the
        whole previous set or the whole new one.
        """
        out = outputs or self.plan.outputs
        jobs: list[tuple[str, Any]] = []
        dask = out.assignments and not isinstance(self.assignments, pd.DataFrame)
        if dask:
            # Dask: the workers write one Parquet file per partition into a folder.
            jobs.append((Path(out.assignments).stem + ".parquet", self.assignments))
        elif out.assignments:
            jobs.append((out.assignments, self.assignments))
        if out.kpis:
            jobs.append((out.kpis, self.kpis))
        if out.segments:
            for seg, table in self.segments.items():
                stem = Path(out.segments)
                jobs.append((f"{stem.stem}-{_slug(seg)}{stem.suffix}", table))
        if out.adjustments and self.adjustments is not None and len(self.adjustments):
            jobs.append((out.adjustments, self.adjustments))
        if out.summary:
            summary = {"plan": self.plan.name, **self.summary, "notes": self.notes}
            jobs.append((out.summary, json_text(summary)))
        if out.map:
            jobs.append((out.map, self.to_map().get_root().render()))
        with self.plan.output_set(out) as files:
            for name, payload in jobs:
                if isinstance(payload, str):
                    files.add_text(name, payload)
                elif isinstance(payload, pd.DataFrame):
                    files.add_table(name, payload)
                else:
                    payload.to_parquet(str(files.path(name)), write_index=False, overwrite=True)
        return files.written


def _toml_type(value: Any) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text",
             list: "a list", dict: "a table"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, default=str) if not isinstance(value, dict) else "a table"


def _iso_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text).lower()).strip("-") or "segment"


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
        if not isinstance(value, str) or not value:
            raise ValidationError(
                f"{what} in {self.source} is {_toml_repr(value)} ({_toml_type(value)}); "
                'expected a file path in quotes, e.g. "accounts.csv".'
            )
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

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
                AxisSpec(axis, name, params)
                for axis, name, params in self.entries("segments", "axis")
            ),
            adjustments=tuple(
                AdjustmentSpec(adj, name, params)
                for adj, name, params in self.entries("adjustments", "adjustment")
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
        acc = self.section(
            "accounts", {f.name for f in fields(AccountsSpec)} - {"source"} | {"path"}
        )
        if "path" not in acc:
            raise ValidationError(f"[accounts] in {self.source} needs a path.")
        acc_text = {
            k: self.text(acc, "accounts", k) for k in ("id", "lat", "lon", "postal_code", "crs")
        }
        measures = self.value(acc, "accounts", "measures", "strings")
        return AccountsSpec(
            source=self.path(acc["path"], "[accounts] path"),
            postal_table=self.path(acc.get("postal_table"), "[accounts] postal_table"),
            measures=tuple(measures) if measures is not None else None,
            **acc_text,
        )

    def territories(self) -> TerritoriesSpec:
        """``[territories]`` or ``[blocks]`` with ``[alignment]``."""
        terr = self.section("territories", {"path", "id", "crs", "strict"})
        blocks = self.section("blocks", {"path", "id", "crs", "strict"})
        align = self.section("alignment", {"path", "block", "territory", "parent"})
        if bool(terr) == bool(blocks):
            raise ValidationError(
                f"{self.source} needs exactly one of [territories] (polygons) or [blocks] "
                "(with [alignment])."
            )
        return TerritoriesSpec(
            territories=self.path(terr.get("path"), "[territories] path"),
            blocks=self.path(blocks.get("path"), "[blocks] path"),
            alignment=self.path(align.get("path"), "[alignment] path"),
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
        tgt = self.section("targets", {"path", "from", "growth"})
        if "path" in tgt and "from" in tgt:
            raise ValidationError(f"[targets] in {self.source}: give either path or from.")
        spec = TargetsSpec(
            table=self.path(tgt.get("path"), "[targets] path"),
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
        outs = self.section("outputs", {f.name for f in fields(OutputsSpec)})
        names = {k: self.text(outs, "outputs", k) for k in outs if k != "dir"}
        return OutputsSpec(**{**names, "dir": self.path(outs.get("dir", "out"), "[outputs] dir")})

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

    def entries(self, section: str, key: str) -> list[tuple[str, str | None, dict]]:
        """``[[segments]]`` / ``[[adjustments]]``: (registered name, output name, parameters).

        Parameters are checked against what the plugin declares when the plan runs.
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
            out.append((entry[key], entry.get("name"), params))
        return out
