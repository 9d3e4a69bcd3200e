"""Result folders: what a run leaves so maps and reports are made again without running it.

:meth:`PlanResult.write` adds a ``result/`` folder (``[outputs] result``; ``""`` skips it) to
the output set it publishes, listed in the set's manifest like every other output::

    out/
      manifest.json            the set: every file below with size and SHA-256
      assignments.csv ...      the user-facing outputs, as before
      result/
        result.json            format and version, plan settings, summary, notes, file index
        territories.parquet    GeoParquet: territory_id, name, parent, rep ..., CRS
        blocks.parquet         GeoParquet: block_id, territory_id ... (plans made of blocks)
        alignment.parquet      the alignment table as read (plans made of blocks)
        overlaps.parquet       overlapping polygons found in the layer
        accounts.parquet       the checked accounts (every column as read)
        locations.parquet      x, y (in the accounts' CRS) and why an account has none
        assignments.parquet    territory_id, method, distance, reason, measures, labels
        labels.parquet         one column per segment axis
        kpis.parquet           the KPI table per territory
        segments/<n>.parquet   the KPI table per territory x segment (names in result.json)
        adjustments.parquet    the adjustments per territory
        web-shapes.parquet     the simplified shapes the run's map drew (territory.maps.webcache)

Column types survive the round trip: ids stay text (leading zeros kept), categoricals keep
their categories, dates stay dates; ``result.json`` records the types Parquet does not. The
layout is documented in ``docs/result-folder.md``; :data:`VERSION` is its format version.

:func:`load_result` checks the set against its manifest (:func:`territory.outputs.verify`)
and returns a :class:`~territory.result.PlanResult` that maps, tracking, quality and
comparisons accept like a fresh one.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from territory.errors import InputError, TerritoryError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from territory.result import PlanResult

FORMAT = "territory-result"
VERSION = 1
INDEX = "result.json"


# --- writing --------------------------------------------------------------------------------


def result_jobs(result: PlanResult, folder: str, shapes=None) -> list[tuple[str, Any]]:
    """``(name, writer)`` pairs of the result folder ``folder`` of ``result``; each writer
    takes the path to write. With the Dask engine the assignments are a dataset written by the
    workers (a folder of Parquet files, one per partition) and there are no account tables
    (the accounts stay on the workers). ``shapes``: the web shapes its map drew (see
    :mod:`territory.maps.webcache`)."""
    import pandas as pd

    if not folder:
        return []
    tables: dict[str, Any] = {}
    jobs: list[tuple[str, Any]] = []

    def table(key: str, name: str, frame) -> None:
        if frame is None:
            return
        entry = {"file": name, "types": column_types(frame)}
        tables[key] = entry
        jobs.append((f"{folder}/{name}", lambda path: write_frame(frame, path, entry)))

    layer, accounts = result.layer, result.accounts
    table("territories", "territories.parquet", layer.territories)
    table("blocks", "blocks.parquet", layer.blocks)
    if layer.alignment is not None:
        table("alignment", "alignment.parquet", _plain(layer.alignment.frame))
    table("overlaps", "overlaps.parquet", layer.overlaps)
    if accounts is not None:
        table("accounts", "accounts.parquet", accounts.frame)
        where = {"x": accounts.x, "y": accounts.y, "unlocated": accounts.unlocated}
        table("locations", "locations.parquet", pd.DataFrame(where))
    if isinstance(result.assignments, pd.DataFrame):
        table("assignments", "assignments.parquet", result.assignments)
    else:
        tables["assignments"] = _dataset_entry("assignments", result.assignments)
        jobs.append((f"{folder}/assignments", partial(_write_dataset, result.assignments)))
    table("labels", "labels.parquet", result.labels)
    table("kpis", "kpis.parquet", result.kpis)
    table("adjustments", "adjustments.parquet", result.adjustments)
    if shapes:
        table("web shapes", "web-shapes.parquet", _shape_table(shapes))
    segments = []
    for i, (axis, frame) in enumerate(result.segments.items()):
        table(f"segment {i}", f"segments/{i}.parquet", frame)
        segments.append([axis, tables.pop(f"segment {i}")])
    index = _index(result, tables, segments)
    jobs.append((f"{folder}/{INDEX}", lambda path: _write_json(index, path)))
    return jobs


def _dataset_entry(name: str, frame) -> dict:
    """The index entry of a Dask table written as a dataset: its object and text column types.
    Categories are not recorded: they differ between partitions (each keeps its own reasons),
    and each file keeps its own."""
    import pandas as pd

    meta = frame._meta
    types = {k: v for k, v in column_types(meta).items() if v.get("object")}
    for column, dtype in meta.dtypes.items():  # text columns: dask reads them as "string"
        if isinstance(dtype, pd.StringDtype):
            types[str(column)] = {"string": str(dtype)}
    return {"file": name, "types": types, "dataset": True}


def _write_dataset(frame, path: Path) -> None:
    frame.to_parquet(str(path), write_index=False, overwrite=True)


def _index(result: PlanResult, tables: dict, segments: list) -> dict:
    from territory import __version__
    from territory.resultcodec import encode

    layer, accounts = result.layer, result.accounts
    alignment = None
    if layer.alignment is not None:
        alignment = {"source": _source(layer.alignment.source), "roles": layer.alignment.roles}
    return {
        "format": FORMAT,
        "version": VERSION,
        "territory_version": __version__,
        "plan": encode(result.plan),
        "summary": encode(result.summary),
        "notes": list(result.notes),
        "kpi_names": [str(c) for c in result.kpis.columns],
        "layer": {"source": layer.source, "notes": list(layer.notes), "alignment": alignment},
        "accounts": None if accounts is None else {
            "source": _source(accounts.source),
            "crs": accounts.crs.to_json(),
            "measures": list(accounts.measures),
            "notes": list(accounts.notes),
        },
        "tables": tables,
        "segments": segments,
    }  # fmt: skip


def _shape_table(shapes):
    """The web shapes a map drew, one row per shape: the key of its set, the tolerance."""
    import geopandas as gpd
    import numpy as np
    import shapely

    keys = np.concatenate([np.full(len(g), k[0], dtype=object) for k, g in shapes])
    tolerance = np.concatenate([np.full(len(g), k[1]) for k, g in shapes])
    geoms = np.concatenate([g for _, g in shapes])
    grid = shapely.get_precision(geoms)  # WKB does not keep it; later operations depend on it
    return gpd.GeoDataFrame({"key": keys, "simplify_m": tolerance, "precision": grid},
                            geometry=geoms, crs=4326)  # fmt: skip


def _remember_shapes(frame) -> None:
    """Hand the web shapes stored in a result folder to :mod:`territory.maps.webcache`."""
    import shapely

    from territory.maps import webcache

    geoms = frame.geometry.to_numpy().copy()
    for grid, rows in frame.groupby("precision").indices.items():
        if grid > 0:
            geoms[rows] = shapely.set_precision(geoms[rows], grid, mode="pointwise")
    for (k, tol), rows in frame.groupby(["key", "simplify_m"], sort=False).indices.items():
        webcache.remember((str(k), float(tol)), geoms[rows])


def _source(source) -> dict:
    return {"name": str(source.name), "csv": bool(source.csv), "offset": int(source.offset),
            "decimal": source.decimal, "notes": list(source.notes)}  # fmt: skip


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A table without its shapes (an alignment read from a vector layer)."""
    import geopandas as gpd
    import pandas as pd

    if isinstance(frame, gpd.GeoDataFrame):
        return pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return frame


