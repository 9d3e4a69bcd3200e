"""A plan: the whole scenario as data (accounts, territories, targets, axes, adjustments, outputs).

Plans are built in Python (:func:`territory.make_plan`, or these dataclasses) or read from TOML
by :mod:`territory.planfile`. Nothing here computes: :meth:`Plan.run` hands the plan to
:func:`territory.runner.run`, which returns a :class:`territory.result.PlanResult`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from territory.adjust import AdjustmentSpec
from territory.assignment import AssignOptions
from territory.currency import currency_code
from territory.errors import ValidationError
from territory.outputs import OutputSet, plan_inputs
from territory.plugins import Plugins
from territory.segments import AxisSpec
from territory.targets import TargetRule
from territory.tracking import TrackingSpec

if TYPE_CHECKING:
    from territory.result import PlanResult
    from territory.territories import TerritoryLayer
    from territory.validate import Accounts


def check_crs(crs, what: str) -> None:
    """Refuse a CRS that pyproj cannot read, before any work (it is used only for inputs that
    have none, so a bad one would otherwise surface late, or never)."""
    if crs is None:
        return
    import pyproj

    try:
        pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        found = re.search(r"proj_create: (.*?)\)?$", str(exc))
        reason = (found.group(1) if found else str(exc)).strip()
        raise ValidationError(
            f"The CRS given for the {what}, {crs!r}, is not a coordinate reference system "
            f"({reason}). Give an EPSG code such as EPSG:4326 (longitude/latitude) or "
            "EPSG:3857, or a WKT or PROJ text."
        ) from None


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

    def __post_init__(self):
        check_crs(self.crs, "accounts")

    def load(self, also_measures: tuple[str, ...] = (), data=None, source=None) -> Accounts:
        """Check the accounts (``data`` overrides the source: a batch or partition of it)."""
        from territory.stages.read import read_accounts

        return read_accounts(self, also_measures, data=data, source=source)


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

    def __post_init__(self):
        check_crs(self.crs, "territories")

    def load(self) -> TerritoryLayer:
        """Read and check the layer (see :func:`territory.stages.read.read_territories`)."""
        from territory.stages.read import read_territories

        return read_territories(self)


@dataclass(frozen=True)
class TargetsSpec:
    """Targets from a table (``territory_id``, ``target``) or a growth rule; see targets."""

    table: Any = None
    rule: TargetRule | None = None


@dataclass(frozen=True)
class OutputsSpec:
    """Files a run writes into ``dir``; an empty name skips that output. ``database``: also
    write the result tables there, after the files (see :mod:`territory.db.target`)."""

    dir: Path = Path("out")
    assignments: str = "assignments.csv"
    kpis: str = "kpis.csv"
    segments: str = "segment-kpis.csv"
    adjustments: str = "adjustments.csv"
    summary: str = "summary.json"
    map: str = "map.html"
    manifest: str = "manifest.json"
    database: Any = None  # a territory.db.target.DatabaseTarget
    result: str = "result"  # the result folder maps and reports are read back from


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
    def from_file(cls, path: str | Path, plugins: Plugins | None = None) -> Plan:
        """Load a plan from a TOML file (see :mod:`territory.planfile` for the format); its
        axes and adjustments are checked against ``plugins`` (default: the installed ones)."""
        from territory.planfile import read_plan_file

        return read_plan_file(path, plugins)

    @classmethod
    def from_dict(cls, data: dict, *, base: Path = Path("."), source: str = "the plan",
                  plugins: Plugins | None = None) -> Plan:  # fmt: skip
        """Build a plan from a dict shaped like the TOML file; paths relative to ``base``."""
        from territory.planfile import plan_from_dict

        return plan_from_dict(data, base=base, source=source, plugins=plugins)

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
        from territory.runner import run

        return run(self, engine, plugins, **options)

    def assign_only(self) -> tuple[Accounts, TerritoryLayer, pd.DataFrame]:
        """Read, check and assign, without computing KPIs: ``(accounts, layer, assignments)``."""
        from territory.stages.assign import assign_plan

        return assign_plan(self)

    def load_and_assign(
        self, layer: TerritoryLayer, data=None, source=None
    ) -> tuple[Accounts, pd.DataFrame]:
        """Check the accounts (or ``data``, a batch or partition of them) and assign them."""
        from territory.stages.assign import read_and_assign

        return read_and_assign(self, layer, data, source)

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

    def check_outputs(self, outputs: OutputsSpec | None = None, engine: str = "local") -> None:
        """Fail before any work if the outputs cannot be written: the folder is a file or not
        writable, an output is a folder, or an output is one of the plan's input files. With
        the Dask engine the assignments are a folder of Parquet files, ``<stem>.parquet``."""
        out = outputs or self.outputs
        names = [out.kpis, out.summary, out.map]
        folders = []
        if engine == "dask" and out.assignments:
            folders.append(Path(out.assignments).stem + ".parquet")
        else:
            names.append(out.assignments)
        if self.adjustments:
            names.append(out.adjustments)
        if out.result:
            from territory.resultdir import INDEX

            names.append(f"{out.result}/{INDEX}")
        self.output_set(out).check([n for n in names if n], folders)
        from territory.io import check_table_output

        tables = {"assignments": out.assignments, "kpis": out.kpis, "segments": out.segments}
        if self.adjustments:
            tables["adjustments"] = out.adjustments
        for key, name in tables.items():
            if name and not (key == "assignments" and engine == "dask"):
                check_table_output(name, f"[outputs] {key} table")

    def with_outputs(self, **changes) -> Plan:
        """A copy of this plan with some output settings changed (e.g. ``dir=...``)."""
        return replace(self, outputs=replace(self.outputs, **changes))