def _write_json(value: dict, path: Path) -> None:
    from territory.outputs import json_text

    Path(path).write_text(json_text(value), encoding="utf-8")


def column_types(frame: pd.DataFrame) -> dict:
    """The column types Parquet does not keep as pandas had them: object columns (read back as
    text otherwise) and the categories of categoricals (including unused ones)."""
    import pandas as pd

    from territory.resultcodec import encode

    out = {}
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories
            out[str(name)] = {"categories": encode(cats.tolist()), "ordered": bool(dtype.ordered),
                              "dtype": str(cats.dtype)}  # fmt: skip
        elif pd.api.types.is_object_dtype(dtype):
            out[str(name)] = {"object": True}
    return out


def write_frame(frame: pd.DataFrame, path: Path, entry: dict | None = None) -> None:
    """Write ``frame`` as (Geo)Parquet. Object columns Parquet cannot hold (values of mixed
    types) are written as text and listed in ``entry["as_text"]``, so reading says so."""
    try:
        frame.to_parquet(path)
        return
    except (TypeError, ValueError):  # pyarrow's errors derive from these
        pass
    import pandas as pd
    import pyarrow as pa

    mixed = []
    for name, column in frame.items():
        if pd.api.types.is_object_dtype(column.dtype):
            try:
                pa.array(column, from_pandas=True)
            except (TypeError, ValueError):
                mixed.append(name)
    if not mixed:
        frame.to_parquet(path)  # raises the original error, naming the column
    texts = {n: frame[n].map(lambda v: v if v is None or _blank(v) else str(v)) for n in mixed}
    frame.assign(**texts).to_parquet(path)
    if entry is not None:
        entry["as_text"] = [str(n) for n in mixed]


def _blank(value) -> bool:
    return isinstance(value, float) and value != value


def read_frame(path: Path, types: dict) -> pd.DataFrame:
    """Read a table :func:`write_frame` wrote, with the types :func:`column_types` recorded."""
    import pandas as pd
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        import geopandas as gpd

        frame = gpd.read_parquet(path)
    else:
        frame = pd.read_parquet(path)
    return _typed(frame, types, str(path))


def read_dataset(path: Path, types: dict):
    """A table written as a dataset (a folder of Parquet files) by the Dask engine: a dask
    DataFrame over its files when dask is installed (nothing is read yet), else pandas."""
    try:
        import dask.dataframe as dd
    except ImportError:
        import pandas as pd

        return _typed(pd.read_parquet(path), types, str(path))
    frame = dd.read_parquet(str(path))
    meta = _typed(frame._meta.copy(), types, str(path))
    return frame.map_partitions(_typed, types, str(path), meta=meta)


def _typed(frame: pd.DataFrame, types: dict, where: str) -> pd.DataFrame:
    """``frame`` with the column types :func:`column_types` recorded."""
    import pandas as pd

    from territory.resultcodec import decode

    for name, kind in types.items():
        column = frame[name]
        if "string" in kind:
            if str(column.dtype) != kind["string"]:
                frame[name] = column.astype(kind["string"])
            continue
        if kind.get("object"):
            if column.dtype != object:
                frame[name] = column.astype(object).where(column.notna(), None)
            continue
        cats = pd.Index(decode(kind["categories"], where), dtype=kind["dtype"])
        dtype = pd.CategoricalDtype(cats, ordered=kind["ordered"])
        if column.dtype != dtype:
            frame[name] = column.astype(object).astype(dtype)
    return frame


# --- finding and checking a folder ----------------------------------------------------------


def is_result_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a result folder (a folder, or its manifest or index)."""
    p = Path(path)
    return p.is_dir() or p.name == INDEX or (p.suffix == ".json" and "manifest" in p.name)


def find_result(path: str | os.PathLike) -> tuple[Path, str, str]:
    """``(folder, manifest name, index name)`` of the result set at ``path``: an output folder,
    its manifest, its ``result/`` folder or ``result.json``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"Result folder not found: {p}. Give the output folder of a run.")
    wanted = None
    if p.is_file() and p.name == INDEX:
        p, wanted = p.parent.parent, f"{p.parent.name}/{INDEX}"
    elif p.is_dir() and (p / INDEX).is_file() and not any(p.glob("*manifest.json")):
        p, wanted = p.parent, f"{p.name}/{INDEX}"
    names = [p.name] if p.is_file() else sorted(q.name for q in p.glob("*manifest.json"))
    folder = p.parent if p.is_file() else p
    found = []
    for name in names:
        manifest = read_manifest(folder / name)
        for entry in listed_files(manifest):
            if entry.endswith(f"/{INDEX}") and wanted in (None, entry):
                found.append((folder, name, entry))
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(str(folder / name) for _, name, _ in found)
        raise InputError(f"{p} holds several result sets ({shown}): give the manifest of one.")
    raise InputError(_not_a_result(p, names))


def listed_files(manifest: dict | None) -> list[str]:
    """The file names a manifest lists (entries of another shape are skipped: the set check
    reports them)."""
    files = (manifest or {}).get("files", [])
    return [e["name"] for e in files if isinstance(e, dict) and isinstance(e.get("name"), str)]


def read_manifest(path: Path) -> dict | None:
    """The output-set manifest at ``path`` (see :mod:`territory.outputs`), or None."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    schema = data.get("schema", "") if isinstance(data, dict) else ""
    return data if str(schema).startswith("territory-outputs/") else None


def _not_a_result(p: Path, manifests: list[str]) -> str:
    if manifests:
        return (
            f"{p} holds outputs of a run ({', '.join(manifests)}) but no result folder (it "
            'was written by an older version of territory, or with [outputs] result = ""). '
            "Run the plan again to write one."
        )
    if any(p.glob(f"*/{INDEX}")) if p.is_dir() else False:
        return (
            f"{p} holds a result folder but no manifest: the run that wrote it did not finish "
            "publishing. Run `territory check-outputs --repair` on it, or run the plan again."
        )
    return (
        f"{p} is not a result folder: it has no manifest listing a result/{INDEX}. Give the "
        "output folder of `territory run` (its [outputs] dir or --out)."
    )


def read_index(path: str | os.PathLike) -> tuple[Path, str, str, dict]:
    """Find the result set at ``path`` and read its index (no table is read, nothing is
    verified): ``(folder, manifest, index name, index)``."""
    folder, manifest, name = find_result(path)
    where = folder / name
    try:
        index = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"{where} is missing: the result set in {folder} is incomplete. Run the plan again."
        ) from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{where} cannot be read as JSON ({exc}). Run the plan again.") from exc
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise InputError(f"{where} is not a territory result index. Run the plan again.")
    version = index.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise InputError(
            f"{where} is result format version {version}, newer than this version of territory "
            f"reads (up to {VERSION}). Upgrade territory, or run the plan again with this one."
        )
    return folder, manifest, name, index


def result_kpi_names(path: str | os.PathLike) -> list[str]:
    """The KPI columns of the result set at ``path`` (from its index; nothing else is read)."""
    folder, _, name, index = read_index(path)
    names = index.get("kpi_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError(
            f"{folder / name} lists no KPI names: the result set was changed after the run. "
            "Run the plan again (or `territory check-outputs` to see the set)."
        )
    return names


def check_set(folder: Path, manifest: str) -> None:
    """The set is whole: every file its manifest lists is there, unchanged."""
    from territory.outputs import verify

    report = verify(folder, manifest)
    problems = [p for s in report.sets for p in s.problems]
    if problems:
        shown = "; ".join(problems[:5]) + (f" and {len(problems) - 5} more" if len(problems) > 5
                                           else "")  # fmt: skip
        raise ValidationError(
            f"The result set {folder / manifest} is not whole: {shown}. Files were changed or "
            "removed after the run; run the plan again (or `territory check-outputs` to see "
            "the set)."
        )


# --- loading --------------------------------------------------------------------------------


def load_result(path: str | os.PathLike, *, verify: bool = True) -> PlanResult:
    """The :class:`~territory.result.PlanResult` a run left in the result folder ``path``.

    ``path`` is the run's output folder (or its manifest, or its ``result/`` folder). The set
    is checked against its manifest first (``verify=False`` skips that); a folder that is not a
    result set, an incomplete or changed set and a newer format are
    :class:`~territory.errors.InputError` / :class:`~territory.errors.ValidationError` naming
    the file and the fix. The plan is rebuilt from its recorded settings (nothing is run or
    read from its inputs); its output folder is ``path``'s folder.
    """
    folder, manifest, name, index = read_index(path)
    if verify:
        check_set(folder, manifest)
    try:
        return _read_result(folder, manifest, name, index)
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        if isinstance(exc, TerritoryError):
            raise
        raise _unreadable(folder, name, exc) from exc


def _unreadable(folder: Path, name: str, exc: Exception) -> InputError:
    return InputError(
        f"The result folder {folder / Path(name).parent} cannot be read: "
        f"{type(exc).__name__}: {exc}. It was not written by this version of territory, "
        "or was changed; run the plan again to write it anew."
    )


def _read_result(folder: Path, manifest: str, name: str, index: dict) -> PlanResult:
    from territory.result import PlanResult
    from territory.resultcodec import decode

    base = folder / Path(name).parent
    where = str(folder / name)
    tables = index["tables"]

    listed = set(listed_files(read_manifest(folder / manifest)))

    def read(entry: dict):
        # a table of the set: a file of the result folder that the manifest lists
        file = entry["file"]
        inside = f"{Path(name).parent.as_posix()}/{file}"
        if not isinstance(file, str) or Path(file).is_absolute() or ".." in Path(file).parts \
                or inside not in listed:  # fmt: skip
            raise InputError(
                f"{where} names a table outside its result set ({file!r}): the set was "
                "changed after the run. Run the plan again."
            )
        if entry.get("dataset"):
            return read_dataset(base / file, entry["types"])
        return read_frame(base / file, entry["types"])

    def table(key: str):
        entry = tables.get(key)
        return None if entry is None else read(entry)

    plan = _plan(folder, index, where)
    segments = {axis: read(e) for axis, e in index["segments"]}
    shapes = table("web shapes")
    if shapes is not None:
        _remember_shapes(shapes)
    notes = list(index["notes"])
    for entry in [*tables.values(), *(e for _, e in index["segments"])]:
        if entry.get("as_text"):
            notes.append(
                f"{entry['file']} of {base}: column(s) {', '.join(entry['as_text'])} held values "
                "of mixed types; the result folder keeps them as text."
            )
    return PlanResult(
        plan=plan,
        accounts=_accounts(index["accounts"], table),
        layer=_layer(index["layer"], table),
        assignments=table("assignments"),
        kpis=table("kpis"),
        segments=segments,
        summary=decode(index["summary"], where),
        notes=notes,
        labels=table("labels"),
        adjustments=table("adjustments"),
        folder=folder,
    )


def result_plan(path: str | os.PathLike):
    """The plan of the result set at ``path``, rebuilt from its settings (no table is read);
    its output folder is the result's folder."""
    folder, manifest, name, index = read_index(path)
    check_set(folder, manifest)
    try:
        return _plan(folder, index, str(folder / name))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _unreadable(folder, name, exc) from exc


def _plan(folder: Path, index: dict, where: str):
    from territory.plan import Plan
    from territory.resultcodec import decode

    plan = decode(index["plan"], where)
    if not isinstance(plan, Plan):
        raise InputError(f"{where} records no plan settings. Run the plan again.")
    return replace(plan, outputs=replace(plan.outputs, dir=folder))


def _accounts(meta: dict | None, table):
    if meta is None:
        return None
    import pyproj

    from territory.io import Source
    from territory.validate import Accounts

    where = table("locations")
    src = meta["source"]
    source = Source(src["name"], src["csv"], src["offset"], decimal=src["decimal"],
                    notes=tuple(src["notes"]))  # fmt: skip
    return Accounts(
        table("accounts"),
        where["x"].to_numpy(),
        where["y"].to_numpy(),
        pyproj.CRS.from_json(meta["crs"]),
        where["unlocated"].to_numpy(dtype=object),
        list(meta["measures"]),
        source,
        list(meta["notes"]),
    )


def _layer(meta: dict, table):
    from territory.io import Source
    from territory.territories import TerritoryLayer
    from territory.validate import AlignmentTable

    alignment = None
    if meta["alignment"] is not None:
        src = meta["alignment"]["source"]
        source = Source(src["name"], src["csv"], src["offset"], decimal=src["decimal"],
                        notes=tuple(src["notes"]))  # fmt: skip
        alignment = AlignmentTable(table("alignment"), source, dict(meta["alignment"]["roles"]))
    return TerritoryLayer(
        territories=table("territories"),
        blocks=table("blocks"),
        source=meta["source"],
        notes=list(meta["notes"]),
        overlaps=table("overlaps"),
        alignment=alignment,
    )


# --- KPI names before a plan runs ----------------------------------------------------------

# the measures found by name when a plan declares none: territory.columns.MEASURES (a test
# checks they agree; territory.columns imports pandas, which a usage error must not wait for)
MEASURE_NAMES = ("revenue", "pipeline", "potential")
_CORE = ["target", "attainment", "share", "deviation", "area_km2", "density", "compactness"]
KPI_CACHE_SCHEMA = "territory-plugin-kpis/1"


def _kpi_names(measures, rule_measure, adjusted: bool, plugin_kpis) -> list[str]:
    measures = list(measures or MEASURE_NAMES)
    if rule_measure is not None and rule_measure not in measures:
        measures.append(rule_measure)
    names = ["territory_id", "name", "parent", "accounts", *measures]
    names += ["target_before_adjustments"] if adjusted else []
    core = [k for k in _CORE if k != "attainment" or "revenue" in measures]  # revenue / target
    return list(dict.fromkeys([*names, *core, *plugin_kpis]))


def plan_kpi_names(plan, plugins=None) -> list[str]:
    """The KPI columns a run of ``plan`` can have, known before any data is read: the common
    KPI set over the declared measures (or the measures found by name), the target-rule
    measure and the KPIs plugins register (``plugins``, default the installed ones)."""
    if plugins is None:
        from territory.plugins import get_plugins

        plugins = get_plugins()
    kpis = list(plugins.kpis)
    if not plugins.load_errors:
        _remember_plugin_kpis(kpis)
    rule = plan.targets.rule
    return _kpi_names(plan.accounts.measures, rule.from_measure if rule else None,
                      bool(plan.adjustments), kpis)  # fmt: skip


def plan_file_kpi_names(path: str | os.PathLike) -> list[str] | None:
    """:func:`plan_kpi_names` of the plan file at ``path`` from its TOML alone, with the plugin
    KPIs remembered from the last time the plugins loaded (under the key of
    :mod:`territory.command_cache`); None when that is not known (load the plan then)."""
    import tomllib

    kpis = _cached_plugin_kpis()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    accounts, targets = data.get("accounts", {}), data.get("targets", {})
    if kpis is None or not isinstance(accounts, dict) or not isinstance(targets, dict):
        return None
    measures, rule = accounts.get("measures"), targets.get("from")
    if measures is not None and not (isinstance(measures, list)
                                     and all(isinstance(m, str) for m in measures)):  # fmt: skip
        return None
    if rule is not None and not isinstance(rule, str):
        return None
    return _kpi_names(measures, rule, bool(data.get("adjustments")), kpis)


def _kpi_cache() -> Path:
    from territory.command_cache import cache_file

    return cache_file().with_name("plugin-kpis.json")


def _cached_plugin_kpis() -> list[str] | None:
    from territory.command_cache import current_key

    try:
        data = json.loads(_kpi_cache().read_text(encoding="utf-8"))
        if data.get("schema") != KPI_CACHE_SCHEMA or data.get("key") != current_key():
            return None
        return [str(name) for name in data["kpis"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _remember_plugin_kpis(kpis: list[str]) -> None:
    from territory.command_cache import current_key, write_quietly

    write_quietly(_kpi_cache(), {"schema": KPI_CACHE_SCHEMA, "key": current_key(), "kpis": kpis})


# --- quality and compare from a result folder -----------------------------------------------


def block_inputs(result: PlanResult) -> dict:
    """What :func:`territory.designer.plan_report` and :func:`territory.designer.compare` need
    from a result of a plan made of building blocks: ``blocks`` (the block layer as checked,
    ``block_id`` and its columns), ``alignment`` (the alignment table, columns named by role),
    ``accounts`` (the located accounts and their measures; for a Dask run, which keeps none,
    read again from the plan's accounts file or table, None if they were a DataFrame) and
    ``block_id``."""
    import geopandas as gpd
    import pandas as pd

    layer = result.layer
    where = f"the result in {result.folder}" if result.folder else "this result"
    if layer.blocks is None or layer.alignment is None:
        raise ValidationError(
            f"{where} is a plan of territory polygons, not of building blocks with an "
            "alignment: quality and compare measure alignments of blocks. Use a plan with "
            "[blocks] and [alignment]."
        )
    blocks = layer.blocks.drop(columns=["territory_id"])
    table, roles = layer.alignment.frame, layer.alignment.roles
    standard = {"block": "block_id", "territory": "territory_id", "name": "name",
                "parent": "parent", "rep": "rep"}  # fmt: skip
    alignment = pd.DataFrame(
        {standard[role]: table[column].to_numpy() for role, column in roles.items() if column}
    )
    checked = result.accounts
    if checked is None and result.plan is not None and result.plan.accounts.source is not None:
        # a Dask run keeps no accounts (they stayed on the workers): read the plan's again
        checked = result.plan.accounts.load()
    accounts = measures = None
    if checked is not None:
        given = checked.to_geodataframe()
        keep = ["account_id", *checked.measures]
        accounts = gpd.GeoDataFrame(given[keep], geometry=given.geometry, crs=given.crs)
        measures = list(checked.measures)
    return {"blocks": blocks, "alignment": alignment, "accounts": accounts,
            "block_id": "block_id", "measures": measures}  # fmt: skip
